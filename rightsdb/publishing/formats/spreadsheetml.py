"""Worksheets as SpreadsheetML, made by pyarrow kernels a column at a time (see `formats.cells`).

`sheet_xml` yields a worksheet's XML: text as strings (never a formula; repeated values through the
workbook's shared strings table, `shared_strings`, the rest inline), numbers and booleans typed,
empty cells left out. The workbook around the sheets is assembled in `formats.xlsx`.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from rightsdb.publishing.formats import cells
from rightsdb.publishing.formats.cells import arrow_column, concatenated, float_texts

#: The characters XML 1.0 cannot hold, as an RE2 class: the C0 controls but tab, newline and carriage return
#: (openpyxl's ILLEGAL_CHARACTERS_RE), and the noncharacters U+FFFE and U+FFFF (which openpyxl writes, and then
#: cannot read: no XML parser accepts them).
XML_ILLEGAL = "[\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x{fffe}\\x{ffff}]"


def column_letter(n: int) -> str:
    """Return the spreadsheet column letters of the 1-based column n (1 -> A, 27 -> AA)."""
    letters = ""
    while n:
        n, remainder = divmod(n - 1, 26)
        letters = chr(65 + remainder) + letters
    return letters


# --- Worksheets --------------------------------------------------------------------------------------
#
# A cell is written as `<c r="B12` + what follows its row number, its "suffix": `" t="s"><v>7</v></c>`.
# The suffixes of a block of rows are made column by column, then every row's text is made by ONE
# join over all its pieces (prefix, row number, suffix, column after column), so that no cell is copied
# twice. A missing cell has a null suffix and is left out of its row.
#
# Text columns whose values repeat (codes, rounds, titles, URLs...) are dictionary-encoded once for the
# whole column: each distinct value is escaped and formatted once, and a block only takes the suffixes
# of its rows. In a workbook those values go to the shared strings table (`shared_strings`), which
# Excel itself always writes; near-unique text (excerpts) stays inline, where it costs no more bytes.

#: At most this many distinct values per non-empty value (in a sample, then in all) make a text column repetitive.
REPETITIVE_RATIO = 0.5
#: Rows of a text column sampled to tell whether its values repeat.
SAMPLE_ROWS = 10_000

INLINE_OPEN = '" t="inlineStr"><is><t>'
INLINE_OPEN_PRESERVE = '" t="inlineStr"><is><t xml:space="preserve">'
INLINE_CLOSE = "</t></is></c>"
_NULL_TEXT = pa.scalar(None, type=pa.string())
_ESCAPES = ((b"&", "&", "&amp;"), (b"<", "<", "&lt;"), (b">", ">", "&gt;"))
#: Bytes that are RE2's \s (what `^\s|\s$` matched): text with one at either end keeps xml:space="preserve".
_SPACE_BYTES = np.zeros(256, dtype=bool)
_SPACE_BYTES[[0x09, 0x0A, 0x0C, 0x0D, 0x20]] = True
#: The bytes of XML_ILLEGAL's control characters (single bytes in UTF-8).
_ILLEGAL_BYTES = np.zeros(256, dtype=bool)
_ILLEGAL_BYTES[[*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20)]] = True
#: U+FFFE and U+FFFF in UTF-8 are EF BF BE and EF BF BF.
_NONCHARACTER_LEAD, _NONCHARACTER_SECOND = 0xEF, 0xBF


def _bounds_and_data(array: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Return a string array's value offsets (len + 1, into the data) and its data bytes, as numpy views."""
    _validity, offsets, data = array.buffers()[:3]
    kind = np.int64 if pa.types.is_large_string(array.type) else np.int32
    bounds = np.frombuffer(offsets, dtype=kind)[array.offset : array.offset + len(array) + 1]
    data = np.frombuffer(data, dtype=np.uint8) if data is not None and data.size else np.zeros(1, dtype=np.uint8)
    return bounds, data


def illegal_xml_text(array: pa.Array) -> str | None:
    """Return the first value holding a character XML cannot carry, or None."""
    if not pa.types.is_string(array.type) or len(array) == 0:
        return None
    bounds, data = _bounds_and_data(array)
    text = data[int(bounds[0]) : int(bounds[-1])]
    controls = text[text < 0x20]  # a byte scan: a regex over every value cost seconds at world scale
    if not _ILLEGAL_BYTES[controls].any() and not _holds_noncharacter(text):
        return None
    bad = pc.fill_null(pc.match_substring_regex(array, XML_ILLEGAL), False)
    if not pc.any(bad).as_py():
        return None
    return pc.filter(array, bad)[0].as_py()


def _holds_noncharacter(text: np.ndarray) -> bool:
    """Tell whether UTF-8 bytes hold U+FFFE or U+FFFF (EF BF BE, EF BF BF), by a byte scan."""
    leads = np.flatnonzero(text[:-2] == _NONCHARACTER_LEAD)
    if not len(leads):
        return False
    return bool(((text[leads + 1] == _NONCHARACTER_SECOND) & (text[leads + 2] >= 0xBE)).any())


def _escaped(array: pa.Array) -> pa.Array:
    """Escape &, < and > (a pass only for those present)."""
    bounds, data = _bounds_and_data(array)
    present = data[int(bounds[0]) : int(bounds[-1])].tobytes()
    for byte, char, entity in _ESCAPES:
        if byte in present:
            array = pc.replace_substring(array, char, entity)
    return array


def _text_elements(array: pa.Array, opening: str, opening_preserve: str, closing: str) -> pa.Array:
    """Return opening + escaped text + closing per value (null for a missing value or empty text).

    `opening_preserve` (with xml:space="preserve") is used only where it matters, for text with white
    space at either end: everywhere it was a tenth of the XML.
    """
    if len(array) == 0:
        return pa.array([], type=pa.string())
    bounds, data = _bounds_and_data(array)
    starts, ends = bounds[:-1], bounds[1:]
    empty = ends <= starts
    first = data[np.where(empty, 0, starts)]
    last = data[np.where(empty, 0, ends - 1)]
    edged = ~empty & (_SPACE_BYTES[first] | _SPACE_BYTES[last])
    opening = pc.if_else(pa.array(edged), opening_preserve, opening) if edged.any() else opening
    elements = pc.binary_join_element_wise(opening, _escaped(array), closing, "")
    if empty.any():
        elements = pc.if_else(pa.array(empty), _NULL_TEXT, elements)
    return elements


def _inline_suffixes(array: pa.Array) -> pa.Array:
    """Return each text's inline-string suffix (null for a missing value or empty text)."""
    return _text_elements(array, INLINE_OPEN, INLINE_OPEN_PRESERVE, INLINE_CLOSE)


def _value_suffixes(array: pa.Array) -> pa.Array:
    """Return each value's suffix (null where the cell is left out): text inline, numbers and booleans typed."""
    kind = array.type
    if pa.types.is_string(kind):
        return _inline_suffixes(array)
    if pa.types.is_boolean(kind):
        return pc.if_else(array, '" t="b"><v>1</v></c>', '" t="b"><v>0</v></c>')
    if pa.types.is_integer(kind):
        return pc.binary_join_element_wise('"><v>', pc.cast(array, pa.string()), "</v></c>", "")
    if pa.types.is_floating(kind):
        # Not a number and the infinities have no cell value: left out.
        return pc.binary_join_element_wise('"><v>', float_texts(array, finite_only=True), "</v></c>", "")
    raise TypeError(f"cannot write a {kind} column")  # pragma: no cover - _arrow turns everything else into strings


def _distinct_ratio(array: pa.Array, encoded: pa.DictionaryArray) -> float:
    """Return distinct non-empty values per non-empty value of a text column and its encoding (0 if none)."""
    values = pc.sum(pc.greater(pc.binary_length(array), 0)).as_py() or 0
    if not values:
        return 0.0
    return (len(encoded.dictionary) - (pc.sum(pc.equal(encoded.dictionary, "")).as_py() or 0)) / values


def _repetitive(array: pa.Array) -> pa.DictionaryArray | None:
    """Return a text column dictionary-encoded if its non-empty values repeat, else None (near-unique text)."""
    if not pa.types.is_string(array.type) or len(array) == 0:
        return None
    sample = array.slice(0, SAMPLE_ROWS)
    encoded = pc.dictionary_encode(sample)
    if _distinct_ratio(sample, encoded) > REPETITIVE_RATIO:
        return None
    if len(array) > len(sample):
        encoded = pc.dictionary_encode(array)
        if _distinct_ratio(array, encoded) > REPETITIVE_RATIO:
            return None
    return encoded


class SharedColumn:
    """A text column of a workbook whose values repeat: its values dictionary-encoded, and the index in the
    shared strings table of each distinct value (null for one that stays an inline string)."""

    __slots__ = ("encoded", "shared")

    def __init__(self, encoded: pa.DictionaryArray, shared: pa.Array):
        self.encoded, self.shared = encoded, shared


def _shareable(strings: pa.Array) -> np.ndarray:
    """Say which distinct values may go to the shared strings table.

    Not empty text (no cell), and not text holding "x005F_": openpyxl's shared strings reader deletes
    that (its reading of Excel's "_x005F_" escape) but its inline string reader does not, so such text
    stays inline and reads back as it always did.
    """
    shareable = pc.and_(pc.not_equal(strings, ""), pc.invert(pc.match_substring(strings, "x005F_")))
    return np.asarray(pc.fill_null(shareable, False).to_numpy(zero_copy_only=False), dtype=bool)


def shared_strings(tables: list[list[pa.Array]]) -> tuple[pa.Array, list[list[SharedColumn | None]]]:
    """Pick the text columns of a workbook whose values repeat and give their values a shared strings table.

    Returns the table's strings (in index order, each once) and, per table and column, a SharedColumn
    to pass to `sheet_xml` (None for a column that is written as it is).
    """
    columns: list[list[SharedColumn | None]] = []
    pending: list[tuple[int, int, pa.DictionaryArray, np.ndarray]] = []
    for t, arrays in enumerate(tables):
        columns.append([None] * len(arrays))
        for c, array in enumerate(arrays):
            encoded = _repetitive(array)
            if encoded is not None:
                pending.append((t, c, encoded, _shareable(encoded.dictionary)))
    if not pending:
        return pa.array([], type=pa.string()), columns
    chosen = [pc.filter(encoded.dictionary, pa.array(mask)) for _t, _c, encoded, mask in pending]
    unified = pc.dictionary_encode(pa.concat_arrays(chosen))
    numbers = unified.indices.to_numpy(zero_copy_only=False)
    start = 0
    for (t, c, encoded, mask), values in zip(pending, chosen):
        shared = np.zeros(len(mask), dtype=np.int64)
        shared[mask] = numbers[start : start + len(values)]
        start += len(values)
        columns[t][c] = SharedColumn(encoded, pa.array(shared, mask=~mask))
    return unified.dictionary, columns


def shared_count(columns: list[list[SharedColumn | None]]) -> int:
    """Return how many cells refer to the shared strings table (its `count`)."""
    total = 0
    for column in (c for table in columns for c in table if c is not None):
        total += len(column.encoded) - pc.take(column.shared, column.encoded.indices).null_count
    return total


def shared_strings_xml(strings: pa.Array, count: int, main_namespace: str) -> Iterator[bytes]:
    """Yield the shared strings table part (xl/sharedStrings.xml) holding `strings`, in blocks."""
    bad = illegal_xml_text(strings)
    if bad is not None:
        from openpyxl.utils.exceptions import IllegalCharacterError

        raise IllegalCharacterError(f"{bad!r} cannot be used in worksheets.")
    yield (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<sst xmlns="{main_namespace}" count="{count}" uniqueCount="{len(strings)}">'
    ).encode()
    for start in range(0, len(strings), cells.BLOCK_ROWS):
        items = _text_elements(strings.slice(start, cells.BLOCK_ROWS), "<si><t>", '<si><t xml:space="preserve">', "</t></si>")
        yield concatenated(items)
    yield b"</sst>"


def _column_plan(array: pa.Array, shared: SharedColumn | None) -> tuple[pa.Array, pa.Array] | None:
    """Return (per-row indices, suffix of each distinct value) for a column made by dictionary, or None."""
    if shared is not None:
        encoded = shared.encoded
        texts = pc.binary_join_element_wise('" t="s"><v>', pc.cast(shared.shared, pa.string()), "</v></c>", "")
        # Values kept out of the table (see _shareable) stay inline strings; empty text stays out.
        suffixes = pc.coalesce(texts, _inline_suffixes(encoded.dictionary))
        return encoded.indices, suffixes
    if pa.types.is_floating(array.type):
        # Floats are formatted through their distinct values anyway (repr): once for the whole column.
        encoded = pc.dictionary_encode(array)
        return encoded.indices, _value_suffixes(encoded.dictionary)
    encoded = _repetitive(array)
    if encoded is not None:
        return encoded.indices, _inline_suffixes(encoded.dictionary)
    return None


def _rows(numbers: pa.Array, prefixes: list[str], suffixes: list[pa.Array]) -> pa.Array:
    """Join a block's rows: each row's number and its cells, cells with a null suffix left out."""
    pieces: list = ['<row r="', numbers, '">']
    for prefix, suffix in zip(prefixes, suffixes):
        if suffix.null_count == 0:
            pieces += [prefix, numbers, suffix]
        elif suffix.null_count < len(suffix):
            pieces.append(pc.binary_join_element_wise(prefix, numbers, suffix, ""))
    pieces.append("</row>")
    return pc.binary_join_element_wise(*pieces, "", null_handling="skip")


def arrow_columns(frame: pd.DataFrame) -> tuple[list[str], list[pa.Array]]:
    """Return a table's column names and its columns as Arrow arrays (immutable: safe to hand to a thread).

    A character XML cannot carry (XML_ILLEGAL: a C0 control but tab, newline and carriage return, U+FFFE,
    U+FFFF) becomes U+FFFD, so that any text the database holds can be written; the CSV files keep it as it is.
    """
    return [str(c) for c in frame.columns], [_xml_safe(arrow_column(frame.iloc[:, n])) for n in range(len(frame.columns))]


def _xml_safe(array: pa.Array) -> pa.Array:
    """Replace the characters XML 1.0 cannot hold by U+FFFD (a byte scan first: nearly every column has none)."""
    if illegal_xml_text(array) is None:
        return array
    return pc.replace_substring_regex(array, XML_ILLEGAL, "\ufffd")


def sheet_xml(
    names: list[str], columns: list[pa.Array], main_namespace: str, shared: list[SharedColumn | None] | None = None
) -> Iterator[bytes]:
    """Yield a worksheet's XML (UTF-8) in blocks of rows, the header row first (see `arrow_columns`).

    `shared` (from `shared_strings`) says which columns' text is written as shared strings; without it
    all text is written as inline strings. Either way text is never a formula, numbers and booleans are
    typed, and missing values and empty text are left out.

    Raises openpyxl's IllegalCharacterError, as openpyxl would, for text XML cannot hold.
    """
    rows_total = len(columns[0]) if columns else 0
    shared = shared if shared is not None else [None] * len(columns)
    for column, plan in zip(columns, shared):
        bad = illegal_xml_text(column if plan is None else plan.encoded.dictionary)
        if bad is not None:
            from openpyxl.utils.exceptions import IllegalCharacterError

            raise IllegalCharacterError(f"{bad!r} cannot be used in worksheets.")
    prefixes = [f'<c r="{column_letter(n)}' for n in range(1, len(columns) + 1)]
    header = _rows(pa.array(["1"]), prefixes, [_inline_suffixes(pa.array([name], type=pa.string())) for name in names])
    yield (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<worksheet xmlns="{main_namespace}"><sheetData>{header[0].as_py()}'
    ).encode()
    plans = [_column_plan(column, plan) for column, plan in zip(columns, shared)]
    for start in range(0, rows_total, cells.BLOCK_ROWS):
        count = min(cells.BLOCK_ROWS, rows_total - start)
        numbers = pc.cast(pa.array(np.arange(start + 2, start + 2 + count, dtype=np.int64)), pa.string())
        suffixes = [
            _value_suffixes(column.slice(start, count)) if plan is None else pc.take(plan[1], plan[0].slice(start, count))
            for column, plan in zip(columns, plans)
        ]
        yield concatenated(_rows(numbers, prefixes, suffixes))
    yield b"</sheetData></worksheet>"
