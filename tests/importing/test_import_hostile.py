"""Hostile and damaged import files: zip bombs, entity expansion, external entities, broken XML and archives.

Every file here is built in the test, small on disk: each is answered with a message naming the file
(and the sheet), nothing is written, and no traceback reaches the user.
"""

from __future__ import annotations

import io
import struct
import tracemalloc
import zipfile
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

from rightsdb.errors import InvalidInput
from rightsdb.importing.limits import ImportLimits
from rightsdb.importing.reader import read_table
from rightsdb.ops.cli import main
from tests.conftest import TINY_CODEBOOK
from tests.importing.test_importer import HEADER, build_world, counts, run_import

SHEET = "xl/worksheets/sheet1.xml"
MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
GOOD_ROW = ["XAA", "AAA-01", "provided", None, None, "statute", "Aliens Act", None, None, "en", "Art. 1"]
LAUGHS = "".join(f'<!ENTITY lol{n} "{f"&lol{n - 1};" * 10}">' for n in range(1, 10))
BILLION_LAUGHS = f'<?xml version="1.0"?><!DOCTYPE worksheet [<!ENTITY lol0 "lol">{LAUGHS}]>'
XXE = '<?xml version="1.0"?><!DOCTYPE worksheet [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'


@pytest.fixture
def world(tiny_session, tiny_app):
    return build_world(tiny_session, tiny_app.extensions["rightsdb.codebook"])


@pytest.fixture
def cli_env(tiny_app, monkeypatch, tmp_path):
    """Point `rightsdb` at the test database and the tiny codebook."""
    monkeypatch.setenv("RIGHTSDB_DATABASE_URL", tiny_app.config["DATABASE_URL"])
    monkeypatch.setenv("RIGHTSDB_CODEBOOK_PATH", str(TINY_CODEBOOK))
    monkeypatch.setenv("RIGHTSDB_EXPORTS_DIR", str(tmp_path / "exports"))
    monkeypatch.setenv("RIGHTSDB_SECRET_KEY", "test-secret-key-that-is-long-enough-0123456789")
    monkeypatch.setenv("RIGHTSDB_ENV", "testing")
    return CliRunner()


def workbook(rows: list[list] | None = None) -> bytes:
    """A valid workbook: the import header and `rows` (one good row by default)."""
    book = openpyxl.Workbook()
    book.active.append(HEADER.split(","))
    for row in [GOOD_ROW] if rows is None else rows:
        book.active.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def with_part(path: Path, part: str, content: bytes, *, base: bytes | None = None) -> Path:
    """Write a copy of a valid workbook whose `part` is replaced by `content`."""
    with zipfile.ZipFile(io.BytesIO(base or workbook())) as source, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            target.writestr(info.filename, content if info.filename == part else source.read(info.filename))
    return path


def sheet_xml(rows: str, prolog: str = "") -> bytes:
    return f'{prolog}<worksheet xmlns="{MAIN_NS}"><sheetData>{rows}</sheetData></worksheet>'.encode()


def text_cell(ref: str, text: str) -> str:
    return f'<c r="{ref}" t="inlineStr"><is><t>{text}</t></is></c>'


def header_row() -> str:
    return '<row r="1">' + "".join(text_cell(f"{chr(65 + n)}1", name) for n, name in enumerate(HEADER.split(",")[:3])) + "</row>"


def refused(session, codebook, path: Path) -> str:
    """Import `path`; return the message it was refused with, after checking that nothing was written."""
    before = counts(session)
    with pytest.raises(InvalidInput) as caught:
        run_import(session, codebook, path)
    session.rollback()
    assert counts(session) == before
    return str(caught.value)


def test_openpyxl_parses_with_defusedxml():
    assert openpyxl.DEFUSEDXML is True


def test_billion_laughs_in_a_sheet_is_refused_naming_the_sheet(tiny_session, book, world, tmp_path):
    rows = header_row() + f'<row r="2">{text_cell("A2", "&lol9;")}</row>'
    path = with_part(tmp_path / "laughs.xlsx", SHEET, sheet_xml(rows, BILLION_LAUGHS))
    tracemalloc.start()
    try:
        message = refused(tiny_session, book, path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert message.startswith("laughs.xlsx, sheet 'Sheet' (xl/worksheets/sheet1.xml), cannot be read as an Excel (.xlsx) workbook")
    assert "refused for safety" in message
    assert peak < 20 * 1024 * 1024  # 10^9 "lol"s were never expanded


def test_external_entity_in_a_sheet_is_refused_and_reads_nothing(tiny_session, book, world, tmp_path):
    rows = header_row() + f'<row r="2">{text_cell("A2", "&xxe;")}</row>'
    path = with_part(tmp_path / "xxe.xlsx", SHEET, sheet_xml(rows, XXE))
    message = refused(tiny_session, book, path)
    assert message.startswith("xxe.xlsx, sheet 'Sheet' (xl/worksheets/sheet1.xml), cannot be read") and "refused for safety" in message
    assert "root:" not in message


def test_external_entity_in_the_workbook_part_is_refused_when_opening(tiny_session, book, world, tmp_path):
    with zipfile.ZipFile(io.BytesIO(workbook())) as source:
        part = source.read("xl/workbook.xml").decode()
    assert part.startswith("<workbook")  # no XML declaration to put the DTD after
    path = with_part(tmp_path / "book.xlsx", "xl/workbook.xml", (XXE.replace("worksheet", "workbook") + part).encode())
    message = refused(tiny_session, book, path)
    assert (
        message.startswith("book.xlsx, part xl/workbook.xml, cannot be read as an Excel (.xlsx) workbook")
        and "refused for safety" in message
    )
    assert "root:" not in message


@pytest.mark.parametrize("dimension", ["", '<dimension ref="A1:C2"/>'])
def test_truncated_sheet_xml_is_a_message(tiny_session, book, world, tmp_path, dimension):
    # Without a dimension openpyxl parses the whole sheet as it opens the workbook; with one (as Excel
    # writes), the damage is met while the rows are read.
    rows = header_row() + f'<row r="2">{text_cell("A2", "XAA")}</row>'
    whole = f'<worksheet xmlns="{MAIN_NS}">{dimension}<sheetData>{rows}</sheetData></worksheet>'.encode()
    path = with_part(tmp_path / "cut.xlsx", SHEET, whole[: len(whole) - 40])
    message = refused(tiny_session, book, path)
    assert message.startswith("cut.xlsx, sheet 'Sheet'") and "cannot be read" in message and "its XML is damaged" in message


@pytest.mark.parametrize(
    ("cell", "reason"), [('<c r="A2" t="n"><v>not a number</v></c>', "ValueError"), ('<c r="A2" t="s"><v>99</v></c>', "IndexError")]
)
def test_damaged_cells_are_a_message(tiny_session, book, world, tmp_path, cell, reason):
    path = with_part(tmp_path / "cells.xlsx", SHEET, sheet_xml(header_row() + f'<row r="2">{cell}</row>'))
    message = refused(tiny_session, book, path)
    assert message.startswith("cells.xlsx, sheet 'Sheet', cannot be read") and reason in message


def test_files_that_are_not_whole_zip_archives_are_a_message(tiny_session, book, world, tmp_path):
    fake = tmp_path / "fake.xlsx"
    fake.write_text(HEADER + "\nXAA,AAA-01,provided\n", encoding="utf-8")  # a CSV file renamed
    assert "fake.xlsx is not a readable Excel (.xlsx) workbook" in refused(tiny_session, book, fake)
    half = tmp_path / "half.xlsx"
    half.write_bytes(workbook()[:3000])
    assert "half.xlsx is not a readable Excel (.xlsx) workbook" in refused(tiny_session, book, half)
    corrupt = bytearray(workbook())
    offset = zipfile.ZipFile(io.BytesIO(bytes(corrupt))).getinfo(SHEET).header_offset
    corrupt[offset + 60 : offset + 200] = b"\x00" * 140  # the sheet's deflated data, damaged in place
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(bytes(corrupt))
    assert "broken.xlsx" in (message := refused(tiny_session, book, broken)) and "cannot be read" in message


def test_zip_bomb_is_refused_from_the_directory_before_openpyxl_opens_it(tiny_session, book, world, tmp_path, monkeypatch):
    # 64 MB of one repeated row deflates to about 60 KB: built in a fraction of a second.
    row = ('<row r="2">' + text_cell("A2", "XAA") + text_cell("B2", "AAA-01") + text_cell("C2", "provided") + "</row>").encode()
    bomb = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(io.BytesIO(workbook())) as source, zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            if info.filename != SHEET:
                target.writestr(info.filename, source.read(info.filename))
                continue
            with target.open(SHEET, "w") as sheet:
                sheet.write(f'<worksheet xmlns="{MAIN_NS}"><sheetData>'.encode())
                chunk = row * (1024 * 1024 // len(row))
                for _ in range(64):
                    sheet.write(chunk)
                sheet.write(b"</sheetData></worksheet>")
    assert bomb.stat().st_size < 1024 * 1024

    def never(*args, **kwargs):
        raise AssertionError("openpyxl opened a workbook the zip directory already refuses")

    monkeypatch.setattr(openpyxl, "load_workbook", never)
    message = refused(tiny_session, book, bomb)
    assert "its part xl/worksheets/sheet1.xml is compressed" in message and "possible zip bomb" in message
    # With the ratio allowed, the total it unpacks to is still limited.
    with pytest.raises(InvalidInput, match=r"bomb.xlsx unpacks to 64.0 MB, more than the import limit of 32.0 MB"):
        read_table(bomb, limits=ImportLimits(max_compression_ratio=10_000, max_uncompressed_bytes=32 * 1024 * 1024))


def _understate(path: Path, part: str, declared: int) -> None:
    """Make the zip headers of `part` declare `declared` bytes unpacked, as a lying zip would."""
    data = bytearray(path.read_bytes())
    info = zipfile.ZipFile(io.BytesIO(bytes(data))).getinfo(part)
    struct.pack_into("<I", data, info.header_offset + 22, declared)  # local header: uncompressed size
    entry = data.find(b"PK\x01\x02")
    while entry != -1:
        name_length = struct.unpack_from("<H", data, entry + 28)[0]
        if bytes(data[entry + 46 : entry + 46 + name_length]) == part.encode():
            struct.pack_into("<I", data, entry + 24, declared)  # central directory: uncompressed size
            break
        entry = data.find(b"PK\x01\x02", entry + 4)
    path.write_bytes(bytes(data))


def test_a_zip_directory_that_understates_a_part_never_yields_more(tiny_session, book, world, tmp_path):
    rows = header_row() + "".join(f'<row r="{n}">{text_cell(f"A{n}", "XAA")}</row>' for n in range(2, 60_000))
    path = with_part(tmp_path / "liar.xlsx", SHEET, sheet_xml(rows))
    _understate(path, SHEET, 1000)
    assert zipfile.ZipFile(path).getinfo(SHEET).file_size == 1000
    message = refused(tiny_session, book, path)
    assert message.startswith("liar.xlsx, sheet 'Sheet' (xl/worksheets/sheet1.xml), cannot be read") and "damaged" in message


def test_cells_far_to_the_right_are_refused_or_ignored_when_empty(tiny_session, book, world, tmp_path):
    far = with_part(tmp_path / "far.xlsx", SHEET, sheet_xml(header_row() + f'<row r="2">{text_cell("XFD2", "hidden")}</row>'))
    assert "far.xlsx: line 2 has a cell past column 1,024" in refused(tiny_session, book, far)
    # An empty styled cell at Excel's last column pads the row but holds nothing: the row is read as blank.
    styled = with_part(tmp_path / "styled.xlsx", SHEET, sheet_xml(header_row() + '<row r="2"><c r="XFD2" s="0"/></row>'))
    table = read_table(styled)
    assert table.columns == ("country_iso3", "indicator_id", "answer") and table.rows == []


def test_a_wrong_dimension_neither_pads_nor_cuts_the_rows(tmp_path):
    rows = header_row() + "".join(f'<row r="{n}">{text_cell(f"A{n}", "XAA")}</row>' for n in range(2, 6))
    prolog_free = f'<worksheet xmlns="{MAIN_NS}"><dimension ref="A1:XFD2"/><sheetData>{rows}</sheetData></worksheet>'
    table = read_table(with_part(tmp_path / "dim.xlsx", SHEET, prolog_free.encode()))
    assert [line for line, _cells in table.rows] == [2, 3, 4, 5]


def test_rows_past_excels_last_row_are_refused(tiny_session, book, world, tmp_path):
    path = with_part(tmp_path / "deep.xlsx", SHEET, sheet_xml(header_row() + f'<row r="1048577">{text_cell("A1048577", "XAA")}</row>'))
    assert "deep.xlsx, sheet 'Sheet': rows past row 1,048,576" in refused(tiny_session, book, path)


def test_cli_answers_a_hostile_workbook_with_a_message(cli_env, tiny_session, world, tmp_path):
    rows = header_row() + f'<row r="2">{text_cell("A2", "&xxe;")}</row>'
    path = with_part(tmp_path / "xxe.xlsx", SHEET, sheet_xml(rows, XXE))
    before = counts(tiny_session)
    result = cli_env.invoke(main, ["import", str(path), "--round", "2026", "--as-submission", "--coder", "ana@example.org"])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert "xxe.xlsx, sheet 'Sheet' (xl/worksheets/sheet1.xml), cannot be read" in result.stderr and "refused for safety" in result.stderr
    assert "Traceback" not in result.output and "root:" not in result.output
    assert counts(tiny_session) == before
