"""Backups and restores of the whole database: SQLite's online backup API, PostgreSQL's pg_dump/pg_restore.

A backup is one file plus a manifest next to it (PATH + ".json"): the kind of database, the Alembic
revision, the row count per table, the time and a content fingerprint (`database_fingerprint`), so a
restore can show that it brought back exactly what was saved. Files are written to a temporary name
in the target directory and renamed, so a crash never leaves a half-written backup under PATH.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from rightsdb.ops.backup_manifest import (
    BackupError,
    database_kind,
    describe_database,
    file_sha256,
    manifest_path,
    move_into_place,
    read_manifest,
    temporary_file,
    write_manifest,
)
from rightsdb.ops.backup_postgres import (
    PGDUMP_MAGIC,
    RESTORE_LOCK_TIMEOUT,
    backup_postgres,
    inspect_postgres,
    pg_dbname_argument,
    run_pg_tool,
)
from rightsdb.ops.backup_sqlite import SQLITE_MAGIC, backup_sqlite, inspect_sqlite, restore_sqlite


def backup_database(*, url: str, path: str | Path, force: bool = False) -> dict[str, Any]:
    """Back up the database at `url` to `path` (plus `path`.json) and return the manifest."""
    path = Path(path)
    if path.exists() and not force:
        raise BackupError(f"{path} already exists; use --force to overwrite it.")
    if path.is_dir():
        raise BackupError(f"{path} is a directory; give the backup file's name.")
    kind = database_kind(url)
    with temporary_file(path) as temporary:
        described = backup_sqlite(url, temporary) if kind == "sqlite" else backup_postgres(url, temporary)
        manifest = {
            **described,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "database": sa.engine.make_url(url).render_as_string(hide_password=True),
            "file": path.name,
            "sha256": file_sha256(temporary),
            "size_bytes": temporary.stat().st_size,
        }
        move_into_place(temporary, path, force=force)
    write_manifest(path, manifest)
    return manifest


def inspect_backup(*, url: str, path: str | Path) -> dict[str, Any]:
    """Check that `path` is a rightsdb backup restorable into `url`; return what it holds."""
    path = Path(path)
    kind = database_kind(url)
    if not path.is_file():
        raise BackupError(f"{path} does not exist or is not a file.")
    with path.open("rb") as handle:
        head = handle.read(len(SQLITE_MAGIC))
    file_kind = "sqlite" if head.startswith(SQLITE_MAGIC) else "postgresql" if head.startswith(PGDUMP_MAGIC) else None
    if file_kind is None:
        raise BackupError(f"{path} is not a rightsdb backup (neither a SQLite database nor a pg_dump custom archive).")
    if file_kind != kind:
        raise BackupError(f"{path} is a {file_kind} backup but the configured database is {kind}.")
    manifest = read_manifest(path)
    if manifest and manifest.get("sha256") and manifest["sha256"] != file_sha256(path):
        raise BackupError(f"{path} does not match the checksum in {manifest_path(path)}: the file is damaged or not the one described.")
    if kind == "sqlite":
        return inspect_sqlite(path)
    return inspect_postgres(path, url)


def require_manifest(path: str | Path, *, force: bool = False) -> None:
    """Refuse a backup without a readable manifest (and so without a fingerprint to verify against), unless `force`."""
    manifest = read_manifest(path)
    if force or (isinstance(manifest, dict) and manifest.get("fingerprint")):
        return
    problem = "has no manifest" if not manifest_path(path).exists() else "has no readable manifest with a fingerprint"
    raise BackupError(
        f"{path} {problem} ({manifest_path(path)}), so the restore could not be verified; nothing was changed. "
        "Put the manifest written with the backup beside it, or restore it unverified with --force."
    )


def restore_database(*, url: str, path: str | Path, force: bool = False) -> dict[str, Any]:
    """Replace the whole database at `url` with the backup at `path`; return what is now there.

    A backup without its manifest is refused unless `force`. The result has "verified": True when the
    restored content matches the fingerprint in the backup's manifest, False when it does not, None
    when there was no manifest to compare with (`force`); "extra_tables" lists tables the database has
    but the backup does not (PostgreSQL leaves them untouched).
    """
    path = Path(path)
    inspect_backup(url=url, path=path)
    require_manifest(path, force=force)
    if database_kind(url) == "sqlite":
        restore_sqlite(url, path)
    else:
        run_pg_tool(
            "pg_restore",
            ["--clean", "--if-exists", "--no-owner", "--no-privileges", "--single-transaction", pg_dbname_argument(url), str(path)],
            url,
            extra_options=RESTORE_LOCK_TIMEOUT,
        )
    engine = sa.create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            restored = describe_database(connection, database_kind(url))
    finally:
        engine.dispose()
    manifest = read_manifest(path) or {}
    expected = manifest.get("fingerprint")
    restored["verified"] = None if not expected else expected == restored["fingerprint"]
    # pg_restore --clean only replaces what the archive holds: tables made later are left as they were.
    restored["extra_tables"] = sorted(set(restored["tables"]) - set(manifest.get("tables") or restored["tables"]))
    restored["restored_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    return restored
