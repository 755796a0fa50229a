"""How much of an import file is read before it is refused: `ImportLimits` and the messages that cite them.

The defaults are the settings' defaults (`rightsdb.config.Settings.IMPORT_*`); the command line passes
the configured ones (`ImportLimits.from_config(app.config)`). Each message names the file, the limit
and the variable that sets it, and says what to do: split the file.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rightsdb.config import Settings
from rightsdb.errors import InvalidInput

#: Cells past this column are refused: the import has 14 columns, and a row padded to Excel's last
#: column (16,384) by one stray cell would otherwise cost that many cells on every line.
MAX_COLUMNS = 1024
SPLIT_HINT = "Split the file by country and import the parts one after the other"


@dataclass(frozen=True)
class ImportLimits:
    """The largest file, number of data lines and unpacked workbook an import reads, and the highest compression ratio."""

    max_bytes: int = Settings.IMPORT_MAX_BYTES
    max_rows: int = Settings.IMPORT_MAX_ROWS
    max_uncompressed_bytes: int = Settings.IMPORT_MAX_UNCOMPRESSED_BYTES
    max_compression_ratio: int = Settings.IMPORT_MAX_COMPRESSION_RATIO

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> ImportLimits:
        """Take the limits from the application's settings (the RIGHTSDB_IMPORT_* variables)."""
        return cls(
            max_bytes=config["IMPORT_MAX_BYTES"],
            max_rows=config["IMPORT_MAX_ROWS"],
            max_uncompressed_bytes=config["IMPORT_MAX_UNCOMPRESSED_BYTES"],
            max_compression_ratio=config["IMPORT_MAX_COMPRESSION_RATIO"],
        )


def size_text(n: int) -> str:
    """Write a size as a person reads it: bytes below a megabyte, megabytes with one decimal above."""
    return f"{n:,} bytes" if n < 1024 * 1024 else f"{n / (1024 * 1024):,.1f} MB"


def too_large(path: Path, size: int, limits: ImportLimits) -> InvalidInput:
    message = (
        f"{path.name} is {size_text(size)}, more than the import limit of {size_text(limits.max_bytes)} "
        f"(RIGHTSDB_IMPORT_MAX_BYTES); nothing was read. {SPLIT_HINT}."
    )
    return InvalidInput(message, [("file", "larger than the import limit")])


def too_many_rows(path: Path, limits: ImportLimits, line: int) -> InvalidInput:
    message = (
        f"{path.name} has more than {limits.max_rows:,} data lines, the import limit (RIGHTSDB_IMPORT_MAX_ROWS): "
        f"line {line} is past it; nothing was read. {SPLIT_HINT}."
    )
    return InvalidInput(message, [(f"line {line}", "past the row limit")])


def past_last_column(path: Path, line: int) -> InvalidInput:
    message = f"{path.name}: line {line} has a cell past column {MAX_COLUMNS:,}; an import file has {MAX_COLUMNS:,} columns at most."
    return InvalidInput(message, [(f"line {line}", f"a cell past column {MAX_COLUMNS:,}")])
