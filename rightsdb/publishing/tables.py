"""The export layer's tables: one canonical long table, and every other table derived from it.

This (with exports_files.py) is the only place pandas is used. `long_table` builds the canonical table
from a release's snapshot records; the matrix, scores, citations and reliability tables are thin
derivations of it. Rows are sorted and columns fixed, so the output is byte-stable.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from rightsdb.publishing import scoring, tabular
from rightsdb.codebook.rules import ANSWER_CODES
from rightsdb.codebook import Codebook
from rightsdb.publishing.releases import CITATION_FIELDS
from rightsdb.review.reliability import LEVELS, Unit, reliability_table

#: The columns of long.csv, in order, with their descriptions (also used for the data package schema).
LONG_COLUMNS = {
    "iso3": "ISO 3166-1 alpha-3 code of the country",
    "country": "Country name",
    "round": "Coding round",
    "reference_date": "Date of the law in force that was coded",
    "category": "Category id (codebook)",
    "indicator": "Indicator id (codebook)",
    "answer": "Final answer code",
    "binary": "Binary MRD value: provided and conditional 1, not provided 0, not applicable empty",
    "score": "Indicator score under the release's scoring scheme (empty when not applicable)",
    "groups": "Migrant groups or conditions of a conditional answer (codes joined by ';')",
    "coder_a_answer": "Coder A's independent answer",
    "coder_b_answer": "Coder B's independent answer",
    "outcome": "agreed (both coders gave the same answer) or reconciled (decided by a supervisor)",
    "reason": "The supervisor's reason for a reconciled value",
    "citations": "The legal sources that stand behind the final value (title, pinpoint; joined by ' | ')",
}
#: The columns of citations.csv: where the citation stands, then the fields a release freezes of it.
CITATION_COLUMNS = ("iso3", "round", "indicator", "position", *CITATION_FIELDS)
RELIABILITY_COLUMNS = (
    "level", "round", "key", "n", "percent_agreement", "cohen_kappa", "krippendorff_alpha", "gwet_ac1",
    "prevalence", "prevalent_value", "notes",
)
SCORE_DIGITS = 6


def text_column(values: list) -> pd.Series:
    """Return Python strings as a pandas text column (the `str` dtype), converted by pyarrow in one call.

    Three times faster than letting pandas check every value, for the same dtype and storage.
    """
    return text_series(pa.array(values, type=pa.large_string()))


def text_series(array: pa.Array) -> pd.Series:
    """Return an Arrow string array as a pandas text column (the `str` dtype), as `text_column` does."""
    return pd.Series(array.cast(pa.large_string()), dtype="str")


def _citation_lists(citations: pa.Table | None, count: int) -> pa.ListArray:
    """Return each of `count` records' citations as a list of structs (CITATION_FIELDS), in record order.

    `citations` has one row per citation: "record" (the index of its record), then CITATION_FIELDS,
    sorted by record (see rightsdb.releases.ReleaseInputs).
    """
    fields = [pa.field(name, pa.string()) for name in CITATION_FIELDS]
    if citations is None or citations.num_rows == 0:
        values = pa.StructArray.from_arrays([pa.array([], type=pa.string()) for _ in fields], fields=fields)
        return pa.ListArray.from_arrays(pa.array(np.zeros(count + 1, dtype=np.int32)), values)
    records = citations["record"].to_numpy()
    if len(records) > 1 and (np.diff(records) < 0).any():
        raise ValueError("citations must be sorted by record")
    offsets = np.concatenate([[0], np.cumsum(np.bincount(records, minlength=count))]).astype(np.int32)
    values = pa.StructArray.from_arrays([citations[name].combine_chunks().cast(pa.string()) for name in CITATION_FIELDS], fields=fields)
    return pa.ListArray.from_arrays(pa.array(offsets), values)


def _citation_summary(lists: pa.ListArray) -> pa.Array:
    """Render each record's standing citations compactly: "Title, pinpoint | Title, pinpoint"."""
    flat = lists.flatten()
    title, pinpoint = (pc.fill_null(flat.field(name), "") for name in ("title", "pinpoint"))
    both = pc.and_(pc.not_equal(title, ""), pc.not_equal(pinpoint, ""))
    texts = pc.if_else(both, pc.binary_join_element_wise(title, pinpoint, ", "), pc.binary_join_element_wise(title, pinpoint, ""))
    offsets = pc.subtract(lists.offsets, lists.offsets[0])
    return pc.binary_join(pa.ListArray.from_arrays(offsets, texts), " | ")


def long_table(records: Iterable[dict], *, countries: dict[str, dict], codebook: Codebook, citations: pa.Table | None = None) -> pd.DataFrame:
    """Build the canonical long table (one row per country, round and indicator), sorted.

    `citations` are the records' standing citations (see `_citation_lists`). The table carries them as a
    hidden `_citations` column (Arrow lists) for derived tables; files drop it. Built a column at a
    time from the sorted records (at world scale a dict per row cost a second).
    """
    order = {ident: n for n, ident in enumerate(codebook.indicator_ids)}
    last = len(order)
    records = list(records)
    index = sorted(range(len(records)), key=lambda n: (records[n]["iso3"], records[n]["round"], order.get(records[n]["indicator"], last)))
    lists = _citation_lists(citations, len(records)).take(pa.array(index, type=pa.int64()))
    records = [records[n] for n in index]
    names = {iso3: country.get("name", "") for iso3, country in countries.items()}

    columns = {
        "iso3": text_column([r["iso3"] for r in records]),
        "country": text_column([names.get(r["iso3"], "") for r in records]),
        "round": text_column([r["round"] for r in records]),
        "reference_date": text_column([r["reference_date"] for r in records]),
        "category": text_column([r["category"] for r in records]),
        "indicator": text_column([r["indicator"] for r in records]),
        "answer": text_column([r["answer"] for r in records]),
        "binary": pd.array([r["binary"] for r in records], dtype="Int64"),
        "score": pd.array([None if r["score"] is None else round(float(r["score"]), SCORE_DIGITS) for r in records], dtype="Float64"),
        "groups": text_column([";".join(r["groups"]) for r in records]),
        "coder_a_answer": text_column([r["coder_a_answer"] or "" for r in records]),
        "coder_b_answer": text_column([r["coder_b_answer"] or "" for r in records]),
        "outcome": text_column([r["outcome"] for r in records]),
        "reason": text_column([r["reason"] or "" for r in records]),
        "citations": text_series(_citation_summary(lists)),
        "_citations": pd.Series(pd.arrays.ArrowExtensionArray(lists)),
    }
    return pd.DataFrame({name: columns[name] for name in [*LONG_COLUMNS, "_citations"]})


def public_long(long: pd.DataFrame) -> pd.DataFrame:
    """Return the long table as published (without internal columns)."""
    return long[list(LONG_COLUMNS)]


def matrix_table(long: pd.DataFrame, *, codebook: Codebook) -> pd.DataFrame:
    """Country-rounds by indicator (final answer codes), indicator columns in codebook order."""
    keys = ["iso3", "country", "round", "reference_date"]
    if long.empty:
        return pd.DataFrame(columns=[*keys, *codebook.indicator_ids])
    wide = long.pivot(index=keys, columns="indicator", values="answer")
    wide = wide.reindex(columns=list(codebook.indicator_ids)).reset_index()
    wide.columns.name = None
    return wide.sort_values(["iso3", "round"], kind="stable").reset_index(drop=True)


def scores_table(long: pd.DataFrame, *, codebook: Codebook, scheme_id: str) -> pd.DataFrame:
    """Country-rounds by category score, with both aggregates (category_mean and pooled)."""
    keys = ["iso3", "country", "round", "reference_date"]
    columns = [*keys, *(c.id for c in codebook.categories), *scoring.AGGREGATIONS]
    # Plain lists grouped in a dict: pandas' groupby over text columns cost ~0.5 s at world scale.
    answers: dict[tuple, dict[str, str]] = {}
    for *key, indicator, answer in zip(*(long[name].tolist() for name in (*keys, "indicator", "answer"))):
        answers.setdefault(tuple(key), {})[indicator] = answer
    rows = []
    for key in sorted(answers):
        result = scoring.score_answers(answers[key], codebook=codebook, scheme_id=scheme_id)
        values = [*result.categories.values(), result.category_mean, result.pooled]
        rows.append([*key, *(None if v is None else round(v, SCORE_DIGITS) for v in values)])
    frame = pd.DataFrame(rows, columns=columns)
    for column in columns[len(keys):]:
        frame[column] = frame[column].astype("Float64")
    return frame


def codebook_table(codebook: Codebook) -> pd.DataFrame:
    """The indicators in codebook order, with their category and provenance."""
    rows = [
        {
            "indicator": i.id,
            "position": n + 1,
            "category": i.category,
            "category_name": codebook.categories_by_id[i.category].name,
            "imbr_article": i.imbr_article,
            "provenance": i.provenance,
            "short_label": i.short_label,
            "question": i.question,
        }
        for n, i in enumerate(codebook.indicators)
    ]
    return pd.DataFrame(rows, columns=["indicator", "position", "category", "category_name", "imbr_article", "provenance", "short_label", "question"])


def countries_table(long: pd.DataFrame, *, countries: dict[str, dict]) -> pd.DataFrame:
    """The countries of the release with their codes, M49 region and synthetic flag."""
    columns = ["iso3", "iso2", "numeric", "name", "region", "synthetic"]
    rows = [{c: countries[iso][c] for c in columns} for iso in sorted(set(long["iso3"])) if iso in countries]
    frame = pd.DataFrame(rows, columns=columns)
    frame["synthetic"] = frame["synthetic"].astype(bool)
    return frame


def citations_table(long: pd.DataFrame) -> pd.DataFrame:
    """One row per standing citation, in long-table order (made from Arrow columns, no step per citation)."""
    lists = pa.chunked_array(pa.array(long["_citations"].array)).combine_chunks() if len(long) else None
    if lists is None or len(lists.flatten()) == 0:
        return pd.DataFrame([], columns=list(CITATION_COLUMNS))
    parents = pc.list_parent_indices(lists)
    offsets = lists.offsets.to_numpy()
    flat = lists.flatten()
    columns: dict[str, object] = {}
    for name in ("iso3", "round", "indicator"):
        columns[name] = text_series(pc.take(pa.array(long[name], type=pa.large_string()), parents))
    columns["position"] = np.arange(len(flat), dtype=np.int64) - (offsets[parents.to_numpy()] - offsets[0]) + 1
    for name in CITATION_FIELDS:
        columns[name] = text_series(flat.field(name))
    return pd.DataFrame(columns, columns=list(CITATION_COLUMNS))


def reliability_frame(long: pd.DataFrame) -> pd.DataFrame:
    """Inter-coder reliability of the independent A/B answers, per round, category and indicator.

    Coder identities are never published, so the per-coder-pair level is left out.
    """
    units = [
        Unit(round=r, country=i, category=c, indicator=ind, coder_pair="A / B", value_a=a or None, value_b=b or None)
        for r, i, c, ind, a, b in zip(*(long[name].tolist() for name in ("round", "iso3", "category", "indicator", "coder_a_answer", "coder_b_answer")))
    ]
    rows = [row for row in reliability_table(units, categories=ANSWER_CODES) if row["level"] != LEVELS[-1]]
    frame = pd.DataFrame(rows, columns=list(RELIABILITY_COLUMNS))
    for column in ("percent_agreement", "cohen_kappa", "krippendorff_alpha", "gwet_ac1", "prevalence"):
        frame[column] = frame[column].astype("Float64").round(SCORE_DIGITS)
    frame["n"] = frame["n"].astype("Int64")
    return frame


def release_tables(records: list[dict], *, countries: dict[str, dict], codebook: Codebook, scheme_id: str,
                   citations: pa.Table | None = None) -> dict[str, pd.DataFrame]:
    """Build every published table of a release from its snapshot records and their citations, in file order."""
    long = long_table(records, countries=countries, codebook=codebook, citations=citations)
    return {
        "long": public_long(long),
        "matrix": matrix_table(long, codebook=codebook),
        "scores": scores_table(long, codebook=codebook, scheme_id=scheme_id),
        "codebook": codebook_table(codebook),
        "countries": countries_table(long, countries=countries),
        "reliability": reliability_frame(long),
        "citations": citations_table(long),
    }


def custom_table(long: pd.DataFrame, *, countries: list[str], categories: list[str], indicators: list[str], rounds: list[str]) -> pd.DataFrame:
    """Return the published long-table rows of the chosen countries, categories, indicators and rounds."""
    mask = pd.Series(True, index=long.index)
    if countries:
        mask &= long["iso3"].isin(countries)
    if rounds:
        mask &= long["round"].isin(rounds)
    if categories or indicators:
        mask &= long["category"].isin(categories) | long["indicator"].isin(indicators)
    return public_long(long[mask]).reset_index(drop=True)


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """Serialise a table as UTF-8 CSV with "\\n" line endings (the canonical form that is hashed).

    Byte for byte what pandas' `to_csv(index=False, lineterminator="\\n")` writes, made with pyarrow
    kernels (rightsdb.tabular): at world scale pandas took seconds per table.
    """
    return tabular.csv_bytes(frame)


def csv_chunks(frame: pd.DataFrame):
    """The same CSV as `csv_bytes`, a block of rows at a time (to write a large table without holding it)."""
    return tabular.csv_chunks(frame)


XLSX_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
XLSX_RELS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
XLSX_PACKAGE_RELS = "http://schemas.openxmlformats.org/package/2006/relationships"
XLSX_STYLES = (
    f'<styleSheet xmlns="{XLSX_MAIN}"><fonts count="1"><font><sz val="11"/><name val="Calibri"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles></styleSheet>'
)


def _xml_text(text: str) -> str:
    """Escape text for an XML attribute or text node."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def xlsx_bytes(frames: dict[str, pd.DataFrame]) -> bytes:
    """Return tables as an Excel workbook (one sheet each) where every text cell is text, never a formula."""
    buffer = io.BytesIO()
    write_xlsx(buffer, xlsx_sheets(frames))
    return buffer.getvalue()


def xlsx_sheets(frames: dict[str, pd.DataFrame]) -> dict[str, tuple[list[str], list]]:
    """Prepare tables for `write_xlsx`: column names and Arrow columns per sheet (safe to pass to a thread)."""
    return {name: tabular.arrow_columns(frame) for name, frame in frames.items()}


def write_xlsx(target, sheets: dict[str, tuple[list[str], list]]) -> None:
    """Write prepared tables (`xlsx_sheets`) as an Excel workbook into `target` (a path or a binary file).

    The sheet XML is made by pyarrow kernels (rightsdb.tabular) and streamed straight into the zip: at
    world scale (millions of cells) a cell object per value, even openpyxl's write-only cells, costs
    minutes. Text is always a string cell (shared or inline), so a value such as "=1+1" stays text.
    Text columns whose values repeat go through a shared strings table (as Excel itself writes text):
    about a fifth less XML to make and deflate at world scale, and each distinct value is formatted once.
    """
    names = [name[:31] for name in sheets]
    strings, shared = tabular.shared_strings([arrays for _columns, arrays in sheets.values()])
    sheet_list = "".join(f'<sheet name="{_xml_text(name)}" sheetId="{n}" r:id="rId{n}"/>' for n, name in enumerate(names, start=1))
    workbook_rels = "".join(
        f'<Relationship Id="rId{n}" Type="{XLSX_RELS}/worksheet" Target="worksheets/sheet{n}.xml"/>' for n in range(1, len(names) + 1)
    ) + f'<Relationship Id="rId{len(names) + 1}" Type="{XLSX_RELS}/styles" Target="styles.xml"/>'
    overrides = "".join(
        f'<Override PartName="/xl/worksheets/sheet{n}.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
        for n in range(1, len(names) + 1)
    )
    if len(strings):
        workbook_rels += f'<Relationship Id="rId{len(names) + 2}" Type="{XLSX_RELS}/sharedStrings" Target="sharedStrings.xml"/>'
        overrides += ('<Override PartName="/xl/sharedStrings.xml" '
                      'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>')
    head = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        archive.writestr("[Content_Types].xml", head + (
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
            '<Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
            f"{overrides}</Types>"
        ))
        archive.writestr("_rels/.rels", head + (
            f'<Relationships xmlns="{XLSX_PACKAGE_RELS}"><Relationship Id="rId1" Type="{XLSX_RELS}/officeDocument" Target="xl/workbook.xml"/></Relationships>'
        ))
        archive.writestr("xl/workbook.xml", head + f'<workbook xmlns="{XLSX_MAIN}" xmlns:r="{XLSX_RELS}"><sheets>{sheet_list}</sheets></workbook>')
        archive.writestr("xl/_rels/workbook.xml.rels", head + f'<Relationships xmlns="{XLSX_PACKAGE_RELS}">{workbook_rels}</Relationships>')
        archive.writestr("xl/styles.xml", head + XLSX_STYLES)
        if len(strings):
            with archive.open("xl/sharedStrings.xml", "w", force_zip64=True) as part:
                for piece in tabular.shared_strings_xml(strings, tabular.shared_count(shared), XLSX_MAIN):
                    part.write(piece)
        for n, ((columns, arrays), columns_shared) in enumerate(zip(sheets.values(), shared), start=1):
            with archive.open(f"xl/worksheets/sheet{n}.xml", "w", force_zip64=True) as sheet:
                for piece in tabular.sheet_xml(columns, arrays, XLSX_MAIN, columns_shared):
                    sheet.write(piece)


def frame_records(frame: pd.DataFrame, limit: int | None = None) -> list[dict]:
    """Return a table's rows as plain dicts (missing values as empty strings) for pages and JSON."""
    if limit is not None:
        frame = frame.head(limit)
    return [{k: ("" if pd.isna(v) else v) for k, v in row.items()} for row in frame.astype(object).to_dict(orient="records")]
