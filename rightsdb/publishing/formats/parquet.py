"""Apache Parquet files: snappy-compressed, without statistics."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq


def write_parquet(path: Path, frame: pd.DataFrame, *, release=None, labels=None) -> None:
    """Write a Parquet file (snappy, no statistics); the release and labels are not stored in it."""
    table = pa.Table.from_pandas(frame, preserve_index=False)
    pq.write_table(table, path, compression="snappy", write_statistics=False)
