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


def arrow_column(series: pd.Series) -> pa.Array:
    """Return a column as one Arrow array (strings, integers, floats, booleans; anything else as text)."""
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_integer_dtype(dtype) or pd.api.types.is_float_dtype(dtype):
        array = pa.array(series, from_pandas=True)
    elif pd.api.types.is_string_dtype(dtype) and dtype != object:  # noqa: E721 (a numpy dtype, not a type)
        array = pa.array(series, from_pandas=True)
    else:
        # Object columns: pandas writes str(value), and empty for missing values.
        array = pa.array([None if is_missing(v) else (v if isinstance(v, str) else str(v)) for v in series.tolist()], type=pa.string())
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if pa.types.is_large_string(array.type) or pa.types.is_string_view(array.type):
        array = array.cast(pa.string())
    return array


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
