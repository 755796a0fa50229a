"""Read a CSV (UTF-8, with or without BOM) or Excel (.xlsx) table into rows that keep their line numbers.

Line numbers are those a user sees: the header is line 1; in a CSV file a quoted cell spanning several
physical lines (a long excerpt) makes the next row start further down, exactly as an editor shows it;
in a workbook the line is the spreadsheet row number. Every cell is returned as stripped text, so
the caller validates one representation whatever the file format.

Files are untrusted, so they are read within `ImportLimits` (rightsdb.importing.limits) and refused
with a message before the work or the memory grows past them: the file's size is checked first; a CSV
file is streamed once to count its lines, keeping nothing, then streamed again into rows; a workbook
is read by rightsdb.importing.workbook (zip directory checked first, sheet streamed) up to the row limit.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from rightsdb.errors import InvalidInput
from rightsdb.importing.limits import MAX_COLUMNS, ImportLimits, past_last_column, too_large, too_many_rows
from rightsdb.importing.workbook import workbook_records
from rightsdb.text import clean_text


@dataclass(frozen=True)
class Table:
    """The header (lower-cased column names) and the non-blank rows, each with its line number."""

    columns: tuple[str, ...]
    rows: list[tuple[int, dict[str, str]]]
    # Lines whose row has more cells than the header has columns.
    overlong: tuple[int, ...] = ()


def read_table(path: str | Path, *, sheet: str | None = None, limits: ImportLimits | None = None) -> Table:
    """Read a .csv or .xlsx file within `limits`; raise InvalidInput when it cannot or may not be read as a table."""
    path = Path(path)
    limits = limits or ImportLimits()
    suffix = path.suffix.lower()
    if suffix == ".csv" and sheet:
        raise InvalidInput("--sheet applies to Excel workbooks only.", [("--sheet", "not an Excel file")])
    if suffix not in (".csv", ".xlsx"):
        raise InvalidInput(f"{path.name}: only .csv (UTF-8) and .xlsx files can be imported.", [("file", "unsupported file type")])
    size = path.stat().st_size
    if size > limits.max_bytes:
        raise too_large(path, size, limits)
    if suffix == ".csv":
        _count_lines(_csv_records(path), path, limits)  # a long file is refused before any of it is kept
        return _table(_csv_records(path), path, limits)
    with workbook_records(path, sheet, limits) as records:
        return _table(records, path, limits)


def _csv_records(path: Path) -> Iterator[tuple[int, list[str]]]:
    """Stream the records of a CSV file, each with the line it starts on; decode strictly as UTF-8."""
    start = 1
    with path.open("rb") as raw:
        # newline="" hands line endings to the csv module, as csv requires (quoted cells keep theirs).
        text = io.TextIOWrapper(raw, encoding="utf-8-sig", errors="strict", newline="")
        reader = csv.reader(text)
        try:
            for record in reader:
                yield start, record
                start = reader.line_num + 1
        except UnicodeDecodeError:
            raise _not_utf8(path) from None
        except csv.Error as exc:
            raise InvalidInput(f"{path.name}: not a valid CSV file ({exc}) near line {start}.", [(f"line {start}", str(exc))]) from None


def _not_utf8(path: Path) -> InvalidInput:
    """Find the first byte that is not UTF-8, line by line (a newline byte never occurs inside a UTF-8 character)."""
    with path.open("rb") as raw:
        for line, data in enumerate(raw, start=1):
            try:
                data.decode("utf-8")
            except UnicodeDecodeError as exc:
                message = (
                    f"{path.name} is not UTF-8 text: byte 0x{data[exc.start]:02x} on line {line} cannot be decoded. "
                    "Save the file as 'CSV UTF-8' (comma-separated) and import it again."
                )
                return InvalidInput(message, [(f"line {line}", "invalid UTF-8")])
    return InvalidInput(f"{path.name} is not UTF-8 text. Save the file as 'CSV UTF-8' (comma-separated) and import it again.")


def _blank(cells: list[str]) -> bool:
    return not "".join(cells).strip()


def _count_lines(records: Iterable[tuple[int, list[str]]], path: Path, limits: ImportLimits) -> None:
    """Refuse the file past the row limit (its header and `max_rows` non-blank lines), keeping nothing."""
    seen = 0
    for number, cells in records:
        if not _blank(cells):
            seen += 1
            if seen > limits.max_rows + 1:
                raise too_many_rows(path, limits, number)


def _table(records: Iterable[tuple[int, list[str]]], path: Path, limits: ImportLimits) -> Table:
    """Turn streamed records into named rows, skipping blank ones, noting rows longer than the header, up to the row limit."""
    columns: tuple[str, ...] | None = None
    rows: list[tuple[int, dict[str, str]]] = []
    overlong: list[int] = []
    for number, raw in records:
        raw = [clean_text(c) for c in raw]  # checked as the database will store it (rightsdb.text)
        if _blank(raw):
            continue
        if len(raw) > MAX_COLUMNS and not _blank(raw[MAX_COLUMNS:]):
            raise past_last_column(path, number)
        cells = [c.strip() for c in raw[:MAX_COLUMNS]]
        if columns is None:
            while cells and not cells[-1]:
                cells.pop()  # trailing empty header cells left by spreadsheet programs
            columns = tuple(name.lower() for name in cells)
            continue
        if len(rows) >= limits.max_rows:
            raise too_many_rows(path, limits, number)
        if any(cells[len(columns) :]):
            overlong.append(number)
        padded = cells[: len(columns)] + [""] * (len(columns) - len(cells))
        rows.append((number, dict(zip(columns, padded))))
    if columns is None:
        raise InvalidInput("The file is empty: a header line with the column names is needed.", [("line 1", "empty file")])
    return Table(columns=columns, rows=rows, overlong=tuple(overlong))
