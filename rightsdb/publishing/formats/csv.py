"""CSV files: UTF-8, "\\n" line endings, byte for byte what pandas' `to_csv(index=False)` writes.

The published CSV files are hashed and must not change between versions of this code, so the bytes
follow the csv module's QUOTE_MINIMAL rules and pandas' value formatting exactly (tests compare the
two). pyarrow's own CSV writer quotes every string, so it cannot be used.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from rightsdb.publishing.formats import cells
from rightsdb.publishing.formats.cells import arrow_column, concatenated, float_texts


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


def _csv_texts(array: pa.Array, only_column: bool) -> pa.Array:
    """Return each value of a column as its CSV field text (quoted where needed, empty when missing)."""
    kind = array.type
    if pa.types.is_string(kind):
        needs = pc.match_substring_regex(array, CSV_SPECIAL)
        quoted = pc.binary_join_element_wise('"', pc.replace_substring(array, '"', '""'), '"', "")
        texts = pc.if_else(needs, quoted, array)
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


def csv_chunks(frame: pd.DataFrame) -> Iterator[bytes]:
    """Yield a table as UTF-8 CSV with "\\n" line endings, a block of rows at a time (see `csv_bytes`)."""
    header = io.StringIO()
    csv.writer(header, lineterminator="\n").writerow([str(c) for c in frame.columns])
    yield header.getvalue().encode("utf-8")
    if len(frame.columns) == 0:
        return
    only_column = len(frame.columns) == 1
    columns = [arrow_column(frame.iloc[:, n]) for n in range(len(frame.columns))]
    for start in range(0, len(frame), cells.BLOCK_ROWS):
        texts = [_csv_texts(c.slice(start, cells.BLOCK_ROWS), only_column) for c in columns]
        rows = pc.binary_join_element_wise(*texts, ",")
        yield concatenated(pc.binary_join_element_wise(rows, "\n", ""))


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """Serialise a table as UTF-8 CSV with "\\n" line endings, byte for byte as pandas' to_csv does."""
    return b"".join(csv_chunks(frame))
