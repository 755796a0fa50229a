"""The export layer's tables: one canonical long table, and every other table derived from it.

This (with the file writers of `publishing.files` and `publishing.formats`) is where pandas is used. `long_table` builds the canonical table
from a release's snapshot records; the matrix, scores, citations and reliability tables are thin
derivations of it. Rows are sorted and columns fixed, so the output is byte-stable.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from rightsdb.codebook import Codebook
from rightsdb.codebook.rules import ANSWER_CODES
from rightsdb.publishing import scoring
from rightsdb.publishing.changelog import CHANGE_COLUMNS
from rightsdb.publishing.collect import CITATION_FIELDS
from rightsdb.review.agreement import MEASURES
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
    "coder_a_notes": "Coder A's notes: what was searched (not provided), why not applicable, the other condition",
    "coder_b_notes": "Coder B's notes: what was searched (not provided), why not applicable, the other condition",
    "outcome": "agreed (both coders gave the same answer) or reconciled (decided by a supervisor)",
    "reason": "The supervisor's reason for a reconciled value",
    "citations": "The legal sources that stand behind the final value (title, pinpoint; joined by ' | ')",
}
#: The columns of citations.csv: where the citation stands, then the fields a release freezes of it.
#: The columns that hold an answer code (value labels in Stata, an enum in the data package).
ANSWER_COLUMNS = ("answer", "coder_a_answer", "coder_b_answer")
CITATION_COLUMNS = ("iso3", "round", "indicator", "position", *CITATION_FIELDS)
RELIABILITY_COLUMNS = ("level", "round", "key", *MEASURES, "notes")
SCORE_DIGITS = 6


def text_column(values: list) -> pd.Series:
    """Return Python strings as a pandas text column (the `str` dtype), converted by pyarrow in one call.

    Much faster than letting pandas check every value (bench/README.md), for the same dtype and storage.
    """
    return text_series(pa.array(values, type=pa.large_string()))


def text_series(array: pa.Array) -> pd.Series:
    """Return an Arrow string array as a pandas text column (the `str` dtype), as `text_column` does."""
    return pd.Series(array.cast(pa.large_string()), dtype="str")


def _citation_lists(citations: pa.Table | None, count: int) -> pa.ListArray:
    """Return each of `count` records' citations as a list of structs (CITATION_FIELDS), in record order.

    `citations` has one row per citation: "record" (the index of its record), then CITATION_FIELDS,
    sorted by record (see publishing.collect.ReleaseInputs).
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


def long_table(
    records: Iterable[dict], *, countries: dict[str, dict], codebook: Codebook, citations: pa.Table | None = None
) -> pd.DataFrame:
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
        "coder_a_notes": text_column([r.get("coder_a_notes") or "" for r in records]),
        "coder_b_notes": text_column([r.get("coder_b_notes") or "" for r in records]),
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
    # Plain lists grouped in a dict: pandas' groupby over text columns was a large share of this at world scale.
    answers: dict[tuple, dict[str, str]] = {}
    for *key, indicator, answer in zip(*(long[name].tolist() for name in (*keys, "indicator", "answer"))):
        answers.setdefault(tuple(key), {})[indicator] = answer
    rows = []
    for key in sorted(answers):
        result = scoring.score_answers(answers[key], codebook=codebook, scheme_id=scheme_id)
        values = [*result.categories.values(), result.category_mean, result.pooled]
        rows.append([*key, *(None if v is None else round(v, SCORE_DIGITS) for v in values)])
    frame = pd.DataFrame(rows, columns=columns)
    for column in columns[len(keys) :]:
        frame[column] = frame[column].astype("Float64")
    return frame


def codebook_table(codebook: Codebook) -> pd.DataFrame:
    """The indicators in codebook order, with their category and provenance."""
    rows = [{"indicator": i.id, "position": n + 1, **codebook.describe(i)} for n, i in enumerate(codebook.indicators)]
    return pd.DataFrame(
        rows, columns=["indicator", "position", "category", "category_name", "imbr_article", "provenance", "short_label", "question"]
    )


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


def changes_table(changes: list[tuple]) -> pd.DataFrame:
    """One row per change since the previous release (publishing.changelog.CHANGE_COLUMNS), as computed: already sorted."""
    columns = list(zip(*changes)) if changes else [()] * len(CHANGE_COLUMNS)
    return pd.DataFrame({name: text_column(list(values)) for name, values in zip(CHANGE_COLUMNS, columns)}, columns=list(CHANGE_COLUMNS))


def reliability_frame(long: pd.DataFrame) -> pd.DataFrame:
    """Inter-coder reliability of the independent A/B answers, per round, category and indicator.

    Coder identities are never published, so the per-coder-pair level is left out.
    """
    units = [
        Unit(round=r, country=i, category=c, indicator=ind, coder_pair="A / B", value_a=a or None, value_b=b or None)
        for r, i, c, ind, a, b in zip(
            *(long[name].tolist() for name in ("round", "iso3", "category", "indicator", "coder_a_answer", "coder_b_answer"))
        )
    ]
    rows = [row for row in reliability_table(units, categories=ANSWER_CODES) if row["level"] != LEVELS[-1]]
    frame = pd.DataFrame(rows, columns=list(RELIABILITY_COLUMNS))
    for column in ("percent_agreement", "cohen_kappa", "krippendorff_alpha", "gwet_ac1", "prevalence"):
        frame[column] = frame[column].astype("Float64").round(SCORE_DIGITS)
    frame["n"] = frame["n"].astype("Int64")
    return frame


def release_tables(
    records: list[dict],
    *,
    countries: dict[str, dict],
    codebook: Codebook,
    scheme_id: str,
    citations: pa.Table | None = None,
    changes: list[tuple] | None = None,
) -> dict[str, pd.DataFrame]:
    """Build every published table of a release from its snapshot records, their citations and its changes, in file order."""
    long = long_table(records, countries=countries, codebook=codebook, citations=citations)
    return {
        "long": public_long(long),
        "matrix": matrix_table(long, codebook=codebook),
        "scores": scores_table(long, codebook=codebook, scheme_id=scheme_id),
        "codebook": codebook_table(codebook),
        "countries": countries_table(long, countries=countries),
        "reliability": reliability_frame(long),
        "citations": citations_table(long),
        "changes": changes_table(changes or []),
    }


def custom_table(
    long: pd.DataFrame, *, countries: list[str], categories: list[str], indicators: list[str], rounds: list[str]
) -> pd.DataFrame:
    """Return the published long-table rows of the chosen countries, categories, indicators and rounds."""
    mask = pd.Series(True, index=long.index)
    if countries:
        mask &= long["iso3"].isin(countries)
    if rounds:
        mask &= long["round"].isin(rounds)
    if categories or indicators:
        mask &= long["category"].isin(categories) | long["indicator"].isin(indicators)
    return public_long(long[mask]).reset_index(drop=True)


def frame_records(frame: pd.DataFrame, limit: int | None = None) -> list[dict]:
    """Return a table's rows as plain dicts (missing values as empty strings) for pages and JSON."""
    if limit is not None:
        frame = frame.head(limit)
    return [{k: ("" if pd.isna(v) else v) for k, v in row.items()} for row in frame.astype(object).to_dict(orient="records")]
