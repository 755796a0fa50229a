"""Apache Parquet files: snappy-compressed, without statistics, and without any library's version in them.

Left to itself, pyarrow writes two version strings into every file: pandas' schema metadata (the pandas
and pyarrow versions, in the `pandas` key and again inside `ARROW:schema`) and the footer's `created_by`
("parquet-cpp-arrow version 26.0.1"). Either makes a rebuild with another pyarrow or pandas release
differ by a few bytes although not a value changed. So the Arrow schema is chosen here from the column
types (never from pandas' own choice of string type, which changed between pandas 2 and 3), it carries
no metadata, and `created_by` is rewritten in the footer to CREATED_BY: pyarrow (up to 26 at least)
offers no option to set it (apache/arrow#45902 only proposes to read the writer's properties).
"""

from __future__ import annotations

import struct
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

#: The footer's `created_by`: which program wrote the file, with no library version in it.
CREATED_BY = "rightsdb (parquet-cpp-arrow)"
MAGIC = b"PAR1"
#: The field of Parquet's FileMetaData (a Thrift struct) that holds `created_by`.
CREATED_BY_FIELD = 6


def arrow_type(series: pd.Series) -> pa.DataType:
    """Return the Arrow type of a release column: bool, int64, float64 or (any other column) large text."""
    if pd.api.types.is_bool_dtype(series):
        return pa.bool_()
    if pd.api.types.is_integer_dtype(series):
        return pa.int64()
    if pd.api.types.is_float_dtype(series):
        return pa.float64()
    return pa.large_string()


def write_parquet(path: Path, frame: pd.DataFrame, *, release=None, labels=None) -> None:
    """Write a Parquet file (snappy, no statistics, no metadata, CREATED_BY); the release and labels are not stored in it."""
    schema = pa.schema([pa.field(str(name), arrow_type(frame[name])) for name in frame.columns])
    table = pa.Table.from_pandas(frame, schema=schema, preserve_index=False).replace_schema_metadata(None)
    pq.write_table(table, path, compression="snappy", write_statistics=False)
    set_created_by(path, CREATED_BY)


# ---- the footer's created_by ------------------------------------------------------------------------
# A Parquet file ends with its FileMetaData (Thrift compact protocol), the metadata's length (4 bytes,
# little-endian) and "PAR1". Every offset in the metadata points before it, so the metadata can be
# written again with another created_by without touching anything else.


def _varint(data: bytes, at: int) -> tuple[int, int]:
    """Read an unsigned LEB128 varint at `at`; return (value, the offset after it)."""
    value = shift = 0
    while True:
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, at
        shift += 7


def _encode_varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _skip(data: bytes, at: int, kind: int, *, in_list: bool = False) -> int:
    """Return the offset after a compact-protocol value of type `kind` starting at `at`."""
    if kind in (1, 2):  # booleans: in the field header itself, one byte in a list
        return at + 1 if in_list else at
    if kind == 3:  # i8
        return at + 1
    if kind in (4, 5, 6):  # i16, i32, i64 (zigzag varints)
        return _varint(data, at)[1]
    if kind == 7:  # double
        return at + 8
    if kind == 8:  # binary or string
        size, at = _varint(data, at)
        return at + size
    if kind in (9, 10):  # list, set
        header = data[at]
        at += 1
        size, element = header >> 4, header & 0x0F
        if size == 15:
            size, at = _varint(data, at)
        for _ in range(size):
            at = _skip(data, at, element, in_list=True)
        return at
    if kind == 11:  # map
        size, at = _varint(data, at)
        if size:
            types = data[at]
            at += 1
            for _ in range(size):
                at = _skip(data, at, types >> 4, in_list=True)
                at = _skip(data, at, types & 0x0F, in_list=True)
        return at
    if kind == 12:  # struct
        return _struct_fields(data, at)[1]
    if kind == 13:  # uuid
        return at + 16
    raise ValueError(f"unknown Thrift compact type {kind} at byte {at} of the Parquet footer")


def _struct_fields(data: bytes, at: int) -> tuple[dict[int, tuple[int, int, int]], int]:
    """Read a compact-protocol struct at `at`: {field id: (type, value start, value end)} and the offset after it."""
    fields: dict[int, tuple[int, int, int]] = {}
    field = 0
    while True:
        header = data[at]
        at += 1
        if header == 0:  # stop
            return fields, at
        kind, delta = header & 0x0F, header >> 4
        if delta:
            field += delta
        else:
            zigzag, at = _varint(data, at)
            field = (zigzag >> 1) ^ -(zigzag & 1)
        start = at
        at = _skip(data, at, kind)
        fields[field] = (kind, start, at)


def set_created_by(path: Path, created_by: str) -> None:
    """Rewrite the footer of the Parquet file at `path` so that its `created_by` is `created_by`."""
    with Path(path).open("r+b") as handle:
        handle.seek(-8, 2)
        tail = handle.read(8)
        if tail[4:] != MAGIC:
            raise ValueError(f"{path} is not a Parquet file (no PAR1 at its end)")
        (length,) = struct.unpack("<I", tail[:4])
        end = handle.seek(0, 2) - 8
        handle.seek(end - length)
        footer = handle.read(length)
        fields, size = _struct_fields(footer, 0)
        if size != length or fields.get(CREATED_BY_FIELD, (8,))[0] != 8:
            raise ValueError(f"the footer of {path} is not a Parquet FileMetaData this code can read")
        if CREATED_BY_FIELD not in fields:
            return  # nothing names the writer
        _kind, start, stop = fields[CREATED_BY_FIELD]
        # The value starts with its length (a varint): `start` is where that length begins.
        text = created_by.encode("utf-8")
        rewritten = footer[:start] + _encode_varint(len(text)) + text + footer[stop:]
        handle.seek(end - length)
        handle.write(rewritten + struct.pack("<I", len(rewritten)) + MAGIC)
        handle.truncate()
