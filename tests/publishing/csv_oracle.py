"""The expected bytes of a CSV file under the formula rule: pandas for every cell the rule leaves alone, OWASP's rule spelled out for the rest.

The rule is restated here in plain string operations (no regex, no pyarrow), so that the writer's
vectorised version is checked against an independent reading of it:

- a text cell that begins, after any apostrophes, with = + - @ TAB CR gets one more apostrophe in
  front and is quoted, its double quotes doubled (OWASP: "=1+2";=1+2 -> "'=1+2"";=1+2");
- any other text cell holding ";" or TAB right before one of those characters is quoted;
- numbers, booleans and missing values are never changed.
"""

from __future__ import annotations

import csv
import io

import pandas as pd

from rightsdb.publishing.formats import csv as csv_format

FORMULA = ("=", "+", "-", "@", "\t", "\r")


def begins_with_formula(text: str) -> bool:
    """Tell whether a spreadsheet would run the text (after any apostrophes) as a formula."""
    rest = text.lstrip("'")
    return rest != "" and rest[0] in FORMULA


def formula_after_separator(text: str) -> bool:
    """Tell whether the text holds ";" or TAB right before a formula character."""
    return any(a in (";", "\t") and b in FORMULA for a, b in zip(text, text[1:]))


def guarded_field(text: str) -> str | None:
    """Return the field the rule writes for a text cell, or None where the rule leaves it to pandas."""
    if begins_with_formula(text):
        return '"' + ("'" + text).replace('"', '""') + '"'
    if formula_after_separator(text):
        return '"' + text.replace('"', '""') + '"'
    return None


def is_text(series: pd.Series, value) -> bool:
    """Tell whether a cell is text: any value of a string column, a `str` of a mixed one."""
    return isinstance(value, str) and (series.dtype == object or pd.api.types.is_string_dtype(series.dtype))


def pandas_csv(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False, lineterminator="\n").encode("utf-8")


def expected_csv(frame: pd.DataFrame) -> bytes:
    """Return the bytes csv_bytes must write under FORMULA_RULE: pandas' bytes, the guarded cells put in by hand."""
    texts = [v for c in frame.columns for v in frame[c].tolist() if isinstance(v, str)]
    marker = "\ue000"
    while any(marker in t for t in texts):
        marker += "\ue001"
    stand_ins: dict[str, str] = {}
    marked = frame.copy()
    for n in range(len(frame.columns)):
        series = frame.iloc[:, n]
        values = series.tolist()
        changed = False
        for row, value in enumerate(values):
            field = guarded_field(value) if is_text(series, value) else None
            if field is not None:
                token = f"{marker}{len(stand_ins)}{marker}"
                stand_ins[token] = field
                values[row] = token
                changed = True
        if changed:
            marked.isetitem(n, pd.Series(values, dtype=series.dtype, index=series.index))
    text = pandas_csv(marked).decode("utf-8")
    for token, field in stand_ins.items():
        assert text.count(token) == 1  # pandas wrote the stand-in unquoted, once
        text = text.replace(token, field)
    return text.encode("utf-8")


def read_back(data: bytes) -> list[list[str]]:
    """Read CSV bytes with Python's csv module (an independent reader)."""
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))


def undone(value: str) -> str:
    """Remove the apostrophe the rule adds (what the release README tells researchers to do)."""
    return value[1:] if value.startswith("'") and begins_with_formula(value[1:]) else value


def assert_csv(frame: pd.DataFrame) -> None:
    """Check csv_bytes under both rules: rule 0 is pandas' bytes; rule 1 is `expected_csv`, and reads back as the text."""
    assert csv_format.csv_bytes(frame, csv_format.PLAIN_RULE) == pandas_csv(frame)
    written = csv_format.csv_bytes(frame)
    assert written == expected_csv(frame)
    if any("\r" in v for c in frame.columns for v in frame[c].tolist() if isinstance(v, str)):
        return  # pandas leaves a carriage return inside text unquoted, which no reader reads back as one field
    plain, guarded = read_back(pandas_csv(frame)), read_back(written)
    assert len(plain) == len(guarded) and guarded[0] == plain[0]
    for n, name in enumerate(frame.columns):
        series = frame.iloc[:, n]
        for row, value in enumerate(series.tolist()):
            got, was = guarded[row + 1][n], plain[row + 1][n]
            if is_text(series, value) and begins_with_formula(value):
                assert got == "'" + value, (name, row, got)
                assert undone(got) == was
            else:
                assert got == was, (name, row, got)
