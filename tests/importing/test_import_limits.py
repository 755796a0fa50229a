"""Import limits: file size, data lines, and streaming that keeps memory bounded whatever the file's length."""

from __future__ import annotations

import csv
import io
import tracemalloc
from dataclasses import asdict
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

from rightsdb.config import ConfigError, Settings
from rightsdb.errors import InvalidInput
from rightsdb.importing import reader
from rightsdb.importing.limits import ImportLimits
from rightsdb.importing.reader import read_table
from rightsdb.ops.cli import main
from tests.conftest import TINY_CODEBOOK
from tests.importing.test_importer import DATA, HEADER, build_world, counts, run_import

GOOD = "XAA,AAA-01,provided,,,statute,Aliens Act,,,en,Art. {n},,,"


@pytest.fixture
def world(tiny_session, book):
    return build_world(tiny_session, book)


def write_lines(path: Path, lines: list[str], newline: str = "\n") -> Path:
    path.write_bytes(newline.join([HEADER] + lines).encode() + newline.encode())
    return path


def refused(session, codebook, path: Path, **kwargs) -> InvalidInput:
    """Import `path`; return the error it was refused with, after checking that nothing was written."""
    before = counts(session)
    with pytest.raises(InvalidInput) as caught:
        run_import(session, codebook, path, **kwargs)
    session.rollback()
    assert counts(session) == before
    return caught.value


def test_the_limits_are_settings():
    settings = Settings.from_env({"RIGHTSDB_IMPORT_MAX_ROWS": "10", "RIGHTSDB_IMPORT_MAX_BYTES": "2048"})
    assert (settings.IMPORT_MAX_ROWS, settings.IMPORT_MAX_BYTES) == (10, 2048)
    assert ImportLimits.from_config(asdict(settings)) == ImportLimits(max_rows=10, max_bytes=2048)
    assert ImportLimits.from_config(asdict(Settings())) == ImportLimits()
    with pytest.raises(ConfigError, match="RIGHTSDB_IMPORT_MAX_UNCOMPRESSED_BYTES must be at least 1"):
        Settings(IMPORT_MAX_UNCOMPRESSED_BYTES=0).check()


def test_a_file_over_the_size_limit_is_refused_unread(tiny_session, book, world, tmp_path, monkeypatch):
    def never(path):
        raise AssertionError("a file over the size limit was read")

    monkeypatch.setattr(reader, "_csv_records", never)
    monkeypatch.setattr(reader, "workbook_records", never)
    limits = ImportLimits(max_bytes=100)
    error = refused(tiny_session, book, DATA / "submission_good.csv", limits=limits)
    assert str(error).startswith("submission_good.csv is ")
    assert "more than the import limit of 100 bytes (RIGHTSDB_IMPORT_MAX_BYTES); nothing was read" in str(error)
    assert "Split the file by country" in str(error)
    error = refused(tiny_session, book, DATA / "final_good.xlsx", limits=limits)
    assert str(error).startswith("final_good.xlsx is ") and "RIGHTSDB_IMPORT_MAX_BYTES" in str(error)


def test_data_lines_past_the_limit_are_refused_naming_the_line(tiny_session, book, world, tmp_path):
    lines = [GOOD.format(n=n) for n in range(1, 4)] + [""] + [GOOD.format(n=n) for n in range(4, 6)]  # a blank line counts for nothing
    path = write_lines(tmp_path / "five.csv", lines)
    assert run_import(tiny_session, book, path, limits=ImportLimits(max_rows=5), dry_run=True).rows == 5
    error = refused(tiny_session, book, path, limits=ImportLimits(max_rows=4))
    assert str(error).startswith("five.csv has more than 4 data lines, the import limit (RIGHTSDB_IMPORT_MAX_ROWS): line 7 is past it")
    assert error.problems == [("line 7", "past the row limit")]
    workbook = openpyxl.Workbook()
    workbook.active.append(HEADER.split(","))
    for line in lines:
        workbook.active.append(line.split(",") if line else [])
    workbook.save(tmp_path / "five.xlsx")
    assert run_import(tiny_session, book, tmp_path / "five.xlsx", limits=ImportLimits(max_rows=5), dry_run=True).rows == 5
    error = refused(tiny_session, book, tmp_path / "five.xlsx", limits=ImportLimits(max_rows=4))
    assert "five.xlsx has more than 4 data lines" in str(error) and "line 7 is past it" in str(error)


def test_a_long_csv_is_refused_in_bounded_memory(tiny_session, book, world, tmp_path):
    # 300,000 valid lines, past the default limit of 200,000: refused after one streaming pass that
    # keeps no line (the reader used to hold the whole file, its text and every row at once).
    path = tmp_path / "long.csv"
    with path.open("w", encoding="utf-8") as out:
        out.write(HEADER + "\n")
        out.writelines(GOOD.format(n=n) + "\n" for n in range(300_000))
    tracemalloc.start()
    try:
        error = refused(tiny_session, book, path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "long.csv has more than 200,000 data lines" in str(error)
    assert error.problems == [("line 200002", "past the row limit")]
    assert peak < 16 * 1024 * 1024, f"peak {peak:,} bytes"


def test_a_world_sized_round_is_far_within_the_default_limits():
    # 200 countries x 65 indicators x 3 citations (the most bench/generate.py draws), with its excerpts
    # of 220 characters and translations: what real work imports in one round at most.
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(HEADER.split(","))
    excerpt, translation = "Иностранные граждане пользуются правом на труд. " * 5, "Foreign citizens enjoy the right to work. " * 4
    for country in range(200):
        for indicator in range(65):
            for n in range(3):
                writer.writerow(
                    [f"X{country:02d}", f"LAB-{indicator:02d}", "provided", "", "", "statute", "Aliens Act of the country"]
                    + ["https://example.org/laws/aliens-act", "2015-03-01", "ru", f"Art. {n}", "", excerpt[:220], translation]
                )
    rows, size = 200 * 65 * 3, len(buffer.getvalue().encode())
    limits = ImportLimits()
    assert rows * 5 < limits.max_rows and size * 2 < limits.max_bytes


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_streamed_csv_keeps_line_numbers_and_multi_line_cells(tmp_path, newline):
    lines = [GOOD.format(n=1), f'XAA,AAA-02,not_provided,,,statute,Aliens Act,,,en,Art. 2,,"first{newline}second",', "", GOOD.format(n=3)]
    path = tmp_path / "lines.csv"
    path.write_bytes(b"\xef\xbb\xbf" + newline.join([HEADER] + lines).encode() + newline.encode())
    table = read_table(path)
    assert table.columns[0] == "country_iso3"  # the byte-order mark is not part of the first name
    assert [line for line, _cells in table.rows] == [2, 3, 6]
    # Every line break inside a cell is read as the text rule stores it (rightsdb.text): one newline.
    assert table.rows[1][1]["excerpt"] == "first\nsecond"


def test_a_cell_past_the_last_column_is_refused(tmp_path):
    path = tmp_path / "wide.csv"
    path.write_text(HEADER + "\n" + GOOD.format(n=1) + "," * 1100 + "x\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match="wide.csv: line 2 has a cell past column 1,024"):
        read_table(path)


def test_the_cli_applies_the_configured_limits(tiny_app, tiny_session, world, monkeypatch, tmp_path):
    monkeypatch.setenv("RIGHTSDB_DATABASE_URL", tiny_app.config["DATABASE_URL"])
    monkeypatch.setenv("RIGHTSDB_CODEBOOK_PATH", str(TINY_CODEBOOK))
    monkeypatch.setenv("RIGHTSDB_EXPORTS_DIR", str(tmp_path / "exports"))
    monkeypatch.setenv("RIGHTSDB_SECRET_KEY", "test-secret-key-that-is-long-enough-0123456789")
    monkeypatch.setenv("RIGHTSDB_ENV", "testing")
    monkeypatch.setenv("RIGHTSDB_IMPORT_MAX_ROWS", "2")
    before = counts(tiny_session)
    args = ["import", str(DATA / "submission_good.csv"), "--round", "2026", "--as-submission", "--coder", "ana@example.org"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert "submission_good.csv has more than 2 data lines" in result.stderr and "Traceback" not in result.output
    assert counts(tiny_session) == before
    monkeypatch.setenv("RIGHTSDB_IMPORT_MAX_ROWS", "4")
    assert CliRunner().invoke(main, args).exit_code == 0
