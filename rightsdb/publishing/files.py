"""Write every file of a release: the tables in each format of `formats`, the documents and SHA256SUMS.

Every file is byte-identical when rebuilt from the same snapshot: fixed column order, sorted rows,
"\\n" line endings, UTF-8, a fixed Stata time stamp, fixed zip entries in the workbook, no library
version in the Parquet files, and dates taken from the release (never from the clock).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from rightsdb.codebook import Codebook
from rightsdb.publishing.documents import citation_cff, readme_text
from rightsdb.publishing.formats import FORMATS, WORKBOOK
from rightsdb.publishing.formats.csv import CSV_RULE, csv_chunks
from rightsdb.publishing.formats.datapackage import datapackage
from rightsdb.publishing.formats.xlsx import write_xlsx, xlsx_sheets
from rightsdb.publishing.tables import LONG_COLUMNS, release_tables


def sha256_file(path: Path) -> str:
    """Return the SHA-256 hex digest of a file (read in blocks: a workbook is tens of MB at world scale)."""
    with Path(path).open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def read_sums(path: Path) -> dict[str, str]:
    """Parse a SHA256SUMS file into {relative path: digest}."""
    sums = {}
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if line.strip():
            digest, _, name = line.partition("  ")
            sums[name] = digest
    return sums


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def write_release_files(
    folder: Path, *, inputs, codebook: Codebook, progress: Callable[[str], None] = lambda _m: None, csv_rule: int = CSV_RULE
) -> None:
    """Write every file of a release into `folder` (which the caller makes atomic), reporting "[n/total] name" per file.

    `csv_rule` is the CSV rule (formats.csv.CSV_RULES) of the CSV files, recorded in datapackage.json and
    README.md: a new release takes the current one, a rebuild the one its release was published with.
    """
    release = inputs.release
    tables = release_tables(
        inputs.records,
        countries=inputs.countries,
        codebook=codebook,
        scheme_id=release.scheme,
        citations=inputs.citations,
        changes=inputs.changes,
    )
    folder = Path(folder)
    hashes: dict[str, str] = {}
    sizes: dict[str, int] = {}
    # CSV per table, the workbook, Stata, Parquet, datapackage.json, CITATION.cff, README.md and SHA256SUMS.
    total = len(tables) + 1 + sum(len(f.tables) for f in FORMATS) + 4
    written = 0

    def report(name: str) -> None:
        nonlocal written
        written += 1
        progress(f"[{written}/{total}] {name}")

    def put(name: str, data: bytes) -> None:
        put_chunks(name, [data])

    def put_chunks(name: str, chunks) -> None:
        # Streamed to the file and hashed on the way: citations.csv alone is ~100 MB at world scale.
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        digest, size = hashlib.sha256(), 0
        with path.open("wb") as handle:
            for chunk in chunks:
                handle.write(chunk)
                digest.update(chunk)
                size += len(chunk)
        hashes[name] = digest.hexdigest()
        sizes[name] = size
        report(name)

    def written_file(name: str) -> None:
        path = folder / name
        hashes[name] = sha256_file(path)
        sizes[name] = path.stat().st_size
        report(name)

    (folder / WORKBOOK).parent.mkdir(parents=True, exist_ok=True)
    # The workbook is made by pyarrow kernels and zlib, which release the GIL: on a second core it is
    # written while this thread writes the CSV, Stata and Parquet files (it took longer than all of them).
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="rightsdb-xlsx") as pool:
        # Leaving this block waits for the workbook, also after an error here, so that no thread is
        # still writing into a folder the caller is about to remove.
        workbook = pool.submit(write_xlsx, folder / WORKBOOK, xlsx_sheets(tables))
        for name, frame in tables.items():
            put_chunks(f"data/{name}.csv", csv_chunks(frame, csv_rule))
        labels = {**LONG_COLUMNS, **{c.id: c.name for c in codebook.categories}, **{a.id: a.label for a in codebook.scoring.aggregations}}
        for file_format in FORMATS:
            for name in file_format.tables:
                file_format.write(folder / file_format.path(name), tables[name], release=release, labels=labels)
                written_file(file_format.path(name))
    workbook.result()  # the workbook's own error, if it failed
    written_file(WORKBOOK)
    package = datapackage(release, codebook, tables, hashes, sizes, csv_rule=csv_rule)
    put("datapackage.json", (json.dumps(package, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))
    put("CITATION.cff", citation_cff(release, codebook).encode("utf-8"))
    readme = readme_text(release, codebook, tables, csv_rule=csv_rule, previous_version=inputs.previous_version, changes=inputs.changes)
    put("README.md", readme.encode("utf-8"))
    sums = "".join(f"{hashes[name]}  {name}\n" for name in sorted(hashes))
    _write(folder / "SHA256SUMS", sums.encode("utf-8"))
    report("SHA256SUMS")
