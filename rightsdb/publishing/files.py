"""The export layer's files: write a release's tables as CSV, Excel, Stata, Parquet and a data package.

Every file except the Excel workbook is byte-identical when rebuilt from the same snapshot: fixed
column order, sorted rows, "\\n" line endings, UTF-8, a fixed Stata time stamp, and dates taken from
the release (never from the clock).
"""

from __future__ import annotations

import hashlib
import json
import warnings
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Callable
from datetime import datetime, time
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from rightsdb.publishing import scoring
from rightsdb.codebook.rules import ANSWER_CODES
from rightsdb.codebook import Codebook
from rightsdb.publishing.tables import LONG_COLUMNS, csv_chunks, release_tables, write_xlsx, xlsx_sheets

XLSX_NAME = "data/release.xlsx"
#: Files whose bytes change on every save; they hold the same data as the verified CSV files.
NOT_REPRODUCIBLE = frozenset({XLSX_NAME})
STATA_TABLES = ("long", "scores")
PARQUET_TABLES = ("long", "matrix", "scores", "citations")
ANSWER_COLUMNS = ("answer", "coder_a_answer", "coder_b_answer")
LICENSE = {"name": "CC-BY-4.0", "title": "Creative Commons Attribution 4.0", "path": "https://creativecommons.org/licenses/by/4.0/"}
TABLE_TITLES = {
    "long": "One row per country, round and indicator: final answer, scores, coders' answers, citations",
    "matrix": "Country-rounds by indicator (final answer codes), columns in codebook order",
    "scores": "Country-rounds by category score, with both aggregates",
    "codebook": "The indicators of the codebook, in order",
    "countries": "The countries in the release",
    "reliability": "Inter-coder reliability of the independent A/B answers",
    "citations": "One row per legal citation standing behind a final value",
}


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


def _field_type(series: pd.Series, name: str) -> str:
    """Map a column to a Frictionless field type."""
    if name in ("reference_date", "date_in_force"):
        return "date"
    if pd.api.types.is_bool_dtype(series):
        return "boolean"
    if pd.api.types.is_integer_dtype(series):
        return "integer"
    if pd.api.types.is_float_dtype(series):
        return "number"
    return "string"


def _schema(frame: pd.DataFrame, descriptions: dict[str, str]) -> dict:
    fields = []
    for name in frame.columns:
        field = {"name": str(name), "type": _field_type(frame[name], str(name))}
        if name in descriptions:
            field["description"] = descriptions[name]
        if name in ANSWER_COLUMNS:
            field["constraints"] = {"enum": list(ANSWER_CODES)}
        fields.append(field)
    return {"fields": fields}


def _longest_utf8(column: pd.Series) -> int:
    """Return the UTF-8 length in bytes of the longest text of a column (counted by pyarrow, not per value in Python)."""
    lengths = pc.binary_length(pa.array(column.tolist(), type=pa.large_string()))
    return int(pc.max(lengths).as_py() or 0)


def _write_stata(path: Path, frame: pd.DataFrame, *, release, codebook: Codebook, descriptions: dict[str, str]) -> None:
    """Write a Stata 118 file with variable labels, answer value labels and a fixed time stamp."""
    from pandas.errors import InvalidColumnName

    data = frame.copy()
    for column in data.columns:
        if column in ANSWER_COLUMNS:
            data[column] = pd.Categorical(data[column].replace("", None), categories=list(ANSWER_CODES))
        elif pd.api.types.is_bool_dtype(data[column]):
            data[column] = data[column].astype("int8")
        elif pd.api.types.is_numeric_dtype(data[column]):
            data[column] = data[column].astype("float64")
        else:
            data[column] = data[column].astype(object).fillna("").astype(str)
    labels = {c: descriptions.get(c, c)[:80] for c in data.columns}
    strl = [c for c in data.columns if data[c].dtype == object and _longest_utf8(data[c]) > 2000]
    with warnings.catch_warnings():
        # A column name Stata cannot hold would be silently renamed: refuse instead.
        warnings.simplefilter("error", InvalidColumnName)
        data.to_stata(
            path,
            write_index=False,
            version=118,
            time_stamp=datetime.combine(release.release_date, time()),
            data_label=f"rightsdb release {release.version}"[:80],
            variable_labels=labels,
            convert_strl=strl,
        )


def _write_parquet(path: Path, frame: pd.DataFrame) -> None:
    table = pa.Table.from_pandas(frame, preserve_index=False)
    pq.write_table(table, path, compression="snappy", write_statistics=False)


def _synthetic_note(release) -> str:
    return " This release contains synthetic demonstration data (fictional countries), not findings about any real country's law." if release.synthetic else ""


def _scheme_text(codebook: Codebook, release) -> str:
    scheme = codebook.scheme(release.scheme)
    scores = ", ".join(f"{code} = {'empty (leaves the denominator)' if v is None else v}" for code, v in scheme.scores.items())
    return f"{scheme.id} ({scheme.label}): {scores}"


def readme_text(release, codebook: Codebook, tables: dict[str, pd.DataFrame]) -> str:
    """Write the release README: what the files are, the scoring rules with formulas, and the protocol."""
    aggregation = next(a for a in codebook.scoring.aggregations if a.id == release.aggregation)
    lines = [f"# {release.title} (rightsdb release {release.version})", ""]
    if release.synthetic:
        lines += ["**This release contains synthetic demonstration data.** The countries are fictional", "(ISO 3166 user-assigned codes); nothing here describes any real country's law.", ""]
    lines += [
        f"- Release date: {release.release_date.isoformat()}",
        f"- Codebook: {codebook.codebook.title}, version {release.codebook_version}",
        f"- Scoring scheme: {_scheme_text(codebook, release)}",
        f"- Headline aggregation: {aggregation.id} ({aggregation.label}); scores.csv gives both aggregates",
        f"- Country-rounds: {len(tables['scores'])}; rows in long.csv: {len(tables['long'])}",
        "",
    ]
    if release.notes:
        lines += ["## Notes", "", release.notes, ""]
    lines += ["## Scoring rules", "", scoring.FORMULAS, ""]
    lines += [
        "## Coding protocol",
        "",
        "Each indicator measures national law on the books (constitution, statutes, regulations, case law)",
        "in force on the round's reference date, not practice. Two coders code every country independently",
        "(slots A and B), each answer supported by pinpoint citations to the legal source. Where both give",
        "the same answer the value is `agreed`; otherwise a supervisor decides (`reconciled`) and records a",
        "reason. The citations that stand behind each final value are in citations.csv. Reliability",
        "statistics (percent agreement, Cohen's kappa, Krippendorff's alpha (nominal), Gwet's AC1, with n and",
        "prevalence) are computed on the coders' independent answers; coder identities are not published.",
        "",
        "## Files",
        "",
    ]
    lines += [f"- data/{name}.csv: {TABLE_TITLES[name]}" for name in tables]
    lines += [
        f"- {XLSX_NAME}: the same tables as an Excel workbook (one sheet each; text is never a formula)",
        *(f"- data/{name}.dta: {name} as Stata 118, with variable labels and answer value labels" for name in STATA_TABLES),
        *(f"- data/{name}.parquet: {name} as Apache Parquet" for name in PARQUET_TABLES),
        "- datapackage.json: Frictionless data package (schemas, SHA-256 of each file, license, sources)",
        "- CITATION.cff: how to cite this release",
        "- SHA256SUMS: checksums of every file (check with `sha256sum -c SHA256SUMS`)",
        "",
        "Every file except the Excel workbook is byte-identical when rebuilt from the release snapshot",
        f"(`rightsdb release verify {release.version}`).",
        "",
        "## Changelog",
        "",
        release.changelog or "First release.",
        "",
        "## Citation",
        "",
        suggested_citation(release),
        "",
    ]
    return "\n".join(lines)


def suggested_citation(release) -> str:
    """Return the suggested citation of a release."""
    kind = " Synthetic demonstration data." if release.synthetic else ""
    return f"rightsdb Migrant Rights Database coding team ({release.release_date.year}). {release.title}, version {release.version} [dataset].{kind}"


def citation_cff(release, codebook: Codebook) -> str:
    """Write CITATION.cff (Citation File Format 1.2.0) for a release."""
    q = json.dumps
    abstract = f"Migrant rights in national law, coded with the {codebook.codebook.title} (codebook {release.codebook_version}).{_synthetic_note(release)}"
    return "\n".join(
        [
            "cff-version: 1.2.0",
            'message: "If you use these data, please cite them as below."',
            "type: dataset",
            f"title: {q(release.title, ensure_ascii=False)}",
            f"version: {q(release.version)}",
            f"date-released: {q(release.release_date.isoformat())}",
            "authors:",
            '  - name: "rightsdb Migrant Rights Database coding team"',
            f"abstract: {q(abstract, ensure_ascii=False)}",
            f"license: {LICENSE['name']}",
            "keywords:",
            "  - migrant rights",
            "  - legal coding",
            *(['  - "synthetic demonstration data"'] if release.synthetic else []),
            "",
        ]
    )


def datapackage(release, codebook: Codebook, tables: dict[str, pd.DataFrame], hashes: dict[str, str], sizes: dict[str, int]) -> dict:
    """Describe the release as a Frictionless data package: a schema and checksum per CSV resource."""
    descriptions = {name: dict(LONG_COLUMNS) for name in tables}
    scheme = codebook.scheme(release.scheme)
    description = "Migrant rights in national law: final coded values, scores, reliability and legal citations."
    if release.synthetic:
        description = "Synthetic demonstration data (fictional countries, no finding about any real country's law). " + description
    return {
        "profile": "data-package",
        "name": "rightsdb-" + release.version.replace(".", "-").lower(),
        "title": release.title,
        "description": description,
        "version": release.version,
        "created": datetime.combine(release.release_date, time()).isoformat() + "Z",
        "licenses": [LICENSE],
        "sources": [{"title": codebook.codebook.reference or codebook.codebook.title}],
        "keywords": ["migrant rights", "legal coding", *(["synthetic demonstration data"] if release.synthetic else [])],
        "rightsdb": {
            "codebook_version": release.codebook_version,
            "scheme": {"id": scheme.id, "label": scheme.label, "scores": dict(scheme.scores)},
            "aggregation": release.aggregation,
            "synthetic": release.synthetic,
            "formulas": scoring.FORMULAS,
            "files": {name: {"sha256": digest, "bytes": sizes[name]} for name, digest in sorted(hashes.items())},
        },
        "resources": [
            {
                "name": name,
                "path": f"data/{name}.csv",
                "profile": "tabular-data-resource",
                "title": TABLE_TITLES[name],
                "format": "csv",
                "mediatype": "text/csv",
                "encoding": "utf-8",
                "hash": "sha256:" + hashes[f"data/{name}.csv"],
                "bytes": sizes[f"data/{name}.csv"],
                "schema": _schema(frame, descriptions[name] if name == "long" else {}),
            }
            for name, frame in tables.items()
        ],
    }


def write_release_files(folder: Path, *, inputs, codebook: Codebook, progress: Callable[[str], None] = lambda _m: None) -> None:
    """Write every file of a release into `folder` (which the caller makes atomic), reporting "[n/total] name" per file."""
    release = inputs.release
    tables = release_tables(inputs.records, countries=inputs.countries, codebook=codebook, scheme_id=release.scheme, citations=inputs.citations)
    folder = Path(folder)
    hashes: dict[str, str] = {}
    sizes: dict[str, int] = {}
    # CSV per table, the workbook, Stata, Parquet, datapackage.json, CITATION.cff, README.md and SHA256SUMS.
    total = len(tables) + 1 + len(STATA_TABLES) + len(PARQUET_TABLES) + 4
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

    (folder / XLSX_NAME).parent.mkdir(parents=True, exist_ok=True)
    # The workbook is made by pyarrow kernels and zlib, which release the GIL: on a second core it is
    # written while this thread writes the CSV, Stata and Parquet files (it took longer than all of them).
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="rightsdb-xlsx") as pool:
        # Leaving this block waits for the workbook, also after an error here, so that no thread is
        # still writing into a folder the caller is about to remove.
        workbook = pool.submit(write_xlsx, folder / XLSX_NAME, xlsx_sheets(tables))
        for name, frame in tables.items():
            put_chunks(f"data/{name}.csv", csv_chunks(frame))
        labels = {**LONG_COLUMNS, **{c.id: c.name for c in codebook.categories}, **{a.id: a.label for a in codebook.scoring.aggregations}}
        for name in STATA_TABLES:
            _write_stata(folder / f"data/{name}.dta", tables[name], release=release, codebook=codebook, descriptions=labels)
            written_file(f"data/{name}.dta")
        for name in PARQUET_TABLES:
            _write_parquet(folder / f"data/{name}.parquet", tables[name])
            written_file(f"data/{name}.parquet")
    workbook.result()  # the workbook's own error, if it failed
    written_file(XLSX_NAME)
    reproducible = {k: v for k, v in hashes.items() if k not in NOT_REPRODUCIBLE}
    package = datapackage(release, codebook, tables, reproducible, sizes)
    put("datapackage.json", (json.dumps(package, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))
    put("CITATION.cff", citation_cff(release, codebook).encode("utf-8"))
    put("README.md", readme_text(release, codebook, tables).encode("utf-8"))
    sums = "".join(f"{hashes[name]}  {name}\n" for name in sorted(hashes))
    _write(folder / "SHA256SUMS", sums.encode("utf-8"))
    report("SHA256SUMS")
