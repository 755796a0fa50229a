"""The same release always yields the same bytes (issue 15): two builds, golden bytes, no library versions, pinned versions.

Golden bytes: tests/golden/release-format-2/ is the golden data set (tests/factories/releases.py)
published as release 1.0.0 by this code with the versions pinned in constraints.txt; its SHA256SUMS
lists every file. When a change of the release's content is intended (or a library upgrade, pinned
in constraints.txt), regenerate it with one command and commit the folder:

    RIGHTSDB_UPDATE_GOLDEN=1 .venv/bin/python -m pytest -q -p no:cacheprovider tests/publishing/test_reproducible.py
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import re
import shutil
import time
import tomllib
import zipfile
from datetime import date
from importlib import metadata
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from sqlmodel import Session

from rightsdb.db import create_all
from rightsdb.publishing.files import read_sums, write_release_files
from rightsdb.publishing.formats import parquet, xlsx
from rightsdb.publishing.publish import get_release, publish_release
from rightsdb.publishing.snapshot import release_inputs
from tests.conftest import GOLDEN, ROOT, TINY_CODEBOOK, make_app
from tests.factories.releases import make_golden_data

DAY = date(2026, 3, 1)
VERSION = "1.0.0"
GOLDEN_RELEASE = GOLDEN / "release-format-2"
UPDATE = "RIGHTSDB_UPDATE_GOLDEN"
REGENERATE = f"{UPDATE}=1 .venv/bin/python -m pytest -q -p no:cacheprovider tests/publishing/test_reproducible.py"
#: The libraries whose version strings a writer could embed (pyarrow, pandas) or that shape the bytes.
LIBRARIES = ("pyarrow", "pandas", "numpy", "openpyxl")


def publish_golden(url: str, folder: Path) -> Path:
    """Publish the golden data set as release 1.0.0 from the database at `url` (tables created) into `folder`."""
    app = make_app(url, folder, CODEBOOK_PATH=str(TINY_CODEBOOK), EXPORTS_DIR=str(folder))
    book = app.extensions["rightsdb.codebook"]
    try:
        with Session(app.extensions["rightsdb.engine"], expire_on_commit=False) as session:
            make_golden_data(session, book)
            session.commit()
            publish_release(
                session=session, codebook=book, exports_dir=folder, version=VERSION, title="Golden", release_date=DAY, synthetic=True
            )
            session.commit()
    finally:
        app.extensions["rightsdb.engine"].dispose()
    return folder / VERSION


def rebuild(url: str, tmp: Path, into: Path) -> None:
    """Write release 1.0.0's files again from the snapshot in the database at `url`, as `release verify` does."""
    app = make_app(url, tmp, CODEBOOK_PATH=str(TINY_CODEBOOK))
    try:
        with Session(app.extensions["rightsdb.engine"]) as session:
            release = get_release(session=session, version=VERSION)
            book = app.extensions["rightsdb.codebook"]
            write_release_files(into, inputs=release_inputs(session=session, release=release, codebook=book), codebook=book)
    finally:
        app.extensions["rightsdb.engine"].dispose()


def files_of(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def assert_same_files(first: Path, second: Path) -> None:
    one, two = files_of(first), files_of(second)
    assert sorted(one) == sorted(two)
    assert "data/release.xlsx" in one
    assert [name for name in one if one[name] != two[name]] == []


@pytest.fixture
def later_clock(monkeypatch):
    """Return a function that moves the local clock (time.localtime, which zip entries use) 400 days on."""
    real = time.localtime

    def move():
        monkeypatch.setattr(time, "localtime", lambda seconds=None: real((time.time() if seconds is None else seconds) + 400 * 86400))

    return move


# ---- two builds -------------------------------------------------------------------------------------


def test_two_builds_from_copies_of_one_database_are_byte_identical(db_url, tmp_path, later_clock):
    """SQLite: the database file copied; PostgreSQL: the same rows loaded into a second schema. Then a rebuild from each snapshot."""
    first = publish_golden(db_url, tmp_path / "first")
    later_clock()  # a build on another day: no clock time may reach any file
    if db_url.startswith("sqlite"):
        original = Path(sa.make_url(db_url).database)
        copy = tmp_path / "copy.sqlite"
        shutil.copyfile(original, copy)
        copy_url = f"sqlite:///{copy}"
        second = tmp_path / "second"
        rebuild(copy_url, tmp_path, second)
        assert_same_files(first, second)
    else:
        copy_url = sa.make_url(db_url).update_query_dict({"options": "-csearch_path=rightsdb_copy"}).render_as_string(hide_password=False)
        engine = sa.create_engine(db_url)
        with engine.begin() as connection:
            connection.exec_driver_sql("DROP SCHEMA IF EXISTS rightsdb_copy CASCADE")
            connection.exec_driver_sql("CREATE SCHEMA rightsdb_copy")
        try:
            copy_engine = sa.create_engine(copy_url)
            create_all(copy_engine)
            copy_engine.dispose()
            second = publish_golden(copy_url, tmp_path / "second")
            assert_same_files(first, second)
            rebuild(copy_url, tmp_path, tmp_path / "rebuilt-copy")
            assert_same_files(first, tmp_path / "rebuilt-copy")
        finally:
            with engine.begin() as connection:
                connection.exec_driver_sql("DROP SCHEMA IF EXISTS rightsdb_copy CASCADE")
            engine.dispose()
    rebuild(db_url, tmp_path, tmp_path / "rebuilt")  # verify's path, on the original database
    assert_same_files(first, tmp_path / "rebuilt")


def test_every_zip_entry_of_the_workbook_has_fixed_time_permissions_and_compression(tmp_path, later_clock):
    frames = {"long": pd.DataFrame({"text": ["=1+1", "Закон", None], "number": [1.5, None, 2.0]}), "other": pd.DataFrame({"a": ["x"] * 3})}
    now = xlsx.xlsx_bytes(frames)
    later_clock()
    assert xlsx.xlsx_bytes(frames) == now
    with zipfile.ZipFile(io.BytesIO(now)) as archive:
        entries = archive.infolist()
        assert len(entries) == 8  # content types, two relationship parts, workbook, styles, shared strings, two sheets
        for entry in entries:
            assert entry.date_time == xlsx.ZIP_TIME == (1980, 1, 1, 0, 0, 0), entry.filename
            assert (entry.create_system, entry.external_attr >> 16, entry.compress_type) == (3, 0o100644, zipfile.ZIP_DEFLATED)
        assert archive.testzip() is None


# ---- no library version in any file ------------------------------------------------------------------


def _versions() -> list[bytes]:
    return [metadata.version(name).encode() for name in LIBRARIES]


def _texts_of(name: str, data: bytes) -> list[bytes]:
    """Return the bytes a reader sees in a file: a zip's parts unpacked, a Parquet footer's Arrow schema decoded too."""
    if name.endswith(".xlsx"):
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return [archive.read(entry) for entry in archive.infolist()]
    if name.endswith(".parquet"):
        footer = pq.ParquetFile(pa.BufferReader(data)).metadata
        return [data, *(base64.b64decode(v) if k == b"ARROW:schema" else v for k, v in (footer.metadata or {}).items())]
    return [data]


def test_no_file_of_a_release_holds_a_library_name_or_version(tmp_path):
    folder = publish_golden(f"sqlite:///{tmp_path / 'db.sqlite'}", tmp_path / "exports")
    versions = _versions()
    for name, data in files_of(folder).items():
        for text in _texts_of(name, data):
            # What pyarrow and pandas write when left to themselves (the README may name pandas in its prose).
            assert not re.search(rb"parquet-cpp-arrow version|pandas_version|\"library\": \"pyarrow\"|\"creator\"", text), name
            # The exact versions installed, where they could only be a library's: after "version" or in quotes.
            for version in versions:
                assert not re.search(rb'(version\W{0,4}|")' + re.escape(version), text), (name, version)


def test_parquet_footers_name_rightsdb_and_carry_no_pandas_metadata(tmp_path):
    folder = publish_golden(f"sqlite:///{tmp_path / 'db.sqlite'}", tmp_path / "exports")
    for path in sorted((folder / "data").glob("*.parquet")):
        footer = pq.ParquetFile(path).metadata
        assert footer.created_by == parquet.CREATED_BY == "rightsdb (parquet-cpp-arrow)", path.name
        assert set(footer.metadata) == {b"ARROW:schema"}, path.name
        assert pq.read_schema(path).metadata is None, path.name
        csv = pd.read_csv(folder / "data" / f"{path.stem}.csv", dtype=str, keep_default_na=False)
        table = pq.read_table(path)
        assert table.column_names == list(csv.columns) and table.num_rows == len(csv), path.name


def test_parquet_bytes_do_not_depend_on_pandas_string_type(tmp_path):
    """pandas 3 gives text columns its own string type, pandas 2 object columns: the same file either way."""
    values = {"text": ["Закон", None, "=1+1"], "count": pd.array([1, None, 3], dtype="Int64"), "share": [0.5, None, 1.0]}
    as_str = pd.DataFrame({**values, "text": pd.array(values["text"], dtype="str")})
    as_object = pd.DataFrame({**values, "text": pd.Series(values["text"], dtype=object)})
    parquet.write_parquet(tmp_path / "str.parquet", as_str)
    parquet.write_parquet(tmp_path / "object.parquet", as_object)
    assert (tmp_path / "str.parquet").read_bytes() == (tmp_path / "object.parquet").read_bytes()
    assert pq.read_schema(tmp_path / "str.parquet").types == [pa.large_string(), pa.int64(), pa.float64()]


@pytest.mark.parametrize("columns", [3, 40])  # 40: the footer's lists need the long form of the compact protocol
@pytest.mark.parametrize("store_schema", [True, False])  # without key_value_metadata, created_by follows num_rows
def test_set_created_by_rewrites_only_the_writer_name(tmp_path, columns, store_schema):
    table = pa.table({f"column_{n}": pa.array([n, None, n * 2]) for n in range(columns)})
    path = tmp_path / "table.parquet"
    pq.write_table(table, path, store_schema=store_schema)
    before = pq.ParquetFile(path).metadata.to_dict()
    parquet.set_created_by(path, "rightsdb (parquet-cpp-arrow) " + "x" * 200)  # a longer length varint too
    after = pq.ParquetFile(path).metadata
    assert after.created_by.endswith("x" * 200)
    assert {k: v for k, v in after.to_dict().items() if k not in ("created_by", "serialized_size")} == {
        k: v for k, v in before.items() if k not in ("created_by", "serialized_size")
    }
    assert pq.read_table(path).equals(table)


def test_set_created_by_refuses_a_file_that_is_not_parquet(tmp_path):
    path = tmp_path / "not.parquet"
    path.write_bytes(b"a CSV file,\n")
    with pytest.raises(ValueError, match="not a Parquet file"):
        parquet.set_created_by(path, "rightsdb")
    assert path.read_bytes() == b"a CSV file,\n"


# ---- golden bytes -----------------------------------------------------------------------------------


def test_the_golden_release_is_byte_for_byte_the_committed_one(db_url, tmp_path):
    folder = publish_golden(db_url, tmp_path / "exports")
    if os.environ.get(UPDATE) == "1" and db_url.startswith("sqlite"):
        shutil.rmtree(GOLDEN_RELEASE, ignore_errors=True)
        shutil.copytree(folder, GOLDEN_RELEASE)
    golden = read_sums(GOLDEN_RELEASE / "SHA256SUMS")
    built = {name: hashlib.sha256(data).hexdigest() for name, data in files_of(folder).items() if name != "SHA256SUMS"}
    changed = sorted(name for name in set(golden) | set(built) if golden.get(name) != built.get(name))
    assert not changed, (
        f"These release files are not byte-identical to the golden release (tests/golden/release-format-2): {', '.join(changed)}."
        " Check first that the change is intended (a change of the release's content, or a library upgrade that you also pin in"
        f" constraints.txt; compare the files with `diff -r`); only then regenerate with: {REGENERATE}"
    )
    assert (folder / "SHA256SUMS").read_bytes() == (GOLDEN_RELEASE / "SHA256SUMS").read_bytes()
    # The committed files are the ones their SHA256SUMS lists (so that a reader can diff a failure).
    assert {name: hashlib.sha256(data).hexdigest() for name, data in files_of(GOLDEN_RELEASE).items() if name != "SHA256SUMS"} == golden


# ---- pinned versions --------------------------------------------------------------------------------


def _pins() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version and re.fullmatch(r"[\w.+!-]+", version), f"constraints.txt: {line!r} is not an exact pin (name==version)"
            pins[canonicalize_name(Requirement(name).name)] = version
    return pins


def test_constraints_pin_every_dependency_and_the_test_extra_exactly():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    extras = re.findall(r"-e\s+'?\.\[([\w,]+)\]", (ROOT / "Makefile").read_text(encoding="utf-8"))
    assert extras == ["test"], "the Makefile installs .[test]"
    declared = [Requirement(r) for r in project["dependencies"] + project["optional-dependencies"]["test"]]
    pins = _pins()
    assert canonicalize_name(project["name"]) not in pins, "constraints.txt pins the project itself"
    for requirement in declared:
        name = canonicalize_name(requirement.name)
        assert name in pins, f"constraints.txt does not pin {requirement.name}"
        assert requirement.specifier.contains(pins[name], prereleases=True), f"{name}=={pins[name]} is outside pyproject's {requirement}"


def test_the_makefile_installs_with_the_constraints_and_reinstalls_when_they_change():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert re.search(r"^\$\(STAMP\): pyproject\.toml constraints\.txt", makefile, re.M)
    assert "pip install -c constraints.txt -e '.[test]'" in makefile


def test_the_libraries_that_write_release_bytes_are_the_pinned_versions():
    """The golden bytes were made with the pinned versions: another version installed explains a golden failure."""
    pins = _pins()
    installed = {name: metadata.version(name) for name in LIBRARIES}
    assert {name: pins[name] for name in LIBRARIES} == installed, "this environment is not the one constraints.txt pins: make install"
