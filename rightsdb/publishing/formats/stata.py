"""Stata 118 files (.dta): variable labels, answer value labels and a fixed time stamp, so rebuilds are byte-identical."""

from __future__ import annotations

import warnings
from datetime import datetime, time
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from rightsdb.codebook.rules import ANSWER_CODES
from rightsdb.publishing.tables import ANSWER_COLUMNS


def _longest_utf8(column: pd.Series) -> int:
    """Return the UTF-8 length in bytes of the longest text of a column (counted by pyarrow, not per value in Python)."""
    lengths = pc.binary_length(pa.array(column.tolist(), type=pa.large_string()))
    return int(pc.max(lengths).as_py() or 0)


def write_stata(path: Path, frame: pd.DataFrame, *, release, labels: dict[str, str]) -> None:
    """Write a Stata 118 file with variable labels, answer value labels and a fixed time stamp."""
    from pandas.errors import InvalidColumnName

    data = frame.copy()
    for column in data.columns:
        if column in ANSWER_COLUMNS:
            data[column] = pd.Categorical(data[column].replace("", None), categories=list(ANSWER_CODES))
        elif pd.api.types.is_bool_dtype(data[column]):
            data[column] = data[column].astype("int8")
        elif pd.api.types.is_numeric_dtype(data[column]):
            data[column] = data[column].astype("float64")
        else:
            data[column] = data[column].astype(object).fillna("").astype(str)
    variable_labels = {c: labels.get(c, c)[:80] for c in data.columns}
    strl = [c for c in data.columns if data[c].dtype == object and _longest_utf8(data[c]) > 2000]
    with warnings.catch_warnings():
        # A column name Stata cannot hold would be silently renamed: refuse instead.
        warnings.simplefilter("error", InvalidColumnName)
        data.to_stata(
            path,
            write_index=False,
            version=118,
            time_stamp=datetime.combine(release.release_date, time()),
            data_label=f"rightsdb release {release.version}"[:80],
            variable_labels=variable_labels,
            convert_strl=strl,
        )
