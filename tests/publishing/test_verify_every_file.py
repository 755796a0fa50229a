"""`rightsdb release verify` checks every file of a release, and names each one that is wrong (issue 15).

Every file of a built release has one byte flipped in turn: the domain function and the command line
must both fail and name exactly that file. Files missing or not listed are named too. A release of
format 1 (tests/golden/release-format-1: the 18 files the code before release formats, commit 543ebd4,
wrote for the golden data set under CSV rule 0; its README.md and citations.csv are tests/golden/rule-0's)
cannot be rebuilt by this code: it is checked for integrity only, says so, and still names a flipped byte.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner

from rightsdb.errors import InvalidInput
from rightsdb.ops.cli import main
from rightsdb.publishing.files import read_sums, sha256_file
from rightsdb.publishing.formats import RELEASE_FORMAT
from rightsdb.publishing.publish import publish_release
from rightsdb.publishing.verify import INTEGRITY_ONLY, MISSING, UNLISTED, split_report, verify_release
from tests.conftest import GOLDEN, TINY_CODEBOOK
from tests.factories.releases import make_golden_data

DAY = date(2026, 3, 1)
VERSION = "1.0.0"
FORMAT_1 = GOLDEN / "release-format-1"


@pytest.fixture
def release(tiny_session, book, exports_dir):
    """The golden data set published as release 1.0.0 (of the current format)."""
    make_golden_data(tiny_session, book)
    tiny_session.commit()
    published = publish_release(
        session=tiny_session, codebook=book, exports_dir=exports_dir, version=VERSION, title="Golden", release_date=DAY, synthetic=True
    )
    tiny_session.commit()
    return published


@pytest.fixture
def cli(tiny_app, exports_dir, monkeypatch):
    """Run `rightsdb release verify 1.0.0` against the test's database and exports folder."""
    for name, value in {
        "DATABASE_URL": tiny_app.config["DATABASE_URL"],
        "EXPORTS_DIR": str(exports_dir),
        "CODEBOOK_PATH": str(TINY_CODEBOOK),
        "ENV": "testing",
        "SECRET_KEY": tiny_app.config["SECRET_KEY"],
    }.items():
        monkeypatch.setenv(f"RIGHTSDB_{name}", value)
    return lambda: CliRunner().invoke(main, ["release", "verify", VERSION])


def _verify(session, book, exports_dir, release) -> list[str]:
    return verify_release(session=session, codebook=book, exports_dir=exports_dir, release=release)


def _every_file(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def _flip(path: Path) -> bytes:
    """Flip every bit of the middle byte of a file; return the original bytes."""
    data = path.read_bytes()
    middle = len(data) // 2
    path.write_bytes(data[:middle] + bytes([data[middle] ^ 0xFF]) + data[middle + 1 :])
    return data


def _sign(session, release, folder: Path) -> None:
    """Record the folder's SHA256SUMS as the release's, as publication does."""
    release.sha256 = hashlib.sha256((folder / "SHA256SUMS").read_bytes()).hexdigest()
    session.add(release)
    session.commit()


def _assert_each_flipped_byte_is_named(tiny_session, book, exports_dir, release, cli, *, note: bool) -> None:
    folder = exports_dir / VERSION
    names = _every_file(folder)
    assert set(names) == set(read_sums(folder / "SHA256SUMS")) | {"SHA256SUMS"}
    for name in names:
        original = _flip(folder / name)
        try:
            found_note, problems = split_report(_verify(tiny_session, book, exports_dir, release))
            assert problems == [name], name
            if name != "datapackage.json":  # a flipped datapackage.json may no longer say which format it is
                assert (found_note is not None) is note, name
            result = cli()
            assert result.exit_code == 1, (name, result.output)
            assert f"checksum differs: {name}" in result.stderr, (name, result.stderr)
            assert result.stderr.count("checksum differs:") == 1, (name, result.stderr)
            assert "1 problem above" in result.stderr
        finally:
            (folder / name).write_bytes(original)
    assert split_report(_verify(tiny_session, book, exports_dir, release))[1] == []


# ---- a release of the current format ----------------------------------------------------------------


def test_a_flipped_byte_in_any_file_of_a_release_is_named_by_verify_and_the_command(release, tiny_session, book, exports_dir, cli):
    folder = exports_dir / VERSION
    assert "data/release.xlsx" in read_sums(folder / "SHA256SUMS")
    assert _verify(tiny_session, book, exports_dir, release) == []
    verified = cli()
    assert verified.exit_code == 0 and f"Release {VERSION} verified." in verified.output
    assert INTEGRITY_ONLY not in verified.output
    _assert_each_flipped_byte_is_named(tiny_session, book, exports_dir, release, cli, note=False)


def test_the_workbook_is_listed_in_datapackage_json_and_verified(release, tiny_session, book, exports_dir):
    folder = exports_dir / VERSION
    package = json.loads((folder / "datapackage.json").read_text(encoding="utf-8"))
    files = package["rightsdb"]["files"]
    assert files["data/release.xlsx"]["sha256"] == sha256_file(folder / "data" / "release.xlsx")
    # Every file written before datapackage.json itself is listed there, with its size.
    assert set(files) == set(read_sums(folder / "SHA256SUMS")) - {"datapackage.json", "CITATION.cff", "README.md"}
    assert package["rightsdb"]["format"] == RELEASE_FORMAT == 2


def test_a_hand_edited_workbook_fails_verify(release, tiny_session, book, exports_dir):
    """The issue's case: provided -> not_provided in release.xlsx, saved again as a valid workbook."""
    import openpyxl

    path = exports_dir / VERSION / "data" / "release.xlsx"
    workbook = openpyxl.load_workbook(path)
    sheet = workbook["long"]
    cell = next(c for row in sheet.iter_rows() for c in row if c.value == "provided")
    cell.value = "not_provided"
    workbook.save(path)
    assert _verify(tiny_session, book, exports_dir, release) == ["data/release.xlsx"]


def test_a_missing_file_and_a_file_not_listed_are_named(release, tiny_session, book, exports_dir, cli):
    folder = exports_dir / VERSION
    stata = (folder / "data" / "long.dta").read_bytes()
    (folder / "data" / "long.dta").unlink()
    assert _verify(tiny_session, book, exports_dir, release) == [MISSING + "data/long.dta"]
    result = cli()
    assert result.exit_code == 1 and "missing: data/long.dta" in result.stderr
    (folder / "data" / "long.dta").write_bytes(stata)
    (folder / "data" / "notes.txt").write_text("added by hand\n", encoding="utf-8")
    (folder / "extra").mkdir()
    (folder / "extra" / "long.csv").write_bytes((folder / "data" / "long.csv").read_bytes())
    assert _verify(tiny_session, book, exports_dir, release) == [UNLISTED + "data/notes.txt", UNLISTED + "extra/long.csv"]
    result = cli()
    assert result.exit_code == 1 and "not listed in SHA256SUMS: data/notes.txt" in result.stderr
    assert "2 problems above" in result.stderr


def test_a_file_listed_in_a_rewritten_sha256sums_is_still_compared_with_the_rebuild(release, tiny_session, book, exports_dir):
    """Someone edits a file and writes its new checksum into SHA256SUMS: both are named."""
    folder = exports_dir / VERSION
    path = folder / "data" / "scores.csv"
    path.write_bytes(path.read_bytes().replace(b"0.75", b"0.95"))
    sums = folder / "SHA256SUMS"
    sums.write_text(re.sub(r"^\w+  data/scores.csv$", f"{sha256_file(path)}  data/scores.csv", sums.read_text(), flags=re.M))
    assert _verify(tiny_session, book, exports_dir, release) == ["SHA256SUMS", "data/scores.csv"]


def test_a_release_of_a_format_this_code_does_not_know_is_refused_clearly(release, tiny_session, book, exports_dir, cli):
    folder = exports_dir / VERSION
    path = folder / "datapackage.json"
    path.write_text(path.read_text(encoding="utf-8").replace(f'"format": {RELEASE_FORMAT},', '"format": 9,'), encoding="utf-8")
    sums = folder / "SHA256SUMS"
    sums.write_text(re.sub(r"^\w+  datapackage.json$", f"{sha256_file(path)}  datapackage.json", sums.read_text(), flags=re.M))
    _sign(tiny_session, release, folder)
    with pytest.raises(InvalidInput, match="release format 9; this version of rightsdb knows formats 1, 2"):
        _verify(tiny_session, book, exports_dir, release)
    result = cli()
    assert result.exit_code == 1 and "knows formats 1, 2" in result.stderr
    assert path.read_text(encoding="utf-8").count('"format": 9') == 1  # nothing was changed


def test_an_unknown_format_in_a_damaged_datapackage_json_is_reported_as_damage(release, tiny_session, book, exports_dir):
    path = exports_dir / VERSION / "datapackage.json"
    path.write_text(path.read_text(encoding="utf-8").replace(f'"format": {RELEASE_FORMAT},', '"format": "2",'), encoding="utf-8")
    assert _verify(tiny_session, book, exports_dir, release) == ["datapackage.json"]


# ---- a release of format 1 --------------------------------------------------------------------------


@pytest.fixture
def old_release(release, tiny_session, exports_dir):
    """Release 1.0.0 as the code before release formats published it (tests/golden/release-format-1)."""
    folder = exports_dir / VERSION
    shutil.rmtree(folder)
    shutil.copytree(FORMAT_1, folder)
    _sign(tiny_session, release, folder)
    return release


def test_the_format_1_golden_release_is_the_rule_0_golden_release():
    assert (FORMAT_1 / "README.md").read_bytes() == (GOLDEN / "rule-0" / "README.md").read_bytes()
    assert (FORMAT_1 / "data" / "citations.csv").read_bytes() == (GOLDEN / "rule-0" / "citations.csv").read_bytes()
    package = json.loads((FORMAT_1 / "datapackage.json").read_text(encoding="utf-8"))["rightsdb"]
    assert "format" not in package and "csv_rule" not in package


def test_a_format_1_release_is_checked_for_integrity_and_says_so(old_release, tiny_session, book, exports_dir, cli):
    report = _verify(tiny_session, book, exports_dir, old_release)
    note, problems = split_report(report)
    assert problems == [] and note == report[0]
    assert note.startswith(INTEGRITY_ONLY) and "release format 1" in note and "cannot rebuild" in note
    result = cli()
    assert result.exit_code == 0, result.output
    assert result.stdout.count(INTEGRITY_ONLY) == 1 and f"Release {VERSION} verified." in result.stdout


def test_a_flipped_byte_in_any_file_of_a_format_1_release_is_named(old_release, tiny_session, book, exports_dir, cli):
    _assert_each_flipped_byte_is_named(tiny_session, book, exports_dir, old_release, cli, note=True)


def test_a_format_1_release_names_missing_and_unlisted_files(old_release, tiny_session, book, exports_dir):
    folder = exports_dir / VERSION
    (folder / "data" / "release.xlsx").unlink()
    (folder / "data" / "changes.csv").write_text("added\n", encoding="utf-8")
    assert split_report(_verify(tiny_session, book, exports_dir, old_release))[1] == [
        UNLISTED + "data/changes.csv",
        MISSING + "data/release.xlsx",
    ]


def test_a_format_1_release_whose_sha256sums_was_rewritten_names_it(old_release, tiny_session, book, exports_dir):
    folder = exports_dir / VERSION
    path = folder / "data" / "long.csv"
    path.write_bytes(path.read_bytes().replace(b"provided", b"not_provided", 1))
    sums = folder / "SHA256SUMS"
    sums.write_text(re.sub(r"^\w+  data/long.csv$", f"{sha256_file(path)}  data/long.csv", sums.read_text(), flags=re.M))
    # A SHA256SUMS that is not the published one says nothing about the other files: it alone is named.
    assert split_report(_verify(tiny_session, book, exports_dir, old_release))[1] == ["SHA256SUMS"]


def test_an_unreadable_datapackage_json_leaves_the_format_unknown_and_checks_integrity(release, tiny_session, book, exports_dir, cli):
    folder = exports_dir / VERSION
    (folder / "datapackage.json").write_bytes(b"\xff not json")
    (folder / "data" / "long.dta").write_bytes(b"changed")
    note, problems = split_report(_verify(tiny_session, book, exports_dir, release))
    assert problems == ["data/long.dta", "datapackage.json"]
    assert note.startswith(INTEGRITY_ONLY) and "release format is unknown" in note
    result = cli()
    assert result.exit_code == 1 and "release format is unknown" in result.stdout and "checksum differs: data/long.dta" in result.stderr
