"""What every backup shares, whatever the engine: the manifest beside it, the database's fingerprint, and safe file moves.

A backup is one file plus a manifest next to it (PATH + ".json"): the kind of database, the Alembic
revision, row counts and a fingerprint of the content, and the file's SHA-256.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from rightsdb.errors import DomainError

UNVERSIONED = "unversioned"


REQUIRED_TABLES = ("alembic_version", "users")


class BackupError(DomainError):
    """A backup or restore cannot be done; the message says why."""


def database_fingerprint(engine: Engine) -> str:
    """Return a sha256 over every table's rows sorted by primary key: same content, same digest."""
    with engine.connect() as connection:
        return _fingerprint(connection)


def _json_value(value: Any) -> Any:
    """Turn a database value json cannot encode into a stable string."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    return str(value)


def _fingerprint(connection: Connection) -> str:
    """Hash table names, column names (sorted, so column order does not matter) and every row."""
    digest = hashlib.sha256()
    inspector = sa.inspect(connection)
    quote = connection.dialect.identifier_preparer.quote
    for table in sorted(inspector.get_table_names()):
        columns = sorted(column["name"] for column in inspector.get_columns(table))
        order = inspector.get_pk_constraint(table).get("constrained_columns") or columns
        sql = f"SELECT {', '.join(map(quote, columns))} FROM {quote(table)} ORDER BY {', '.join(map(quote, order))}"
        digest.update(json.dumps({"table": table, "columns": columns}).encode("utf-8"))
        for row in connection.exec_driver_sql(sql):
            line = json.dumps(list(row), default=_json_value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
            digest.update(b"\n" + line.encode("utf-8"))
        digest.update(b"\n\x00")
    return digest.hexdigest()


def _table_counts(connection: Connection) -> dict[str, int]:
    """Return the row count of every table, by table name."""
    quote = connection.dialect.identifier_preparer.quote
    return {
        table: connection.exec_driver_sql(f"SELECT count(*) FROM {quote(table)}").scalar_one()
        for table in sorted(sa.inspect(connection).get_table_names())
    }


def _alembic_revision(connection: Connection) -> str:
    """Return the Alembic revision, or "unversioned" for a schema made without migrations."""
    if "alembic_version" not in sa.inspect(connection).get_table_names():
        return UNVERSIONED
    revisions = sorted(connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalars())
    return ",".join(revisions) or UNVERSIONED


def describe_database(connection: Connection, kind: str) -> dict[str, Any]:
    """Return kind, revision, counts and fingerprint of the database seen by `connection`."""
    return {
        "kind": kind,
        "alembic_revision": _alembic_revision(connection),
        "tables": _table_counts(connection),
        "fingerprint": _fingerprint(connection),
    }


def database_kind(url: str) -> str:
    """Return "sqlite" or "postgresql" for a database URL, refusing any other."""
    backend = sa.engine.make_url(url).get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise BackupError(f"Backups support SQLite and PostgreSQL databases, not {backend}.")
    return backend


@contextmanager
def temporary_file(next_to: Path, suffix: str = ".tmp") -> Iterator[Path]:
    """Yield a temporary file in the directory of `next_to` (same filesystem: rename is atomic); remove it after."""
    next_to.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=f".{next_to.name}.", suffix=suffix, dir=next_to.parent)
    os.close(handle)
    try:
        yield Path(name)
    finally:
        Path(name).unlink(missing_ok=True)


def _fsync(path: Path) -> None:
    """Flush a file (or directory) to disk so a rename survives a power cut."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems cannot fsync a directory; the rename is still atomic
    finally:
        os.close(fd)


def move_into_place(temporary: Path, path: Path, *, force: bool) -> None:
    """Rename `temporary` to `path` atomically (same directory, so readers see the old or the new file)."""
    _fsync(temporary)
    if path.exists() and not force:  # checked again: the file may have appeared during a long backup
        raise BackupError(f"{path} already exists; use --force to overwrite it.")
    os.replace(temporary, path)
    _fsync(path.parent)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def manifest_path(path: str | Path) -> Path:
    """Return where the manifest of the backup at `path` is written (PATH + ".json")."""
    return Path(f"{path}.json")


def write_manifest(path: Path, manifest: dict[str, Any]) -> None:
    """Write the manifest next to the backup, sorted keys, via a temporary file and rename."""
    target = manifest_path(path)
    with temporary_file(target) as temporary:
        temporary.write_text(json.dumps(manifest, sort_keys=True, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        _fsync(temporary)
        os.replace(temporary, target)


def read_manifest(path: str | Path) -> dict[str, Any] | None:
    """Return the manifest written next to a backup, or None if there is none (or it is unreadable)."""
    try:
        return json.loads(manifest_path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def require_tables(path: Path, tables: set[str]) -> None:
    missing = [table for table in REQUIRED_TABLES if table not in tables]
    if missing:
        raise BackupError(f"{path} is not a rightsdb backup: it has no {' or '.join(missing)} table.")
