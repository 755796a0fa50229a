"""Cell text from table columns, made by pyarrow kernels a column at a time (shared by the CSV and Excel writers).

A release writes about 2.5 million cells. Formatting them one Python value at a time cost most of the
build, so every cell is made by vectorised pyarrow string kernels, which also release the GIL (a sheet
can be written beside other work). Tables are cut into blocks of BLOCK_ROWS rows to bound the memory
of the text being built.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

#: Rows per block: bounds the memory of the text being built (a block of citations is ~14 MB of XML,
#: held three or four times over by the intermediate arrays).
BLOCK_ROWS = 10_000


def _one_type(dtype) -> bool:
    """Tell whether a column's values are all of one Arrow type (strings, integers, floats or booleans)."""
    if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_integer_dtype(dtype) or pd.api.types.is_float_dtype(dtype):
        return True
    return pd.api.types.is_string_dtype(dtype) and dtype != object  # noqa: E721 (a numpy dtype, not a type)


def arrow_column(series: pd.Series) -> pa.Array:
    """Return a column as one Arrow array (strings, integers, floats, booleans; anything else as text)."""
    if _one_type(series.dtype):
        array = pa.array(series, from_pandas=True)
    else:
        # Object columns: pandas writes str(value), and empty for missing values.
        array = pa.array([None if is_missing(v) else (v if isinstance(v, str) else str(v)) for v in series.tolist()], type=pa.string())
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if pa.types.is_large_string(array.type) or pa.types.is_string_view(array.type):
        array = array.cast(pa.string())
    return array


def text_values(series: pd.Series) -> pa.Array | None:
    """Return which values of a mixed (object) column are text, not a number or boolean written as text.

    None for a column of one type: arrow_column's strings are then all text. Missing values count as text.
    """
    if _one_type(series.dtype):
        return None
    return pa.array([isinstance(v, str) or is_missing(v) for v in series.tolist()], type=pa.bool_())


def is_missing(value) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def float_texts(array: pa.Array, finite_only: bool) -> pa.Array:
    """Format floats as Python's repr does (what pandas writes: 1.0, 0.333333, 1e-07), via their distinct values."""
    encoded = pc.dictionary_encode(array)
    texts = []
    for value in encoded.dictionary.to_pylist():
        if finite_only and not math.isfinite(value):
            texts.append(None)
        else:
            texts.append(repr(float(value)))
    return pc.take(pa.array(texts, type=pa.string()), encoded.indices)


def string_bounds(array: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Return a string array's value offsets (len + 1, into the data) and its data bytes, as numpy views."""
    _validity, offsets, data = array.buffers()[:3]
    kind = np.int64 if pa.types.is_large_string(array.type) else np.int32
    bounds = np.frombuffer(offsets, dtype=kind)[array.offset : array.offset + len(array) + 1]
    data = np.frombuffer(data, dtype=np.uint8) if data is not None and data.size else np.zeros(1, dtype=np.uint8)
    return bounds, data


def concatenated(array: pa.Array) -> bytes:
    """Return the UTF-8 bytes of every string of an array without nulls, end to end (no Python strings)."""
    if len(array) == 0:
        return b""
    if not pa.types.is_large_string(array.type):
        array = array.cast(pa.large_string())
    _validity, offsets, data = array.buffers()
    bounds = np.frombuffer(offsets, dtype=np.int64)[array.offset : array.offset + len(array) + 1]
    if data is None:
        return b""
    return memoryview(data)[int(bounds[0]) : int(bounds[-1])].tobytes()
