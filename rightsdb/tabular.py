"""Serialise tables as CSV and as SpreadsheetML sheets with pyarrow compute kernels, a column at a time.

A release writes about 2.5 million cells (the citations table alone is ~100 MB of CSV). Formatting
them one Python value at a time cost most of the build, so every cell here is made by vectorised
pyarrow string kernels (which also release the GIL, so a sheet can be written beside other work):

- `csv_bytes` gives exactly what pandas' `DataFrame.to_csv(index=False, lineterminator="\\n")` gives
  (the csv module's QUOTE_MINIMAL rules and pandas' value formatting; tests compare the two), because
  the published CSV files are hashed and must not change between versions of this code. pyarrow's own
  CSV writer quotes every string, so it cannot be used.
- `sheet_xml` yields a worksheet's XML: text as inline strings (never a formula), numbers and booleans
  typed, empty cells left out. The workbook around it is assembled in `rightsdb.exports`.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

#: Rows per block: bounds the memory of the text being built (a block of citations is ~14 MB of XML,
#: held three or four times over by the intermediate arrays).
BLOCK_ROWS = 10_000


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
#: The control characters XML 1.0 cannot hold (openpyxl's ILLEGAL_CHARACTERS_RE), as an RE2 class.
XML_ILLEGAL = "[\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f]"


def _arrow(series: pd.Series) -> pa.Array:
    """Return a column as one Arrow array (strings, integers, floats, booleans; anything else as text)."""
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_integer_dtype(dtype) or pd.api.types.is_float_dtype(dtype):
        array = pa.array(series, from_pandas=True)
    elif pd.api.types.is_string_dtype(dtype) and dtype != object:
        array = pa.array(series, from_pandas=True)
    else:
        # Object columns: pandas writes str(value), and empty for missing values.
        array = pa.array([None if _missing(v) else (v if isinstance(v, str) else str(v)) for v in series.tolist()], type=pa.string())
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if pa.types.is_large_string(array.type) or pa.types.is_string_view(array.type):
        array = array.cast(pa.string())
    return array


def _missing(value) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def _float_texts(array: pa.Array, finite_only: bool) -> pa.Array:
    """Format floats as Python's repr does (what pandas writes: 1.0, 0.333333, 1e-07), via their distinct values."""
    encoded = pc.dictionary_encode(array)
    texts = []
    for value in encoded.dictionary.to_pylist():
        if finite_only and not math.isfinite(value):
            texts.append(None)
        else:
            texts.append(repr(float(value)))
    return pc.take(pa.array(texts, type=pa.string()), encoded.indices)


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
        texts = _float_texts(array, finite_only=False)
        texts = pc.if_else(pc.is_nan(array), None, texts) if len(array) else texts
    else:  # pragma: no cover - _arrow turns everything else into strings
        raise TypeError(f"cannot write a {kind} column")
    texts = pc.fill_null(texts, "")
    if only_column:
        # The csv module writes a row holding a single empty field as "" (so that it is not a blank line).
        texts = pc.if_else(pc.equal(texts, ""), '""', texts)
    return texts


def concatenated(array: pa.Array) -> bytes:
    """Return the UTF-8 bytes of every string of an array without nulls, end to end (no Python strings)."""
    if len(array) == 0:
        return b""
    if not pa.types.is_large_string(array.type):
        array = array.cast(pa.large_string())
    _validity, offsets, data = array.buffers()
    bounds = np.frombuffer(offsets, dtype=np.int64)[array.offset:array.offset + len(array) + 1]
    if data is None:
        return b""
    return memoryview(data)[int(bounds[0]):int(bounds[-1])].tobytes()


def csv_chunks(frame: pd.DataFrame) -> Iterator[bytes]:
    """Yield a table as UTF-8 CSV with "\\n" line endings, a block of rows at a time (see `csv_bytes`)."""
    header = io.StringIO()
    csv.writer(header, lineterminator="\n").writerow([str(c) for c in frame.columns])
    yield header.getvalue().encode("utf-8")
    if len(frame.columns) == 0:
        return
    only_column = len(frame.columns) == 1
    columns = [_arrow(frame.iloc[:, n]) for n in range(len(frame.columns))]
    for start in range(0, len(frame), BLOCK_ROWS):
        texts = [_csv_texts(c.slice(start, BLOCK_ROWS), only_column) for c in columns]
        rows = pc.binary_join_element_wise(*texts, ",")
        yield concatenated(pc.binary_join_element_wise(rows, "\n", ""))


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """Serialise a table as UTF-8 CSV with "\\n" line endings, byte for byte as pandas' to_csv does."""
    return b"".join(csv_chunks(frame))


def column_letter(n: int) -> str:
    """Return the spreadsheet column letters of the 1-based column n (1 -> A, 27 -> AA)."""
    letters = ""
    while n:
        n, remainder = divmod(n - 1, 26)
        letters = chr(65 + remainder) + letters
    return letters


def illegal_xml_text(array: pa.Array) -> str | None:
    """Return the first value holding a character XML cannot carry, or None."""
    if not pa.types.is_string(array.type) or len(array) == 0:
        return None
    bad = pc.fill_null(pc.match_substring_regex(array, XML_ILLEGAL), False)
    if not pc.any(bad).as_py():
        return None
    return pc.filter(array, bad)[0].as_py()


def _cell_texts(array: pa.Array, letter: str, rows: pa.Array) -> pa.Array:
    """Return each value's <c> element (empty for a missing value or empty text)."""
    kind = array.type
    ref = pc.binary_join_element_wise(f'<c r="{letter}', rows, "")
    if pa.types.is_string(kind):
        escaped = pc.replace_substring(pc.replace_substring(pc.replace_substring(array, "&", "&amp;"), "<", "&lt;"), ">", "&gt;")
        # xml:space="preserve" only where it matters (leading or trailing white space): it was a tenth of the XML.
        opening = pc.if_else(pc.match_substring_regex(array, r"^\s|\s$"), '" t="inlineStr"><is><t xml:space="preserve">', '" t="inlineStr"><is><t>')
        cells = pc.binary_join_element_wise(ref, opening, escaped, "</t></is></c>", "")
        cells = pc.if_else(pc.equal(array, ""), "", cells)
    elif pa.types.is_boolean(kind):
        cells = pc.binary_join_element_wise(ref, '" t="b"><v>', pc.if_else(array, "1", "0"), "</v></c>", "")
    elif pa.types.is_integer(kind):
        cells = pc.binary_join_element_wise(ref, '"><v>', pc.cast(array, pa.string()), "</v></c>", "")
    elif pa.types.is_floating(kind):
        cells = pc.binary_join_element_wise(ref, '"><v>', _float_texts(array, finite_only=True), "</v></c>", "")
    else:  # pragma: no cover - _arrow turns everything else into strings
        raise TypeError(f"cannot write a {kind} column")
    return pc.fill_null(cells, "")


def arrow_columns(frame: pd.DataFrame) -> tuple[list[str], list[pa.Array]]:
    """Return a table's column names and its columns as Arrow arrays (immutable: safe to hand to a thread)."""
    return [str(c) for c in frame.columns], [_arrow(frame.iloc[:, n]) for n in range(len(frame.columns))]


def sheet_xml(names: list[str], columns: list[pa.Array], main_namespace: str) -> Iterator[bytes]:
    """Yield a worksheet's XML (UTF-8) in blocks of rows, the header row first (see `arrow_columns`).

    Raises openpyxl's IllegalCharacterError, as openpyxl would, for text XML cannot hold.
    """
    rows_total = len(columns[0]) if columns else 0
    for column in columns:
        bad = illegal_xml_text(column)
        if bad is not None:
            from openpyxl.utils.exceptions import IllegalCharacterError

            raise IllegalCharacterError(f"{bad!r} cannot be used in worksheets.")
    letters = [column_letter(n) for n in range(1, len(columns) + 1)]
    header = pa.array(names, type=pa.string())
    head_cells = [_cell_texts(header.slice(n, 1), letter, pa.array(["1"])) for n, letter in enumerate(letters)]
    head = "".join(c[0].as_py() for c in head_cells)
    yield (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<worksheet xmlns="{main_namespace}"><sheetData>'
           f'<row r="1">{head}</row>').encode("utf-8")
    for start in range(0, rows_total, BLOCK_ROWS):
        count = min(BLOCK_ROWS, rows_total - start)
        numbers = pc.cast(pa.array(np.arange(start + 2, start + 2 + count, dtype=np.int64)), pa.string())
        cells = [_cell_texts(c.slice(start, count), letter, numbers) for c, letter in zip(columns, letters)]
        rows = pc.binary_join_element_wise('<row r="', numbers, '">', *cells, "</row>", "")
        yield concatenated(rows)
    yield b"</sheetData></worksheet>"
