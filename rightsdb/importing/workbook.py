"""Read the rows of an Excel (.xlsx) workbook safely: the zip directory is checked first, the sheet is streamed.

A workbook is a zip archive of XML parts, and an untrusted one can be a zip bomb (a small file that
unpacks to gigabytes), an XML bomb (entities that expand a billion times), an external entity that
reads a local file (XXE), or just damaged. So:

- `check_archive` reads only the zip directory and refuses a workbook that unpacks past the limit or
  whose parts are compressed further than any spreadsheet is, before openpyxl opens it. zipfile never
  yields more of a part than the directory declares (it stops there and fails the checksum), so the
  declared sizes bound what is parsed.
- openpyxl parses with defusedxml (a dependency), which refuses entity declarations and external
  references; `workbook_records` refuses to run without it.
- The sheet is read with openpyxl's read-only reader, one row at a time; its declared dimension is
  ignored (it would pad every row to its width, or cut rows off).
- Any failure of openpyxl on the file becomes an InvalidInput naming the file and, where it can be
  found, the sheet: openpyxl reports damaged XML, damaged archives and hostile entities as errors of
  many kinds, all of them the file's fault, never a traceback.
"""

from __future__ import annotations

import posixpath
import warnings
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path

from rightsdb.errors import InvalidInput
from rightsdb.importing.limits import MAX_COLUMNS, SPLIT_HINT, ImportLimits, past_last_column, size_text

#: Excel's last row: a sheet that claims rows past it is not a spreadsheet program's.
XLSX_MAX_ROW = 1_048_576
#: Zip parts smaller than this are not checked for their compression ratio (tiny parts vary widely).
RATIO_FLOOR = 1024 * 1024
MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
RELATIONSHIP_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"

Records = Iterator[tuple[int, list[str]]]


def check_archive(path: Path, limits: ImportLimits) -> None:
    """Refuse a workbook whose zip directory declares more than the limits allow, before any part is unpacked."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise InvalidInput(f"{path.name} is not a readable Excel (.xlsx) workbook ({exc}).", [("file", "not an .xlsx workbook")]) from None
    unpacked = sum(member.file_size for member in members)
    if unpacked > limits.max_uncompressed_bytes:
        message = (
            f"{path.name} unpacks to {size_text(unpacked)}, more than the import limit of {size_text(limits.max_uncompressed_bytes)} "
            f"(RIGHTSDB_IMPORT_MAX_UNCOMPRESSED_BYTES); nothing was read. {SPLIT_HINT}."
        )
        raise InvalidInput(message, [("file", "unpacks past the size limit")])
    for member in members:
        ratio = member.file_size / max(member.compress_size, 1)
        if member.file_size > RATIO_FLOOR and ratio > limits.max_compression_ratio:
            message = (
                f"{path.name}: its part {member.filename} is compressed {ratio:,.0f} to 1, more than the limit of "
                f"{limits.max_compression_ratio:,} to 1 (RIGHTSDB_IMPORT_MAX_COMPRESSION_RATIO); a spreadsheet's data is never that "
                "repetitive, so the file is refused as a possible zip bomb; nothing was read."
            )
            raise InvalidInput(message, [("file", "compressed past the ratio limit")])


@contextmanager
def workbook_records(path: Path, sheet: str | None, limits: ImportLimits) -> Iterator[Records]:
    """Check the archive, open the workbook and yield its first (or named) sheet's rows as (row number, text cells)."""
    import openpyxl  # imported here: only Excel imports need it

    if not openpyxl.DEFUSEDXML:
        raise InvalidInput(
            "Excel import needs defusedxml (a dependency of rightsdb) and OPENPYXL_DEFUSEDXML unset; import a CSV file instead."
        )
    check_archive(path, limits)
    # The file is opened here, not by openpyxl, so that it is closed even when openpyxl fails half-way.
    with path.open("rb") as handle, warnings.catch_warnings():
        # openpyxl warns about styles and extensions it cannot read; they never affect cell values.
        warnings.simplefilter("ignore", UserWarning)
        try:
            workbook = openpyxl.load_workbook(handle, read_only=True, data_only=True)
        except Exception as exc:  # openpyxl's parsers raise many kinds of error on a damaged or hostile file
            raise _unreadable(path, exc) from None
        try:
            if sheet is None:
                worksheet = workbook.worksheets[0]
            elif sheet in workbook.sheetnames:
                worksheet = workbook[sheet]
            else:
                names = ", ".join(workbook.sheetnames)
                raise InvalidInput(f"{path.name} has no sheet named {sheet!r} (sheets: {names}).", [("--sheet", "unknown sheet")])
            worksheet.reset_dimensions()
            records = _records(worksheet, path)
            try:
                yield records
            finally:
                records.close()  # closes openpyxl's reader of the sheet too, when the caller stopped early
        finally:
            workbook.close()


def _records(worksheet, path: Path) -> Records:
    """Yield each row of the sheet as text cells; turn any parsing failure into a message naming the sheet."""
    rows = worksheet.iter_rows(values_only=True)
    number = 0
    try:
        while True:
            try:
                values = next(rows, None)
            except Exception as exc:  # the sheet's XML is parsed as it is read
                raise _unreadable(path, exc, sheet=worksheet.title) from None
            if values is None:
                return
            number += 1
            if number > XLSX_MAX_ROW:
                message = f"{path.name}, sheet {worksheet.title!r}: rows past row {XLSX_MAX_ROW:,}, Excel's last."
                raise InvalidInput(message, [("file", "too many rows")])
            tail = values[MAX_COLUMNS:]
            if tail.count(None) < len(tail):
                raise past_last_column(path, number)
            yield number, [cell_text(v) for v in values[:MAX_COLUMNS]]
    finally:
        rows.close()


def cell_text(value: object) -> str:
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


def _unreadable(path: Path, exc: Exception, *, sheet: str | None = None) -> InvalidInput:
    """Say why openpyxl could not read the workbook, naming the sheet (or the part) at fault when it can be found."""
    from xml.etree.ElementTree import ParseError
    from zlib import error as ZlibError

    from defusedxml import DefusedXmlException

    while isinstance(exc.__cause__, Exception):
        exc = exc.__cause__  # openpyxl wraps its parsers' errors in a ValueError of its own
    where = path.name
    if sheet is not None:
        where = f"{path.name}, sheet {sheet!r},"
    elif (found := _failing_part(path)) is not None:
        part, exc = found
        name = _sheet_of_part(path, part)
        where = f"{path.name}, sheet {name!r} ({part})," if name else f"{path.name}, part {part},"
    detail = str(exc)[:300]
    if isinstance(exc, DefusedXmlException):
        reason = "its XML declares entities or refers to external ones, which a spreadsheet program never writes; refused for safety"
        problem = "XML entities refused"
    elif isinstance(exc, ParseError):
        reason, problem = f"its XML is damaged ({detail})", "damaged XML"
    elif isinstance(exc, (zipfile.BadZipFile, ZlibError, EOFError)):
        reason, problem = f"the zip archive is damaged ({detail})", "damaged archive"
    else:
        reason, problem = f"{type(exc).__name__}: {detail}", "unreadable workbook"
    message = (
        f"{where} cannot be read as an Excel (.xlsx) workbook: {reason}. "
        "Open it in Excel or LibreOffice, save it as .xlsx again and import the new file."
    )
    return InvalidInput(message, [(f"sheet {sheet}" if sheet else "file", problem)])


class _Ignore:
    """An XML parser target that keeps nothing: a part is parsed only to see whether it can be."""

    def close(self) -> None:
        return None


def _failing_part(path: Path) -> tuple[str, Exception] | None:
    """Find the first XML part that does not parse (defused, streamed, keeping nothing), with its error."""
    from defusedxml.ElementTree import DefusedXMLParser

    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                if not info.filename.endswith((".xml", ".rels")):
                    continue
                parser = DefusedXMLParser(target=_Ignore())
                try:
                    with archive.open(info) as part:
                        while chunk := part.read(1 << 16):
                            parser.feed(chunk)
                    parser.close()
                except Exception as exc:  # the error the file is refused for
                    return info.filename, exc
    except (zipfile.BadZipFile, OSError):
        return None
    return None


def _sheet_of_part(path: Path, part: str) -> str | None:
    """Return the name of the sheet stored in `part`, from the workbook and its relationships (None if not a sheet)."""
    from defusedxml.ElementTree import fromstring

    try:
        with zipfile.ZipFile(path) as archive:
            book = fromstring(archive.read("xl/workbook.xml"))
            relationships = fromstring(archive.read("xl/_rels/workbook.xml.rels"))
    except Exception:  # the workbook part itself is what cannot be read
        return None
    targets = {}
    for relationship in relationships:
        target = relationship.get("Target", "")
        targets[relationship.get("Id")] = target[1:] if target.startswith("/") else posixpath.normpath(posixpath.join("xl", target))
    for element in book.iter(f"{{{MAIN_NS}}}sheet"):
        if targets.get(element.get(f"{{{RELATIONSHIP_NS}}}id")) == part:
            return element.get("name")
    return None
