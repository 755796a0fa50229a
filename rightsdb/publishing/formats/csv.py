"""CSV files: UTF-8, "\\n" line endings, pandas' `to_csv(index=False)` bytes, with OWASP's rule for formula text.

The published CSV files are hashed and must not change between versions of this code (under the rule
they were written with, below), so the bytes follow the csv module's QUOTE_MINIMAL rules and pandas'
value formatting exactly (tests compare the two). pyarrow's own CSV writer quotes every string, so it
cannot be used.

A spreadsheet opening a CSV file runs a cell that begins with "=", "+", "-", "@", a tab or a carriage
return as a formula. Files are written under a numbered rule (CSV_RULES), recorded in the release's
datapackage.json so that a release is always rebuilt under the rule it was published with:

- PLAIN_RULE (0): every field exactly as pandas writes it (the releases published before rule 1).
- FORMULA_RULE (1): OWASP's rule for CSV injection on top of rule 0. A text cell that begins with one
  of those characters, after any apostrophes, is written with one more apostrophe in front and in
  double quotes ("=1+1" as "'=1+1" in quotes); removing one apostrophe from such a cell gives the text
  back. A text cell holding ";" or a tab right before one of those characters is quoted, so that a
  spreadsheet splitting fields on ";" or tabs keeps it one cell. Only text cells: numbers and
  booleans (-1, -0.5), and numbers in a mixed column, never change; text such as "-5" does.
  The header row is the code's own column names and is written as in rule 0.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from rightsdb.publishing.formats import cells
from rightsdb.publishing.formats.cells import arrow_column, concatenated, float_texts, text_values

#: Every field as pandas writes it: the rule of the releases published before FORMULA_RULE.
PLAIN_RULE = 0
#: OWASP's rule for CSV injection (see the module's docstring).
FORMULA_RULE = 1
#: The rules this code can write, oldest first.
CSV_RULES = (PLAIN_RULE, FORMULA_RULE)
#: The rule new files are written with.
CSV_RULE = FORMULA_RULE

#: The characters that make a spreadsheet read a cell beginning with one as a formula (OWASP).
FORMULA_CHARACTERS = "=+-@\t\r"
_FORMULA_CLASS = "[=+\\-@\\t\\r]"
#: A text cell FORMULA_RULE prefixes: one that begins, after any apostrophes, with a formula character.
FORMULA_START = "^'*" + _FORMULA_CLASS
#: A piece of text that a spreadsheet splitting fields on ";" or tabs would read as a formula.
FORMULA_AFTER_SEPARATOR = "[;\\t]" + _FORMULA_CLASS
#: A Python regular expression matching the apostrophe FORMULA_RULE added in front of a text cell.
UNDO_PATTERN = r"^'(?='*[=+\-@\t\r])"


def _csv_special() -> str:
    """Return (as an RE2 class) the characters that make the csv module quote a field with "\\n" line ends.

    Asked of the csv module itself, which pandas writes with: whether a lone carriage return is quoted
    has differed between Python versions.
    """
    special = ['"', ",", "\\n"]
    probe = io.StringIO()
    csv.writer(probe, lineterminator="\n").writerow(["a\rb"])
    if probe.getvalue().startswith('"'):
        special.append("\\r")
    return "[" + "".join(special) + "]"


#: The characters that make the csv module quote a field (QUOTE_MINIMAL, "," and "\n").
CSV_SPECIAL = _csv_special()


def check_rule(rule: int) -> int:
    """Return `rule` if this code can write it; raise ValueError naming the rules it knows otherwise."""
    if type(rule) is not int or rule not in CSV_RULES:
        raise ValueError(f"Unknown CSV rule {rule!r}: this version of rightsdb writes rules {', '.join(map(str, CSV_RULES))}.")
    return rule


#: The formula characters' bytes (ASCII; like ";" and tab, never a byte of another character in UTF-8).
_FORMULA_BYTES = np.zeros(256, dtype=bool)
_FORMULA_BYTES[list(FORMULA_CHARACTERS.encode())] = True
_APOSTROPHE, _SEMICOLON, _TAB = b"'", b";", b"\t"


def formula_marks(array: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Return which strings begin with formula text (FORMULA_START) and which hold FORMULA_AFTER_SEPARATOR.

    Read from the bytes (first bytes, then the bytes after each ";" or tab) rather than by a regex over
    every value; a regex only for the strings that begin with an apostrophe.
    """
    count = len(array)
    if count == 0:
        return np.zeros(0, dtype=bool), np.zeros(0, dtype=bool)
    bounds, data = cells.string_bounds(array)
    starts, ends = bounds[:-1], bounds[1:]
    filled = ends > starts
    first = data[np.minimum(starts, len(data) - 1)]  # an empty value's "first byte" is not used
    start = filled & _FORMULA_BYTES[first]
    apostrophe = filled & (first == _APOSTROPHE[0])
    if apostrophe.any():
        start |= apostrophe & pc.fill_null(pc.match_substring_regex(array, FORMULA_START), False).to_numpy(zero_copy_only=False)
    split = np.zeros(count, dtype=bool)
    low, high = int(bounds[0]), int(bounds[-1])
    content = data[low:high]
    present = content.tobytes()  # a search for the two bytes first: most columns hold neither
    if _SEMICOLON in present or _TAB in present:
        separators = np.flatnonzero((content == _SEMICOLON[0]) | (content == _TAB[0])) + low
        separators = separators[separators + 1 < high]
        separators = separators[_FORMULA_BYTES[data[separators + 1]]]
    else:
        separators = np.zeros(0, dtype=np.int64)
    if len(separators):
        rows = np.searchsorted(bounds, separators, side="right") - 1
        split[rows[separators + 1 < ends[rows]]] = True  # the next byte is of the same value
    if array.null_count:
        valid = array.is_valid().to_numpy(zero_copy_only=False)
        start, split = start & valid, split & valid
    return start, split


def _text_fields(array: pa.Array, text: pa.Array | None, rule: int) -> pa.Array:
    """Return the CSV field of each string (quoted where needed; under FORMULA_RULE, formula text guarded).

    `text` marks the strings that are text (None: all are), as opposed to numbers written as text.
    """
    quote = pc.match_substring_regex(array, CSV_SPECIAL)
    opening: str | pa.Array = '"'
    if rule != PLAIN_RULE:
        start, split = formula_marks(array)
        if text is not None:
            start &= text.to_numpy(zero_copy_only=False)
        if start.any():  # one join for both kinds of quoted field: each opens with its own prefix
            opening = pc.if_else(pa.array(start), "\"'", '"')
            split |= start
        if split.any():
            quote = pc.or_(quote, pa.array(split))
    quoted = pc.binary_join_element_wise(opening, pc.replace_substring(array, '"', '""'), '"', "")
    return pc.if_else(quote, quoted, array)


def _csv_texts(array: pa.Array, text: pa.Array | None, only_column: bool, rule: int) -> pa.Array:
    """Return each value of a column as its CSV field text (quoted where needed, empty when missing)."""
    kind = array.type
    if pa.types.is_string(kind):
        texts = _text_fields(array, text, rule)
    elif pa.types.is_boolean(kind):
        texts = pc.if_else(array, "True", "False")
    elif pa.types.is_integer(kind):
        texts = pc.cast(array, pa.string())
    elif pa.types.is_floating(kind):
        texts = float_texts(array, finite_only=False)
        texts = pc.if_else(pc.is_nan(array), None, texts) if len(array) else texts
    else:  # pragma: no cover - _arrow turns everything else into strings
        raise TypeError(f"cannot write a {kind} column")
    texts = pc.fill_null(texts, "")
    if only_column:
        # The csv module writes a row holding a single empty field as "" (so that it is not a blank line).
        texts = pc.if_else(pc.equal(texts, ""), '""', texts)
    return texts


def csv_chunks(frame: pd.DataFrame, rule: int = CSV_RULE) -> Iterator[bytes]:
    """Yield a table as UTF-8 CSV with "\\n" line endings, a block of rows at a time (see `csv_bytes`).

    An unknown `rule` is refused here, before a byte is yielded.
    """
    return _chunks(frame, check_rule(rule))


def _chunks(frame: pd.DataFrame, rule: int) -> Iterator[bytes]:
    header = io.StringIO()
    csv.writer(header, lineterminator="\n").writerow([str(c) for c in frame.columns])
    yield header.getvalue().encode("utf-8")
    if len(frame.columns) == 0:
        return
    only_column = len(frame.columns) == 1
    columns = [arrow_column(frame.iloc[:, n]) for n in range(len(frame.columns))]
    texts = [text_values(frame.iloc[:, n]) if rule != PLAIN_RULE else None for n in range(len(frame.columns))]
    for start in range(0, len(frame), cells.BLOCK_ROWS):
        fields = [
            _csv_texts(c.slice(start, cells.BLOCK_ROWS), None if t is None else t.slice(start, cells.BLOCK_ROWS), only_column, rule)
            for c, t in zip(columns, texts)
        ]
        rows = pc.binary_join_element_wise(*fields, ",")
        yield concatenated(pc.binary_join_element_wise(rows, "\n", ""))


def csv_bytes(frame: pd.DataFrame, rule: int = CSV_RULE) -> bytes:
    """Serialise a table as UTF-8 CSV with "\\n" line endings: pandas' to_csv bytes, under CSV rule `rule`."""
    return b"".join(csv_chunks(frame, rule))


_SPECIAL_RE = re.compile(CSV_SPECIAL)
_QUOTE_UNDER_RULE_RE = re.compile(f"{CSV_SPECIAL}|{FORMULA_AFTER_SEPARATOR}")
_FORMULA_START_RE = re.compile(FORMULA_START)


def csv_field(value: str, *, text: bool = True, rule: int = CSV_RULE) -> str:
    """Return one field as `csv_chunks` writes it: a text cell (`text`) or a number's or a boolean's text.

    For CSV written a row at a time (the reliability report); the same rule as the column writer.
    """
    check_rule(rule)
    if text and rule != PLAIN_RULE and _FORMULA_START_RE.match(value):
        return "\"'" + value.replace('"', '""') + '"'
    if (_SPECIAL_RE if rule == PLAIN_RULE else _QUOTE_UNDER_RULE_RE).search(value):
        return '"' + value.replace('"', '""') + '"'
    return value
