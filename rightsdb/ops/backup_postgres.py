"""PostgreSQL backups and restores with pg_dump and pg_restore, the connection settings passed through libpq's environment."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from rightsdb.ops.backup_manifest import BackupError, describe_database, read_manifest, require_tables

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


def run_pg_tool(tool: str, arguments: list[str], url: str, *, extra_options: str = "") -> str:
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


def pg_dbname_argument(url: str) -> str:
    """Return --dbname as a quoted conninfo, so a database name is never mistaken for options."""
    name = sa.engine.make_url(url).database or ""
    return "--dbname=dbname='" + name.replace("\\", "\\\\").replace("'", "\\'") + "'"


def backup_postgres(url: str, temporary: Path) -> dict[str, Any]:
    """Run pg_dump on a snapshot exported by our own transaction, so the manifest describes the same data."""
    _pg_executable("pg_dump")  # before connecting: the clearer error first
    engine = sa.create_engine(url, poolclass=NullPool)
    try:
        with engine.connect().execution_options(isolation_level="REPEATABLE READ") as connection:
            snapshot = connection.exec_driver_sql("SELECT pg_export_snapshot()").scalar_one()
            described = describe_database(connection, "postgresql")
            arguments = ["--format=custom", "--no-owner", "--no-privileges", f"--snapshot={snapshot}", f"--file={temporary}"]
            run_pg_tool("pg_dump", [*arguments, pg_dbname_argument(url)], url)
            connection.rollback()
    except sa.exc.OperationalError as exc:
        raise BackupError(f"Cannot connect to the database: {exc.orig}") from None
    finally:
        engine.dispose()
    return described


def inspect_postgres(path: Path, url: str) -> dict[str, Any]:
    """Check a pg_dump archive's table of contents; return the tables it holds (and its manifest's counts)."""
    listing = run_pg_tool("pg_restore", ["--list", str(path)], url)
    tables = set()
    for line in listing.splitlines():
        parts = line.split()
        # "215; 1259 16390 TABLE public users postgres": the name follows type and schema ("TABLE DATA" is the rows).
        if not line.startswith(";") and len(parts) >= 6 and parts[3] == "TABLE" and parts[4] != "DATA":
            tables.add(parts[5])
    require_tables(path, tables)
    manifest = read_manifest(path) or {}
    return {
        "kind": "postgresql",
        "alembic_revision": manifest.get("alembic_revision", "unknown (no manifest)"),
        "tables": manifest.get("tables") or {table: None for table in sorted(tables)},
    }
