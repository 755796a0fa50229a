"""The faster workbook writer (shared strings for repeated text, one join per row) reads back exactly as before.

Every value and type is checked through openpyxl (normal and read-only, as pandas reads) and through
pandas.read_excel, against the values themselves and against a workbook openpyxl writes of them.
"""

from __future__ import annotations

import io
import math
import re
import xml.etree.ElementTree as ET
import zipfile

import numpy as np
import openpyxl
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl.utils.exceptions import IllegalCharacterError

from rightsdb.publishing.formats import cells, spreadsheetml
from rightsdb.publishing.formats.xlsx import XLSX_MAIN, xlsx_bytes

NS = {"m": XLSX_MAIN}
HOSTILE = [
    "plain",
    "",
    " lead",
    "trail ",
    "  both  ",
    " ",
    "\t",
    "\n",
    "tab\there",
    "line\nbreak",
    "carriage\rreturn",
    "crlf\r\n",
    "=1+1",
    "+cmd",
    "-1",
    "@SUM(A1)",
    "1.5",
    "TRUE",
    "#N/A",
    "'quoted",
    "&",
    "<",
    ">",
    "<b>&amp;</b>",
    "]]>",
    'say "hi"',
    "Право на суд",
    "حق اللجوء",
    "人权",
    "emoji 🌍",
    "\u00a0nbsp",
    "nbsp\u00a0",
    "\u3000ideo",
    "\u2028sep",
    "\ufeffbom",
    "a_x005F_x0041_b",
    "x005F_",
    "_x0041_",
    "del\x7f",
]


def read_text(value: str) -> str | None:
    """What a reader gets back for a text value: XML turns line ends into "\\n"; empty text is no cell."""
    text = value.replace("\r\n", "\n").replace("\r", "\n")
    return text or None


def hostile_frame(rows: int, seed: int = 0, big: int = 2**53 + 1) -> tuple[pd.DataFrame, dict[str, list]]:
    """Return a table of every kind of column, with missing values, and each column's expected cell values."""
    rng = np.random.default_rng(seed)

    def pick(pool: list) -> list:
        return [pool[i] for i in rng.integers(0, len(pool), rows)]

    missing = [None, np.nan, pd.NA]
    frame = pd.DataFrame(
        {
            "repeated": pick(HOSTILE),  # few distinct values: shared strings
            "repeated_missing": pd.Series(pick(HOSTILE + missing * 3), dtype=object),
            "unique": [f"{v} {i} {w}" for i, (v, w) in enumerate(zip(pick(HOSTILE), pick(HOSTILE)))],  # inline strings
            "unique_missing": pd.Series([None if i % 5 == 0 else f"{v}{i}" for i, v in enumerate(pick(HOSTILE))], dtype=object),
            "string_dtype": pd.array(pick(HOSTILE + [None]), dtype="string"),
            "int": rng.integers(-5, 5, rows),
            "nullable_int": pd.array(pick([None, 1, -3, 0, big]), dtype="Int64"),
            "float": pick([0.1, 1 / 3, 1e-07, 1e16, -0.0, 0.0, 1.0, math.nan, math.inf, -math.inf, 1e-300, 2.5]),
            "nullable_float": pd.array(pick([None, 0.5, -0.0, 1e300, 3.0]), dtype="Float64"),
            "bool": pick([True, False]),
            "nullable_bool": pd.array(pick([True, False, None]), dtype="boolean"),
            "objects": pd.Series(pick([None, 1, "x", 2.5, True, "=1+1", math.nan, pd.NA, " y "]), dtype=object),
            "all_empty": [""] * rows,
            "all_missing": pd.Series([None] * rows, dtype=object),
        }
    )

    def number(value):
        if value is None or value is pd.NA or (isinstance(value, float) and not math.isfinite(value)):
            return None
        return value

    def text(value):
        if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
            return None
        return read_text(value if isinstance(value, str) else str(value))

    expected = {}
    for name in frame.columns:
        values = frame[name].astype(object).tolist()
        if name in ("int", "nullable_int"):
            expected[name] = [None if number(v) is None else int(v) for v in values]
        elif name in ("float", "nullable_float"):
            expected[name] = [None if number(v) is None else float(v) for v in values]
        elif name in ("bool", "nullable_bool"):
            expected[name] = [None if number(v) is None else bool(v) for v in values]
        else:
            expected[name] = [text(v) for v in values]
    return frame, expected


def same(a, b) -> bool:
    """Equal, of the same type, and for floats of the same sign (-0.0 stays -0.0)."""
    if type(a) is not type(b) or a != b:
        return False
    return not isinstance(a, float) or math.copysign(1, a) == math.copysign(1, b)


def check_cells(data: bytes, sheet: str, frame: pd.DataFrame, expected: dict[str, list]) -> None:
    """Assert that every cell of a workbook holds the expected value, of the expected type, at its place."""
    for read_only in (False, True):
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=read_only)
        rows = list(book[sheet].iter_rows())
        # Rows with no value at the end of a sheet hold no cell: readers see the sheet end before them.
        last = max((r for r in range(len(frame)) if any(expected[name][r] is not None for name in frame.columns)), default=-1)
        assert last + 2 <= len(rows) <= len(frame) + 1
        rows += [()] * (len(frame) + 1 - len(rows))
        header = {c.column: (c.value, c.data_type) for c in rows[0] if c.value is not None}
        assert header == {n: (name, "s") for n, name in enumerate(frame.columns, start=1)}
        for r, row in enumerate(rows[1:]):
            found = {c.column: c for c in row if c.value is not None}
            for n, name in enumerate(frame.columns, start=1):
                want = expected[name][r]
                cell = found.get(n)
                if want is None:
                    assert cell is None, (name, r, cell.value)
                    continue
                assert cell is not None, (name, r, want)
                assert same(cell.value, want), (name, r, cell.value, want)
                kind = "b" if isinstance(want, bool) else "n" if isinstance(want, int | float) else "s"
                assert cell.data_type == kind, (name, r, cell.data_type)
                if not read_only:
                    assert cell.coordinate == f"{openpyxl.utils.get_column_letter(n)}{r + 2}"


def parts(data: bytes) -> dict[str, ET.Element]:
    """Parse every XML part of a workbook (each must be well-formed XML)."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: ET.fromstring(archive.read(name)) for name in archive.namelist()}


def openpyxl_workbook(sheets: dict[str, tuple[list[str], dict[str, list]]]) -> bytes:
    """Return the workbook openpyxl itself writes of the expected values (text forced to text)."""
    book = openpyxl.Workbook()
    book.remove(book.active)
    for title, (names, expected) in sheets.items():
        sheet = book.create_sheet(title)
        sheet.append(names)
        for r in range(len(next(iter(expected.values()), []))):
            for n, name in enumerate(names, start=1):
                value = expected[name][r]
                if value is not None:
                    cell = sheet.cell(row=r + 2, column=n, value=value)
                    if isinstance(value, str):
                        cell.data_type = "s"
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


@pytest.mark.parametrize("block_rows", [7, cells.BLOCK_ROWS])
def test_every_value_and_type_round_trips_through_openpyxl(monkeypatch, block_rows):
    monkeypatch.setattr(cells, "BLOCK_ROWS", block_rows)
    monkeypatch.setattr(spreadsheetml, "SAMPLE_ROWS", 200)  # the sample is not the whole column
    frame, expected = hostile_frame(400)
    data = xlsx_bytes({"t": frame})
    check_cells(data, "t", frame, expected)
    # Repeated text went to the shared strings table, near-unique text stayed inline.
    sheet = parts(data)["xl/worksheets/sheet1.xml"]
    kinds = {}
    for cell in sheet.iterfind(".//m:c", NS):
        kinds.setdefault(re.sub(r"\d+", "", cell.get("r")), set()).add(cell.get("t"))
    assert "s" in kinds["A"] and "s" in kinds["B"]
    assert kinds["C"] == {"inlineStr"} and kinds["D"] == {"inlineStr"}


def test_pandas_reads_the_workbook_as_openpyxl_own_workbook_of_the_same_values(monkeypatch):
    monkeypatch.setattr(cells, "BLOCK_ROWS", 16)
    # (openpyxl's own writer rounds integers past 2**53 through floats: not in this comparison.)
    frame, expected = hostile_frame(300, seed=1, big=2**31 + 1)
    ours = xlsx_bytes({"t": frame, "second": frame.iloc[:40]})
    _, second = hostile_frame(300, seed=1, big=2**31 + 1)
    reference = openpyxl_workbook(
        {"t": (list(frame.columns), expected), "second": (list(frame.columns), {k: v[:40] for k, v in second.items()})}
    )
    for sheet in ("t", "second"):
        for options in ({}, {"dtype": str, "keep_default_na": False}, {"header": None}, {"dtype": object}):
            left = pd.read_excel(io.BytesIO(ours), sheet_name=sheet, engine="openpyxl", **options)
            right = pd.read_excel(io.BytesIO(reference), sheet_name=sheet, engine="openpyxl", **options)
            pd.testing.assert_frame_equal(left, right, check_exact=True)
            assert list(left.dtypes) == list(right.dtypes)
    # And the text that looks like a formula is text.
    read = pd.read_excel(io.BytesIO(ours), sheet_name="t", dtype=str, keep_default_na=False)
    assert "=1+1" in read["repeated"].tolist() and "=1+1" in read["objects"].tolist()


def test_xml_parts_are_well_formed_and_the_shared_strings_are_wired_in():
    frame, _ = hostile_frame(200, seed=2)
    data = xlsx_bytes({"t": frame, "codes": pd.DataFrame({"code": ["a", "b", "a", "x005F_"] * 10, "n": range(40)})})
    xml = parts(data)
    types = {o.get("PartName"): o.get("ContentType") for o in xml["[Content_Types].xml"]}
    assert types["/xl/sharedStrings.xml"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"
    rels = {r.get("Target"): r.get("Type") for r in xml["xl/_rels/workbook.xml.rels"]}
    assert rels["sharedStrings.xml"].endswith("/relationships/sharedStrings")
    assert len({r.get("Id") for r in xml["xl/_rels/workbook.xml.rels"]}) == len(rels)
    table = xml["xl/sharedStrings.xml"]
    strings = ["".join(t.text or "" for t in si.iterfind("m:t", NS)) for si in table.iterfind("m:si", NS)]
    assert len(strings) == len(set(strings)) == int(table.get("uniqueCount"))
    assert "" not in strings and not any("x005F_" in s for s in strings)  # see spreadsheetml._shareable
    references = []
    for name, root in xml.items():
        if name.startswith("xl/worksheets/"):
            assert root.find(".//m:f", NS) is None  # never a formula
            for cell in root.iterfind(".//m:c", NS):
                assert cell.get("r")  # every cell keeps its reference
                if cell.get("t") == "s":
                    references.append(int(cell.find("m:v", NS).text))
    assert int(table.get("count")) == len(references)
    assert set(references) == set(range(len(strings)))
    book = openpyxl.load_workbook(io.BytesIO(data))
    assert [c.value for c in book["codes"]["A"]] == ["code", *(["a", "b", "a", "x005F_"] * 10)]


def test_a_workbook_without_repeated_text_has_no_shared_strings_part():
    data = xlsx_bytes({"t": pd.DataFrame({"unique": [f"text {i}" for i in range(30)], "n": range(30)})})
    xml = parts(data)
    assert "xl/sharedStrings.xml" not in xml
    assert not any("sharedStrings" in (o.get("PartName") or "") for o in xml["[Content_Types].xml"])
    sheet = openpyxl.load_workbook(io.BytesIO(data))["t"]
    assert [c.value for c in sheet["A"]][1:] == [f"text {i}" for i in range(30)]


def test_white_space_is_preserved_exactly_where_the_old_rule_said():
    values = [*HOSTILE, "\x0bx", "x\x0c", "\fx", "\u0085x", "x\u2003", " ", "a b"]
    array = pa.array([v for v in values if "\x0b" not in v], type=pa.string())
    suffixes = spreadsheetml._inline_suffixes(array).to_pylist()
    rule = pc.match_substring_regex(array, r"^\s|\s$").to_pylist()
    for value, suffix, preserve in zip(array.to_pylist(), suffixes, rule):
        if value == "":
            assert suffix is None
        else:
            assert ('xml:space="preserve"' in suffix) is preserve, repr(value)


def test_sheet_xml_alone_still_writes_inline_strings_only():
    frame, expected = hostile_frame(60, seed=3)
    names, columns = spreadsheetml.arrow_columns(frame)
    xml = b"".join(spreadsheetml.sheet_xml(names, columns, XLSX_MAIN))
    root = ET.fromstring(xml)
    assert {c.get("t") for c in root.iterfind(".//m:c", NS)} <= {"inlineStr", "b", None}
    assert [t.text for t in root.find("m:sheetData/m:row", NS).iterfind(".//m:t", NS)] == names


def test_sheet_is_made_a_block_of_rows_at_a_time(monkeypatch):
    monkeypatch.setattr(cells, "BLOCK_ROWS", 7)
    frame = pd.DataFrame({"code": ["a", "b"] * 25, "n": range(50)})
    names, columns = spreadsheetml.arrow_columns(frame)
    strings, shared = spreadsheetml.shared_strings([columns])
    pieces = list(spreadsheetml.sheet_xml(names, columns, XLSX_MAIN, shared[0]))
    assert len(pieces) == 2 + math.ceil(50 / 7)
    assert strings.to_pylist() == ["a", "b"]


def test_text_xml_cannot_hold_is_written_as_the_replacement_character_in_repeated_and_unique_columns():
    repeated = openpyxl.load_workbook(io.BytesIO(xlsx_bytes({"t": pd.DataFrame({"code": ["ok", "bell\x07"] * 20})})))
    assert [c.value for c in repeated["t"]["A"]][:3] == ["code", "ok", "bell\ufffd"]
    unique = openpyxl.load_workbook(
        io.BytesIO(xlsx_bytes({"t": pd.DataFrame({"text": [f"unique {i}" for i in range(20)] + ["bell\x07"]})}))
    )
    assert [c.value for c in unique["t"]["A"]][-1] == "bell\ufffd"
    # The sheet writer itself still refuses such text if a caller hands it columns not made by arrow_columns.
    with pytest.raises(IllegalCharacterError):
        list(spreadsheetml.sheet_xml(["text"], [pa.array(["bell\x07"])], XLSX_MAIN))
    assert spreadsheetml.illegal_xml_text(pa.array(["tab\t", "line\n", "cr\r", None, ""])) is None
    assert spreadsheetml.illegal_xml_text(pa.array(["fine", None, "esc\x1b", "vt\x0b"]).slice(1)) == "esc\x1b"


def test_empty_tables_and_tables_without_columns():
    data = xlsx_bytes(
        {
            "empty": pd.DataFrame({"a": pd.Series([], dtype=str), "b": pd.Series([], dtype="Int64")}),
            "none": pd.DataFrame(index=range(3)),
            "blank": pd.DataFrame({"a": ["", None, ""]}),
        }
    )
    parts(data)
    book = openpyxl.load_workbook(io.BytesIO(data))
    assert list(book["empty"].iter_rows(values_only=True)) == [("a", "b")]
    assert list(book["blank"].iter_rows(values_only=True)) == [("a",)]


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.one_of(st.none(), st.sampled_from(HOSTILE), st.text(max_size=12)),
            st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True)),
            st.one_of(st.none(), st.integers(min_value=-(2**53), max_value=2**53)),
        ),
        min_size=1,
        max_size=40,
    )
)
def test_any_text_float_and_integer_round_trips(rows):
    texts, floats, ints = zip(*rows)
    texts = [tabular_safe(t) for t in texts]
    frame = pd.DataFrame(
        {"text": pd.Series(texts, dtype=object), "float": pd.array(floats, dtype="Float64"), "int": pd.array(ints, dtype="Int64")}
    )
    expected = {
        "text": [None if t is None else read_text(t) for t in texts],
        "float": [None if f is None or not math.isfinite(f) else float(f) for f in floats],
        "int": [None if i is None else int(i) for i in ints],
    }
    data = xlsx_bytes({"t": frame})
    parts(data)
    check_cells(data, "t", frame, expected)


def tabular_safe(text: str | None) -> str | None:
    """Drop the characters XML cannot hold (the writer refuses them) and surrogates (not UTF-8)."""
    if text is None:
        return None
    return "".join(c for c in text if not re.match(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff]", c))
