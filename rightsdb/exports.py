"""The export layer's tables: one canonical long table, and every other table derived from it.

This (with exports_files.py) is the only place pandas is used. `long_table` builds the canonical table
from a release's snapshot records; the matrix, scores, citations and reliability tables are thin
derivations of it. Rows are sorted and columns fixed, so the output is byte-stable.
"""

from __future__ import annotations

import io
import math
import numbers
import re
import zipfile
from collections.abc import Iterable, Iterator

import numpy as np

import pandas as pd

from . import scoring
from .codebook import ANSWER_CODES, Codebook
from .reliability import LEVELS, Unit, reliability_table

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
CITATION_COLUMNS = (
    "iso3", "round", "indicator", "position", "instrument_type", "title", "pinpoint", "url",
    "date_in_force", "language", "excerpt", "translation",
)
RELIABILITY_COLUMNS = (
    "level", "round", "key", "n", "percent_agreement", "cohen_kappa", "krippendorff_alpha", "gwet_ac1",
    "prevalence", "prevalent_value", "notes",
)
SCORE_DIGITS = 6


def _citation_text(citations: list[dict]) -> str:
    """Render the standing citations compactly: "Title, pinpoint | Title, pinpoint"."""
    return " | ".join(", ".join(p for p in (c.get("title", ""), c.get("pinpoint", "")) if p) for c in citations)


def long_table(records: Iterable[dict], *, countries: dict[str, dict], codebook: Codebook) -> pd.DataFrame:
    """Build the canonical long table (one row per country, round and indicator), sorted.

    It carries the standing citations as a hidden `_citations` column for derived tables; files drop it.
    """
    order = {ident: n for n, ident in enumerate(codebook.indicator_ids)}
    rows = []
    for r in records:
        rows.append(
            {
                "iso3": r["iso3"],
                "country": countries.get(r["iso3"], {}).get("name", ""),
                "round": r["round"],
                "reference_date": r["reference_date"],
                "category": r["category"],
                "indicator": r["indicator"],
                "answer": r["answer"],
                "binary": r["binary"],
                "score": None if r["score"] is None else round(float(r["score"]), SCORE_DIGITS),
                "groups": ";".join(r["groups"]),
                "coder_a_answer": r["coder_a_answer"] or "",
                "coder_b_answer": r["coder_b_answer"] or "",
                "outcome": r["outcome"],
                "reason": r["reason"] or "",
                "citations": _citation_text(r["citations"]),
                "_citations": r["citations"],
                "_order": order.get(r["indicator"], len(order)),
            }
        )
    frame = pd.DataFrame(rows, columns=[*LONG_COLUMNS, "_citations", "_order"])
    frame["binary"] = frame["binary"].astype("Int64")
    frame["score"] = frame["score"].astype("Float64")
    frame = frame.sort_values(["iso3", "round", "_order"], kind="stable").drop(columns="_order").reset_index(drop=True)
    return frame


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
    rows = []
    for key, group in long.groupby(keys, sort=True):
        result = scoring.score_answers(dict(zip(group["indicator"], group["answer"])), codebook=codebook, scheme_id=scheme_id)
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
    """One row per standing citation, in long-table order."""
    columns: dict[str, list] = {name: [] for name in CITATION_COLUMNS}
    # Column lists rather than a dict per row: at world scale that is ~200k dicts fewer.
    keys, fields = CITATION_COLUMNS[:4], CITATION_COLUMNS[4:]
    for iso3, round_, indicator, citations in zip(long["iso3"], long["round"], long["indicator"], long["_citations"]):
        for position, c in enumerate(citations, start=1):
            for name, value in zip(keys, (iso3, round_, indicator, position)):
                columns[name].append(value)
            for name in fields:
                columns[name].append(c.get(name, ""))
    if not columns["iso3"]:
        return pd.DataFrame([], columns=list(CITATION_COLUMNS))
    return pd.DataFrame(columns, columns=list(CITATION_COLUMNS))


def reliability_frame(long: pd.DataFrame) -> pd.DataFrame:
    """Inter-coder reliability of the independent A/B answers, per round, category and indicator.

    Coder identities are never published, so the per-coder-pair level is left out.
    """
    units = [
        Unit(round=r, country=i, category=c, indicator=ind, coder_pair="A / B", value_a=a or None, value_b=b or None)
        for r, i, c, ind, a, b in zip(long["round"], long["iso3"], long["category"], long["indicator"], long["coder_a_answer"], long["coder_b_answer"])
    ]
    rows = [row for row in reliability_table(units, categories=ANSWER_CODES) if row["level"] != LEVELS[-1]]
    frame = pd.DataFrame(rows, columns=list(RELIABILITY_COLUMNS))
    for column in ("percent_agreement", "cohen_kappa", "krippendorff_alpha", "gwet_ac1", "prevalence"):
        frame[column] = frame[column].astype("Float64").round(SCORE_DIGITS)
    frame["n"] = frame["n"].astype("Int64")
    return frame


def release_tables(records: list[dict], *, countries: dict[str, dict], codebook: Codebook, scheme_id: str) -> dict[str, pd.DataFrame]:
    """Build every published table of a release from its snapshot records, in file order."""
    long = long_table(records, countries=countries, codebook=codebook)
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
    """Serialise a table as UTF-8 CSV with "\\n" line endings (the canonical form that is hashed)."""
    # Written straight to bytes: a str copy of a world-scale table would cost another ~100 MB or more.
    buffer = io.BytesIO()
    frame.to_csv(buffer, index=False, lineterminator="\n", encoding="utf-8")
    return buffer.getvalue()


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
XLSX_ROWS_PER_WRITE = 5000
#: The control characters XML 1.0 cannot hold (openpyxl's ILLEGAL_CHARACTERS_RE).
XML_ILLEGAL_CHARACTERS = re.compile(r"[\000-\010]|[\013-\014]|[\016-\037]")


def _xml_text(text: str) -> str:
    """Escape text for XML; refuse the control characters XML cannot hold (as openpyxl does)."""
    if XML_ILLEGAL_CHARACTERS.search(text):
        from openpyxl.utils.exceptions import IllegalCharacterError

        raise IllegalCharacterError(f"{text!r} cannot be used in worksheets.")
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def _xlsx_cell(ref: str, value) -> str:
    """Return one cell's XML: text is always an inline string (never a formula), numbers and booleans typed."""
    if value is None or value is pd.NA:
        return ""
    if isinstance(value, str):
        return f'<c r="{ref}" t="inlineStr"><is><t xml:space="preserve">{_xml_text(value)}</t></is></c>' if value else ""
    if isinstance(value, (bool, np.bool_)):
        return f'<c r="{ref}" t="b"><v>{int(value)}</v></c>'
    if isinstance(value, numbers.Integral):
        return f'<c r="{ref}"><v>{int(value)}</v></c>'
    if isinstance(value, numbers.Real):
        number = float(value)
        return f'<c r="{ref}"><v>{number!r}</v></c>' if math.isfinite(number) else ""
    return _xlsx_cell(ref, str(value))


def _xlsx_column(letter: str, first_row: int, values: list) -> list[str]:
    """Return the cells of one column of a block of rows; a text column is escaped in one pass."""
    if not all(type(v) is str or v is None or v is pd.NA or (type(v) is float and v != v) for v in values):
        return [_xlsx_cell(f"{letter}{n}", v) for n, v in enumerate(values, start=first_row)]
    # Join with NUL, which no cell can hold (XML refuses it), so that escaping is a few str.replace calls.
    joined = "\x00".join(v if type(v) is str else "" for v in values)
    if joined.count("\x00") != len(values) - 1 or XML_ILLEGAL_CHARACTERS.search(joined.replace("\x00", "")):
        return [_xlsx_cell(f"{letter}{n}", v) for n, v in enumerate(values, start=first_row)]
    texts = joined.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").split("\x00")
    return [f'<c r="{letter}{n}" t="inlineStr"><is><t xml:space="preserve">{t}</t></is></c>' if t else "" for n, t in enumerate(texts, start=first_row)]


def _xlsx_sheet(frame: pd.DataFrame) -> Iterator[str]:
    """Yield a worksheet's XML in pieces, a block of rows at a time (header first)."""
    from openpyxl.utils import get_column_letter

    letters = [get_column_letter(n) for n in range(1, len(frame.columns) + 1)]
    header = "".join(_xlsx_cell(f"{letter}1", str(c)) for letter, c in zip(letters, frame.columns))
    yield f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<worksheet xmlns="{XLSX_MAIN}"><sheetData><row r="1">{header}</row>'
    for start in range(0, len(frame), XLSX_ROWS_PER_WRITE):
        # Python values a block at a time: the whole table as Python strings would cost hundreds of MB.
        block = frame.iloc[start:start + XLSX_ROWS_PER_WRITE]
        columns = [_xlsx_column(letter, start + 2, block.iloc[:, n].astype(object).tolist()) for n, letter in enumerate(letters)]
        yield "".join([f'<row r="{n}">{"".join(cells)}</row>' for n, cells in enumerate(zip(*columns), start=start + 2)])
    yield "</sheetData></worksheet>"


def xlsx_bytes(frames: dict[str, pd.DataFrame]) -> bytes:
    """Write tables as an Excel workbook (one sheet each) where every text cell is text, never a formula.

    The SpreadsheetML is streamed straight into the zip: at world scale (millions of cells) a cell
    object per value, even openpyxl's write-only cells, costs minutes.
    """
    names = [name[:31] for name in frames]
    sheets = "".join(f'<sheet name="{_xml_text(name)}" sheetId="{n}" r:id="rId{n}"/>' for n, name in enumerate(names, start=1))
    workbook_rels = "".join(
        f'<Relationship Id="rId{n}" Type="{XLSX_RELS}/worksheet" Target="worksheets/sheet{n}.xml"/>' for n in range(1, len(names) + 1)
    ) + f'<Relationship Id="rId{len(names) + 1}" Type="{XLSX_RELS}/styles" Target="styles.xml"/>'
    overrides = "".join(
        f'<Override PartName="/xl/worksheets/sheet{n}.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
        for n in range(1, len(names) + 1)
    )
    head = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
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
        archive.writestr("xl/workbook.xml", head + f'<workbook xmlns="{XLSX_MAIN}" xmlns:r="{XLSX_RELS}"><sheets>{sheets}</sheets></workbook>')
        archive.writestr("xl/_rels/workbook.xml.rels", head + f'<Relationships xmlns="{XLSX_PACKAGE_RELS}">{workbook_rels}</Relationships>')
        archive.writestr("xl/styles.xml", head + XLSX_STYLES)
        for n, frame in enumerate(frames.values(), start=1):
            with archive.open(f"xl/worksheets/sheet{n}.xml", "w", force_zip64=True) as sheet:
                for piece in _xlsx_sheet(frame):
                    sheet.write(piece.encode("utf-8"))
    return buffer.getvalue()


def frame_records(frame: pd.DataFrame, limit: int | None = None) -> list[dict]:
    """Return a table's rows as plain dicts (missing values as empty strings) for pages and JSON."""
    if limit is not None:
        frame = frame.head(limit)
    return [{k: ("" if pd.isna(v) else v) for k, v in row.items()} for row in frame.astype(object).to_dict(orient="records")]
