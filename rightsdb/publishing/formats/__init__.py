"""The release's file formats, one module each, registered here: the release build and verify both read FORMATS.

Every table is written as CSV (`formats.csv`, the canonical, hashed form) and all of them together as
one Excel workbook (`formats.xlsx`). The formats in FORMATS write some of the tables, one file each
(data/<table>.<extension>); a new format is a module with a `write` function and one entry here. The
workbook is the one file whose bytes change on every build (its zip parts carry the build's clock
time), so verify compares every file but those in NOT_REPRODUCIBLE.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rightsdb.publishing.formats import parquet, stata

#: The workbook: every table of the release, one sheet each.
WORKBOOK = "data/release.xlsx"
#: Files whose bytes change on every build; they hold the same data as the verified CSV files.
NOT_REPRODUCIBLE = frozenset({WORKBOOK})


@dataclass(frozen=True)
class TableFormat:
    """A format that writes some of the release's tables, one file each.

    `write(path, frame, *, release, labels)` writes one table; `labels` maps column names to their
    descriptions. `describe` is the README's line for one file, with `{table}` in it.
    """

    name: str
    extension: str
    tables: tuple[str, ...]
    describe: str
    write: Callable[..., None]

    def path(self, table: str) -> str:
        """Return the release-relative path of one table's file."""
        return f"data/{table}.{self.extension}"


FORMATS: tuple[TableFormat, ...] = (
    TableFormat(
        "stata", "dta", ("long", "scores"), "{table} as Stata 118, with variable labels and answer value labels", stata.write_stata
    ),
    TableFormat("parquet", "parquet", ("long", "matrix", "scores", "citations"), "{table} as Apache Parquet", parquet.write_parquet),
)
