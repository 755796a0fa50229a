"""Operations (issue 14, item 10) on the command line: no cache warming in commands, one clear line for an
empty or unreachable database, and no restore of a backup without its manifest unless forced.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys

import pytest
import sqlalchemy as sa
from alembic import command
from click.testing import CliRunner
from sqlmodel import Session

from rightsdb import create_app
from rightsdb.ops.backup import backup_database
from rightsdb.ops.backup_manifest import database_fingerprint, manifest_path
from rightsdb.ops.cli import main
from rightsdb.ops.migrate import alembic_config
from rightsdb.public import catalog
from tests.conftest import ROOT, TINY_CODEBOOK
from tests.factories.people import make_user

KEY = "test-secret-key-that-is-long-enough-0123456789"


@pytest.fixture(autouse=True)
def environment(monkeypatch, tmp_path):
    """No RIGHTSDB_* variable from the calling shell; an empty SQLite file and an exports directory."""
    for name in list(os.environ):
        if name.startswith("RIGHTSDB_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("RIGHTSDB_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.sqlite'}")
    monkeypatch.setenv("RIGHTSDB_EXPORTS_DIR", str(tmp_path / "exports"))
    monkeypatch.setenv("RIGHTSDB_CODEBOOK_PATH", str(TINY_CODEBOOK))
    return tmp_path


def run(*args: str, input: str | None = None):
    return CliRunner().invoke(main, list(args), input=input)


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# ---- the warm-cache thread: servers only, and only on a database with tables ---------------------


def test_init_db_with_warm_cache_set_prints_no_traceback(tmp_path):
    env = {key: value for key, value in os.environ.items() if not key.startswith("RIGHTSDB_")}
    env.update(
        RIGHTSDB_DATABASE_URL=f"sqlite:///{tmp_path / 'fresh.sqlite'}",
        RIGHTSDB_EXPORTS_DIR=str(tmp_path / "exports"),
        RIGHTSDB_WARM_CACHE="true",
    )
    result = subprocess.run(
        [sys.executable, "-m", "rightsdb.ops.cli", "init-db"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Database ready at ") and result.stderr == ""


def test_no_command_but_serve_starts_the_warming_thread(monkeypatch, tmp_path):
    monkeypatch.setenv("RIGHTSDB_WARM_CACHE", "true")
    started = []
    monkeypatch.setattr(catalog, "warm", lambda **kwargs: started.append(kwargs))
    assert run("init-db").exit_code == 0
    assert run("release", "list").output == "No release is published yet.\n"
    assert started == []
    from rightsdb.ops.cli import _app

    app = _app(server=True)  # what `rightsdb serve` makes
    app.extensions["rightsdb.engine"].dispose()
    assert len(started) == 1


def test_a_server_on_a_database_without_tables_logs_one_line_and_warms_nothing(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="rightsdb.public.catalog")
    app = create_app(
        {
            "ENV": "testing",
            "SECRET_KEY": KEY,
            "DATABASE_URL": f"sqlite:///{tmp_path / 'empty.sqlite'}",
            "CODEBOOK_PATH": str(TINY_CODEBOOK),
            "EXPORTS_DIR": str(tmp_path / "exports"),
            "WARM_CACHE": True,
        }
    )
    try:
        app.extensions["rightsdb.warm_thread"].join(timeout=60)
        assert len(app.extensions["rightsdb.release_cache"]) == 0
    finally:
        app.extensions["rightsdb.engine"].dispose()
    records = [r for r in caplog.records if r.name == "rightsdb.public.catalog"]
    assert [(r.levelname, r.getMessage()) for r in records] == [
        (
            "WARNING",
            f"Not warming the release cache: The database at sqlite:///{tmp_path / 'empty.sqlite'} has no rightsdb tables: run `rightsdb init-db`.",
        )
    ]
    assert all(r.exc_info is None for r in records)


# ---- an empty or unreachable database: one line, non-zero exit ----------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ("release", "list"),
        ("users", "add", "someone@example.org", "--name", "Someone", "--role", "admin", "--password", "a long enough password"),
        ("release", "build", "1.0.0", "--synthetic"),
    ],
)
def test_commands_on_a_database_without_tables_say_run_init_db(tmp_path, args):
    result = run(*args)
    assert result.exit_code == 1
    assert result.output == f"Error: The database at sqlite:///{tmp_path / 'cli.sqlite'} has no rightsdb tables: run `rightsdb init-db`.\n"
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_commands_on_an_unreachable_database_give_the_reason_without_the_password(monkeypatch):
    port = _closed_port()
    monkeypatch.setenv("RIGHTSDB_DATABASE_URL", f"postgresql+psycopg://rightsdb:hunter2secret@127.0.0.1:{port}/rightsdb")
    for args in (("release", "list"), ("init-db",)):
        result = run(*args)
        assert result.exit_code == 1, result.output
        lines = result.output.splitlines()
        assert len(lines) == 1 and lines[0].startswith(
            f"Error: Cannot connect to the database at postgresql+psycopg://rightsdb:***@127.0.0.1:{port}/rightsdb: "
        )
        assert "hunter2secret" not in result.output and "Traceback" not in result.output


def test_a_database_error_on_a_working_database_keeps_its_traceback(monkeypatch):
    assert run("init-db").exit_code == 0
    from rightsdb.publishing import publish

    def broken(**_kwargs):
        raise sa.exc.OperationalError("SELECT 1", {}, Exception("database is locked"))

    monkeypatch.setattr(publish, "list_releases", broken)
    result = run("release", "list")
    assert result.exit_code == 1 and isinstance(result.exception, sa.exc.OperationalError)


# ---- restore needs the backup's manifest ---------------------------------------------------------


@pytest.fixture
def backed_up(tmp_path):
    """A migrated database with one user, backed up with its manifest; return (url, backup path)."""
    url = os.environ["RIGHTSDB_DATABASE_URL"]
    command.upgrade(alembic_config(url), "head")
    engine = sa.create_engine(url)
    with Session(engine) as session:
        make_user(session, "admin", email="kept@example.org")
        session.commit()
    engine.dispose()
    path = tmp_path / "db.backup"
    backup_database(url=url, path=path)
    return url, path


def _fingerprint(url: str) -> str:
    engine = sa.create_engine(url)
    try:
        return database_fingerprint(engine)
    finally:
        engine.dispose()


def _change(url: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.exec_driver_sql("UPDATE users SET name = 'changed since the backup'")
    engine.dispose()


def test_a_backup_without_its_manifest_is_refused_unless_forced(backed_up):
    url, path = backed_up
    manifest_path(path).unlink()
    _change(url)
    changed = _fingerprint(url)

    refused = run("restore", str(path), "--yes")
    assert refused.exit_code == 1
    assert f"{path} has no manifest ({manifest_path(path)}), so the restore could not be verified; nothing was changed." in refused.output
    assert "--force" in refused.output
    assert _fingerprint(url) == changed

    forced = run("restore", str(path), "--yes", "--force")
    assert forced.exit_code == 0, forced.output
    assert "No manifest next to the backup (--force): the content is not verified." in forced.output
    assert _fingerprint(url) != changed


def test_a_manifest_without_a_fingerprint_is_refused_before_the_question(backed_up):
    url, path = backed_up
    manifest = json.loads(manifest_path(path).read_text(encoding="utf-8"))
    del manifest["fingerprint"]
    manifest_path(path).write_text(json.dumps(manifest), encoding="utf-8")
    _change(url)
    changed = _fingerprint(url)

    refused = run("restore", str(path))  # no --yes: refused before asking anything
    assert refused.exit_code == 1 and "has no readable manifest with a fingerprint" in refused.output
    assert "Replace ALL data" not in refused.output
    assert _fingerprint(url) == changed

    from rightsdb.ops.backup import restore_database
    from rightsdb.ops.backup_manifest import BackupError

    with pytest.raises(BackupError, match="restore it unverified with --force"):
        restore_database(url=url, path=path)
    assert _fingerprint(url) == changed
