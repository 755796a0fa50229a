"""SQLite backups and restores with SQLite's online backup API, each copy checked with PRAGMA integrity_check."""

from __future__ import annotations

import shutil
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from rightsdb.ops.backup_manifest import BackupError, describe_database, require_tables, temporary_file

SQLITE_MAGIC = b"SQLite format 3\x00"


def sqlite_file(url: str) -> Path:
    """Return the file of a SQLite URL (an in-memory database has nothing to back up)."""
    database = sa.engine.make_url(url).database
    if not database or database == ":memory:":
        raise BackupError("An in-memory SQLite database cannot be backed up or restored.")
    return Path(database)


def _integrity_problem(connection: sqlite3.Connection) -> str | None:
    """Return what PRAGMA integrity_check found wrong, or None when the file is sound."""
    rows = [row[0] for row in connection.execute("PRAGMA integrity_check").fetchall()]
    return None if rows == ["ok"] else "; ".join(rows[:5])


def _describe_sqlite_file(path: Path) -> dict[str, Any]:
    """Describe a SQLite file through SQLAlchemy (the same code path as the live database)."""
    engine = sa.create_engine(f"sqlite:///{path}", poolclass=NullPool)
    try:
        with engine.connect() as connection:
            return describe_database(connection, "sqlite")
    finally:
        engine.dispose()


def backup_sqlite(url: str, temporary: Path) -> dict[str, Any]:
    """Copy the live SQLite database with the online backup API, then check the copy."""
    source_file = sqlite_file(url)
    if not source_file.is_file():
        raise BackupError(f"The SQLite database {source_file} does not exist.")
    # One backup step (pages=-1) reads one consistent snapshot; in WAL mode writers are not blocked.
    try:
        with closing(sqlite3.connect(source_file, timeout=30)) as source, closing(sqlite3.connect(temporary)) as target:
            source.backup(target)
            # A backup is one self-contained file: no -wal/-shm companions to forget when copying it.
            target.execute("PRAGMA journal_mode=DELETE")
            problem = _integrity_problem(target)
    except sqlite3.Error as exc:
        raise BackupError(f"The SQLite backup of {source_file} failed: {exc}") from None
    if problem:
        raise BackupError(f"The backup copy failed PRAGMA integrity_check: {problem}")
    return _describe_sqlite_file(temporary)


def inspect_sqlite(path: Path) -> dict[str, Any]:
    """Check a SQLite backup's integrity and tables; return its description."""
    try:
        with closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as connection:
            problem = _integrity_problem(connection)
            tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{path} is not a readable SQLite database: {exc}") from None
    if problem:
        raise BackupError(f"{path} failed PRAGMA integrity_check: {problem}")
    require_tables(path, tables)
    return _describe_sqlite_file(path)


def restore_sqlite(url: str, path: Path) -> None:
    """Copy the backup into the live file with the backup API: one transaction, safe with WAL and open readers."""
    live = sqlite_file(url)
    live.parent.mkdir(parents=True, exist_ok=True)
    # Work on a private copy so the backup file is read once and never modified.
    with temporary_file(live) as copy:
        shutil.copyfile(path, copy)
        try:
            with closing(sqlite3.connect(copy)) as source, closing(sqlite3.connect(live, timeout=30)) as target:
                if _integrity_problem(source):
                    raise BackupError(f"{path} changed while it was being read; try again.")
                source.backup(target)
        except sqlite3.Error as exc:
            raise BackupError(f"Restoring {path} into {live} failed (nothing was changed): {exc}") from None
