"""Backups and restores of the whole database: SQLite's online backup API, PostgreSQL's pg_dump/pg_restore.

A backup is one file plus a manifest next to it (PATH + ".json"): the kind of database, the Alembic
revision, the row count per table, the time and a content fingerprint (`database_fingerprint`), so a
restore can show that it brought back exactly what was saved. Files are written to a temporary name
in the target directory and renamed, so a crash never leaves a half-written backup under PATH.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import tempfile
from contextlib import closing, contextmanager
from datetime import date, datetime, time, timezone
from pathlib import Path
from typing import Any, Iterator

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import NullPool

from rightsdb.errors import DomainError

UNVERSIONED = "unversioned"
REQUIRED_TABLES = ("alembic_version", "users")
SQLITE_MAGIC = b"SQLite format 3\x00"
PGDUMP_MAGIC = b"PGDMP"
# SQLAlchemy URL query parameters that libpq also understands as environment variables.
LIBPQ_QUERY_ENV = {
    "host": "PGHOST",
    "port": "PGPORT",
    "sslmode": "PGSSLMODE",
    "sslrootcert": "PGSSLROOTCERT",
    "sslcert": "PGSSLCERT",
    "sslkey": "PGSSLKEY",
    "connect_timeout": "PGCONNECT_TIMEOUT",
    "application_name": "PGAPPNAME",
    "options": "PGOPTIONS",
    "service": "PGSERVICE",
}
# pg_restore needs exclusive locks: fail with a message rather than wait forever behind a busy app.
RESTORE_LOCK_TIMEOUT = "-c lock_timeout=60s"


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


def _describe(connection: Connection, kind: str) -> dict[str, Any]:
    """Return kind, revision, counts and fingerprint of the database seen by `connection`."""
    return {
        "kind": kind,
        "alembic_revision": _alembic_revision(connection),
        "tables": _table_counts(connection),
        "fingerprint": _fingerprint(connection),
    }


def _kind(url: str) -> str:
    """Return "sqlite" or "postgresql" for a database URL, refusing any other."""
    backend = sa.engine.make_url(url).get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise BackupError(f"Backups support SQLite and PostgreSQL databases, not {backend}.")
    return backend


def _sqlite_file(url: str) -> Path:
    """Return the file of a SQLite URL (an in-memory database has nothing to back up)."""
    database = sa.engine.make_url(url).database
    if not database or database == ":memory:":
        raise BackupError("An in-memory SQLite database cannot be backed up or restored.")
    return Path(database)


@contextmanager
def _temporary_file(next_to: Path, suffix: str = ".tmp") -> Iterator[Path]:
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


def _move_into_place(temporary: Path, path: Path, *, force: bool) -> None:
    """Rename `temporary` to `path` atomically (same directory, so readers see the old or the new file)."""
    _fsync(temporary)
    if path.exists() and not force:  # checked again: the file may have appeared during a long backup
        raise BackupError(f"{path} already exists; use --force to overwrite it.")
    os.replace(temporary, path)
    _fsync(path.parent)


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def manifest_path(path: str | Path) -> Path:
    """Return where the manifest of the backup at `path` is written (PATH + ".json")."""
    return Path(f"{path}.json")


def _write_manifest(path: Path, manifest: dict[str, Any]) -> None:
    """Write the manifest next to the backup, sorted keys, via a temporary file and rename."""
    target = manifest_path(path)
    with _temporary_file(target) as temporary:
        temporary.write_text(json.dumps(manifest, sort_keys=True, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        _fsync(temporary)
        os.replace(temporary, target)


def backup_database(*, url: str, path: str | Path, force: bool = False) -> dict[str, Any]:
    """Back up the database at `url` to `path` (plus `path`.json) and return the manifest."""
    path = Path(path)
    if path.exists() and not force:
        raise BackupError(f"{path} already exists; use --force to overwrite it.")
    if path.is_dir():
        raise BackupError(f"{path} is a directory; give the backup file's name.")
    kind = _kind(url)
    with _temporary_file(path) as temporary:
        described = _backup_sqlite(url, temporary) if kind == "sqlite" else _backup_postgres(url, temporary)
        manifest = {
            **described,
            "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "database": sa.engine.make_url(url).render_as_string(hide_password=True),
            "file": path.name,
            "sha256": _file_sha256(temporary),
            "size_bytes": temporary.stat().st_size,
        }
        _move_into_place(temporary, path, force=force)
    _write_manifest(path, manifest)
    return manifest


def _integrity_problem(connection: sqlite3.Connection) -> str | None:
    """Return what PRAGMA integrity_check found wrong, or None when the file is sound."""
    rows = [row[0] for row in connection.execute("PRAGMA integrity_check").fetchall()]
    return None if rows == ["ok"] else "; ".join(rows[:5])


def _describe_sqlite_file(path: Path) -> dict[str, Any]:
    """Describe a SQLite file through SQLAlchemy (the same code path as the live database)."""
    engine = sa.create_engine(f"sqlite:///{path}", poolclass=NullPool)
    try:
        with engine.connect() as connection:
            return _describe(connection, "sqlite")
    finally:
        engine.dispose()


def _backup_sqlite(url: str, temporary: Path) -> dict[str, Any]:
    """Copy the live SQLite database with the online backup API, then check the copy."""
    source_file = _sqlite_file(url)
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


def libpq_environment(url: str) -> dict[str, str]:
    """Return the libpq environment (PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE...) for a SQLAlchemy URL."""
    parsed = sa.engine.make_url(url)
    environment = {}
    for variable, value in (
        ("PGHOST", parsed.host),
        ("PGPORT", parsed.port),
        ("PGUSER", parsed.username),
        ("PGPASSWORD", parsed.password),
        ("PGDATABASE", parsed.database),
    ):
        if value not in (None, ""):
            environment[variable] = str(value)
    for key, variable in LIBPQ_QUERY_ENV.items():
        value = parsed.query.get(key)
        if value:
            environment[variable] = value if isinstance(value, str) else ",".join(value)
    return environment


def _pg_executable(tool: str) -> str:
    """Return the path of pg_dump/pg_restore, or say how to install it."""
    executable = shutil.which(tool)
    if executable is None:
        raise BackupError(
            f"{tool} was not found on PATH: install the PostgreSQL client tools matching the server's "
            "major version (Debian: apt-get install postgresql-client)."
        )
    return executable


def _run_pg_tool(tool: str, arguments: list[str], url: str, *, extra_options: str = "") -> str:
    """Run pg_dump/pg_restore with the URL's connection settings in the environment; return stdout."""
    executable = _pg_executable(tool)
    # The password travels in the environment, never on the command line (visible in ps).
    environment = {**os.environ, **libpq_environment(url)}
    if extra_options:
        environment["PGOPTIONS"] = f"{environment.get('PGOPTIONS', '')} {extra_options}".strip()
    result = subprocess.run([executable, *arguments], env=environment, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise BackupError(f"{tool} failed (exit status {result.returncode}):\n{result.stderr.strip()}")
    return result.stdout


def _pg_dbname_argument(url: str) -> str:
    """Return --dbname as a quoted conninfo, so a database name is never mistaken for options."""
    name = sa.engine.make_url(url).database or ""
    return "--dbname=dbname='" + name.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _backup_postgres(url: str, temporary: Path) -> dict[str, Any]:
    """Run pg_dump on a snapshot exported by our own transaction, so the manifest describes the same data."""
    _pg_executable("pg_dump")  # before connecting: the clearer error first
    engine = sa.create_engine(url, poolclass=NullPool)
    try:
        with engine.connect().execution_options(isolation_level="REPEATABLE READ") as connection:
            snapshot = connection.exec_driver_sql("SELECT pg_export_snapshot()").scalar_one()
            described = _describe(connection, "postgresql")
            arguments = ["--format=custom", "--no-owner", "--no-privileges", f"--snapshot={snapshot}", f"--file={temporary}"]
            _run_pg_tool("pg_dump", [*arguments, _pg_dbname_argument(url)], url)
            connection.rollback()
    except sa.exc.OperationalError as exc:
        raise BackupError(f"Cannot connect to the database: {exc.orig}") from None
    finally:
        engine.dispose()
    return described


def read_manifest(path: str | Path) -> dict[str, Any] | None:
    """Return the manifest written next to a backup, or None if there is none (or it is unreadable)."""
    try:
        return json.loads(manifest_path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def inspect_backup(*, url: str, path: str | Path) -> dict[str, Any]:
    """Check that `path` is a rightsdb backup restorable into `url`; return what it holds."""
    path = Path(path)
    kind = _kind(url)
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
    if manifest and manifest.get("sha256") and manifest["sha256"] != _file_sha256(path):
        raise BackupError(f"{path} does not match the checksum in {manifest_path(path)}: the file is damaged or not the one described.")
    if kind == "sqlite":
        return _inspect_sqlite(path)
    return _inspect_postgres(path, url)


def _inspect_sqlite(path: Path) -> dict[str, Any]:
    """Check a SQLite backup's integrity and tables; return its description."""
    try:
        with closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as connection:
            problem = _integrity_problem(connection)
            tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{path} is not a readable SQLite database: {exc}") from None
    if problem:
        raise BackupError(f"{path} failed PRAGMA integrity_check: {problem}")
    _require_tables(path, tables)
    return _describe_sqlite_file(path)


def _inspect_postgres(path: Path, url: str) -> dict[str, Any]:
    """Check a pg_dump archive's table of contents; return the tables it holds (and its manifest's counts)."""
    listing = _run_pg_tool("pg_restore", ["--list", str(path)], url)
    tables = set()
    for line in listing.splitlines():
        parts = line.split()
        # "215; 1259 16390 TABLE public users postgres": the name follows type and schema ("TABLE DATA" is the rows).
        if not line.startswith(";") and len(parts) >= 6 and parts[3] == "TABLE" and parts[4] != "DATA":
            tables.add(parts[5])
    _require_tables(path, tables)
    manifest = read_manifest(path) or {}
    return {
        "kind": "postgresql",
        "alembic_revision": manifest.get("alembic_revision", "unknown (no manifest)"),
        "tables": manifest.get("tables") or {table: None for table in sorted(tables)},
    }


def _require_tables(path: Path, tables: set[str]) -> None:
    missing = [table for table in REQUIRED_TABLES if table not in tables]
    if missing:
        raise BackupError(f"{path} is not a rightsdb backup: it has no {' or '.join(missing)} table.")


def restore_database(*, url: str, path: str | Path) -> dict[str, Any]:
    """Replace the whole database at `url` with the backup at `path`; return what is now there.

    The result has "verified": True when the restored content matches the fingerprint in the backup's
    manifest, False when it does not, None when there is no manifest to compare with; "extra_tables"
    lists tables the database has but the backup does not (PostgreSQL leaves them untouched).
    """
    path = Path(path)
    inspect_backup(url=url, path=path)
    if _kind(url) == "sqlite":
        _restore_sqlite(url, path)
    else:
        _run_pg_tool(
            "pg_restore",
            ["--clean", "--if-exists", "--no-owner", "--no-privileges", "--single-transaction", _pg_dbname_argument(url), str(path)],
            url,
            extra_options=RESTORE_LOCK_TIMEOUT,
        )
    engine = sa.create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            restored = _describe(connection, _kind(url))
    finally:
        engine.dispose()
    manifest = read_manifest(path) or {}
    expected = manifest.get("fingerprint")
    restored["verified"] = None if not expected else expected == restored["fingerprint"]
    # pg_restore --clean only replaces what the archive holds: tables made later are left as they were.
    restored["extra_tables"] = sorted(set(restored["tables"]) - set(manifest.get("tables") or restored["tables"]))
    restored["restored_at"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    return restored


def _restore_sqlite(url: str, path: Path) -> None:
    """Copy the backup into the live file with the backup API: one transaction, safe with WAL and open readers."""
    live = _sqlite_file(url)
    live.parent.mkdir(parents=True, exist_ok=True)
    # Work on a private copy so the backup file is read once and never modified.
    with _temporary_file(live) as copy:
        shutil.copyfile(path, copy)
        try:
            with closing(sqlite3.connect(copy)) as source, closing(sqlite3.connect(live, timeout=30)) as target:
                if _integrity_problem(source):
                    raise BackupError(f"{path} changed while it was being read; try again.")
                source.backup(target)
        except sqlite3.Error as exc:
            raise BackupError(f"Restoring {path} into {live} failed (nothing was changed): {exc}") from None
