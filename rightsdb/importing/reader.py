"""Read a CSV (UTF-8, with or without BOM) or Excel (.xlsx) table into rows that keep their line numbers.

Line numbers are those a user sees: the header is line 1; in a CSV file a quoted cell spanning several
physical lines (a long excerpt) makes the next row start further down, exactly as an editor shows it;
in a workbook the line is the spreadsheet row number. Every cell is returned as stripped text, so
the caller validates one representation whatever the file format.
"""

from __future__ import annotations

import codecs
import csv
import io
import warnings
import zipfile
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from rightsdb.errors import InvalidInput


@dataclass(frozen=True)
class Table:
    """The header (lower-cased column names) and the non-blank rows, each with its line number."""

    columns: tuple[str, ...]
    rows: list[tuple[int, dict[str, str]]]
    # Lines whose row has more cells than the header has columns.
    overlong: tuple[int, ...] = ()


def read_table(path: str | Path, *, sheet: str | None = None) -> Table:
    """Read a .csv or .xlsx file; raise InvalidInput when it cannot be read as a table."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        if sheet:
            raise InvalidInput("--sheet applies to Excel workbooks only.", [("--sheet", "not an Excel file")])
        return _table(_csv_lines(path))
    if suffix == ".xlsx":
        return _table(_xlsx_lines(path, sheet))
    raise InvalidInput(f"{path.name}: only .csv (UTF-8) and .xlsx files can be imported.", [("file", "unsupported file type")])


def _csv_lines(path: Path) -> list[tuple[int, list[str]]]:
    """Decode strictly as UTF-8 and split into records, each with the line it starts on."""
    data = path.read_bytes()
    offset = 0
    if data.startswith(codecs.BOM_UTF8):
        offset = len(codecs.BOM_UTF8)
    try:
        text = data[offset:].decode("utf-8")
    except UnicodeDecodeError as exc:
        position = offset + exc.start
        line = data.count(b"\n", 0, position) + 1
        message = (
            f"{path.name} is not UTF-8 text: byte 0x{data[position]:02x} on line {line} cannot be decoded. "
            "Save the file as 'CSV UTF-8' (comma-separated) and import it again."
        )
        raise InvalidInput(message, [(f"line {line}", "invalid UTF-8")]) from None
    reader = csv.reader(io.StringIO(text, newline=""))
    lines = []
    start = 1
    try:
        for record in reader:
            lines.append((start, record))
            start = reader.line_num + 1
    except csv.Error as exc:
        raise InvalidInput(f"{path.name}: not a valid CSV file ({exc}) near line {start}.", [(f"line {start}", str(exc))]) from None
    return lines


def _cell_text(value: object) -> str:
    """Render one workbook cell as the text a user typed (dates as YYYY-MM-DD, 3.0 as 3)."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _xlsx_lines(path: Path, sheet: str | None) -> list[tuple[int, list[str]]]:
    """Read the first sheet (or the named one) of a workbook, row number as line number."""
    import openpyxl  # imported here: only Excel imports need it

    try:
        with warnings.catch_warnings():
            # openpyxl warns about styles and extensions it cannot read; they never affect cell values.
            warnings.simplefilter("ignore", UserWarning)
            workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise InvalidInput(f"{path.name} is not a readable Excel (.xlsx) workbook ({exc}).", [("file", "not an .xlsx workbook")]) from None
    try:
        if sheet is None:
            worksheet = workbook.worksheets[0]
        elif sheet in workbook.sheetnames:
            worksheet = workbook[sheet]
        else:
            names = ", ".join(workbook.sheetnames)
            raise InvalidInput(f"{path.name} has no sheet named {sheet!r} (sheets: {names}).", [("--sheet", "unknown sheet")])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            return [
                (number, [_cell_text(v) for v in values]) for number, values in enumerate(worksheet.iter_rows(values_only=True), start=1)
            ]
    finally:
        workbook.close()


def _table(lines: list[tuple[int, list[str]]]) -> Table:
    """Turn raw records into named rows, skipping blank ones and noting rows longer than the header."""
    lines = [(n, [c.strip() for c in cells]) for n, cells in lines]
    lines = [(n, cells) for n, cells in lines if any(cells)]
    if not lines:
        raise InvalidInput("The file is empty: a header line with the column names is needed.", [("line 1", "empty file")])
    header = lines[0][1]
    while header and not header[-1]:
        header.pop()  # trailing empty header cells left by spreadsheet programs
    columns = tuple(name.strip().lower() for name in header)
    rows, overlong = [], []
    for number, cells in lines[1:]:
        extra = cells[len(columns) :]
        if any(extra):
            overlong.append(number)
        padded = cells[: len(columns)] + [""] * (len(columns) - len(cells))
        rows.append((number, dict(zip(columns, padded))))
    return Table(columns=columns, rows=rows, overlong=tuple(overlong))
