"""The vectorised CSV and sheet writers (publishing.formats.csv and spreadsheetml) against pandas and openpyxl as oracles.

CSV: rule 0 must be pandas' bytes; the formula rule (the default) must be pandas' bytes for every cell it
leaves alone and OWASP's rule, restated in tests/publishing/csv_oracle.py, for the others.
"""

from __future__ import annotations

import io
import math

import openpyxl
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from rightsdb.publishing.formats import cells, spreadsheetml
from rightsdb.publishing.formats import csv as csv_format
from rightsdb.publishing.formats.xlsx import xlsx_bytes
from tests.publishing.csv_oracle import assert_csv

HOSTILE = [
    "plain",
    "a,b",
    'say "hi"',
    "line\nbreak",
    "carriage\rreturn",
    "",
    " lead",
    "trail ",
    "=1+1",
    "<b>&amp;</b>",
    "Право на суд",
    "حق اللجوء",
    "tab\there",
    'quote,"and\ncomma"',
    "emoji 🌍",
    "-5",
    "+44 20",
    "@home",
    "\tindented",
    "\rreturn",
    "'=quoted",
    'a;=b "c"',
    "a;b",
]


def test_csv_equals_pandas_on_hostile_text_numbers_and_missing_values():
    n = len(HOSTILE)
    frame = pd.DataFrame(
        {
            "text": HOSTILE,
            "with_missing": [None if i % 3 == 0 else v for i, v in enumerate(HOSTILE)],
            "int": list(range(-3, n - 3)),
            "nullable_int": pd.array([None if i % 4 == 0 else i for i in range(n)], dtype="Int64"),
            "float": [0.1, 1 / 3, 1e-07, 1e16, -0.0, 0.0, 1.0, 123456789.123, math.nan, 2.5, math.inf, -math.inf, 0.5, 7.0, 1e-300]
            + [-1.0, -0.5, 3.0, math.nan, -2.25, 1.5, -7.0, 0.25],
            "nullable_float": pd.array([None if i % 5 == 0 else i / 7 for i in range(n)], dtype="Float64"),
            "flag": [i % 2 == 0 for i in range(n)],
            "objects": pd.Series(
                [None, 1, "x", 2.5, True, "a,b", None, 3, "y", 4.0, False, "z", 5, "w", "v", -1, "-1", -2.5, "=x", None, "@", "+", False],
                dtype=object,
            ),
        }
    )
    assert_csv(frame)


def test_csv_equals_pandas_for_a_single_column_with_empty_values_and_for_empty_tables():
    single = pd.DataFrame({"only": ["a", "", None, "b", "=c", "-"]})
    assert_csv(single)
    empty = pd.DataFrame({"a": pd.Series([], dtype=str), "b": pd.Series([], dtype="Int64")})
    assert_csv(empty)
    assert csv_format.csv_bytes(empty) == b"a,b\n"
    awkward_header = pd.DataFrame({'name, with "quotes"': ["x"], "plain": ["y"], "=header": ["=cell"]})
    assert_csv(awkward_header)


def test_csv_crosses_block_boundaries_in_row_order(monkeypatch):
    monkeypatch.setattr(cells, "BLOCK_ROWS", 7)
    frame = pd.DataFrame({"n": range(-25, 25), "text": [f'{"=-+@"[i % 4] if i % 3 else ""}row {i}, "{i}"' for i in range(50)]})
    assert_csv(frame)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.one_of(
                st.none(),
                st.text(max_size=20),
                st.tuples(st.sampled_from(["=", "+", "-", "@", "\t", "\r", "'=", ";="]), st.text(max_size=8)).map("".join),
            ),
            st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True)),
            st.integers(min_value=-(2**62), max_value=2**62),
        ),
        min_size=1,
        max_size=30,
    )
)
def test_csv_equals_pandas_for_any_text_float_and_integer(rows):
    texts, floats, ints = zip(*rows)
    texts = [t.replace("\x00", "") if t is not None else None for t in texts]
    frame = pd.DataFrame({"text": texts, "float": pd.array(floats, dtype="Float64"), "int": list(ints)})
    assert_csv(frame)


def test_sheet_holds_every_value_typed_and_text_never_becomes_a_formula(monkeypatch):
    monkeypatch.setattr(cells, "BLOCK_ROWS", 4)
    n = len(HOSTILE)
    frame = pd.DataFrame(
        {
            "text": HOSTILE,
            "int": pd.array([None if i == 2 else i for i in range(n)], dtype="Int64"),
            "float": pd.array([None if i == 1 else i / 4 for i in range(n)], dtype="Float64"),
            "flag": [i % 2 == 0 for i in range(n)],
        }
    )
    book = openpyxl.load_workbook(io.BytesIO(xlsx_bytes({"t": frame})))
    rows = list(book["t"].iter_rows(values_only=True))
    assert rows[0] == ("text", "int", "float", "flag")
    assert len(rows) == n + 1
    for i, (text, integer, number, flag) in enumerate(rows[1:]):
        expected = HOSTILE[i]
        # XML parsers turn a bare carriage return into a line feed, as for openpyxl's own files.
        assert (text or "") == expected.replace("\r", "\n")
        assert integer == (None if i == 2 else i)
        assert number == (None if i == 1 else i / 4)
        assert flag is (i % 2 == 0)
    formula_cell = book["t"].cell(row=HOSTILE.index("=1+1") + 2, column=1)
    assert formula_cell.data_type == "s" and formula_cell.value == "=1+1"


def test_sheet_writes_text_xml_cannot_hold_as_the_replacement_character():
    # openpyxl's own rule says these cannot be written; a release must still be built from any text.
    assert all(ILLEGAL_CHARACTERS_RE.search(text) for text in ("bell\x07", "vt\x0b ff\x0c"))
    book = openpyxl.load_workbook(io.BytesIO(xlsx_bytes({"t": pd.DataFrame({"text": ["fine", "bell\x07", "vt\x0b ff\x0c"]})})))
    assert [c.value for c in book["t"]["A"]] == ["text", "fine", "bell\ufffd", "vt\ufffd ff\ufffd"]


def test_column_letters_follow_spreadsheet_naming():
    assert [spreadsheetml.column_letter(n) for n in (1, 2, 26, 27, 52, 53, 702, 703)] == ["A", "B", "Z", "AA", "AZ", "BA", "ZZ", "AAA"]
