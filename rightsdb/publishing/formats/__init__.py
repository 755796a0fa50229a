"""The release's file formats, one module each, registered here: the release build and verify both read FORMATS.

Every table is written as CSV (`formats.csv`, the canonical, hashed form) and all of them together as
one Excel workbook (`formats.xlsx`). The formats in FORMATS write some of the tables, one file each
(data/<table>.<extension>); a new format is a module with a `write` function and one entry here.
Every file is byte-identical when rebuilt from the same snapshot, the workbook included (its zip entries
carry a fixed time stamp), and no file holds a library's version string, so verify compares every file.

RELEASE_FORMAT numbers what the files of a release hold and how they are written; datapackage.json
records it (`rightsdb.format`). It goes up whenever this code would write different bytes for the
releases it already published (a new column, a new file, another way of writing one), so that verify
knows which releases it can rebuild byte for byte: those of RELEASE_FORMAT. Format 1, the releases
published before the number (their datapackage.json names none), is checked for integrity only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rightsdb.publishing.formats import parquet, stata

#: The workbook: every table of the release, one sheet each.
WORKBOOK = "data/release.xlsx"
#: The release format this code writes (and rebuilds byte for byte).
RELEASE_FORMAT = 2
#: The formats verify knows: 1 (no number recorded: checked for integrity only) and RELEASE_FORMAT.
RELEASE_FORMATS = (1, RELEASE_FORMAT)


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
