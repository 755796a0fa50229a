"""Backup, damage, restore: the same rows come back and the published release still verifies, byte for byte."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from click.testing import CliRunner
from sqlmodel import Session, select

from rightsdb.models import DecisionCitation, Release, ReleaseAnswer
from rightsdb.ops import cli
from rightsdb.ops.cli import main
from rightsdb.ops.migrate import alembic_config
from rightsdb.publishing.files import read_sums, write_release_files
from rightsdb.publishing.publish import get_release
from rightsdb.publishing.snapshot import release_inputs
from tests.conftest import TINY_CODEBOOK
from tests.factories.countries import make_country
from tests.factories.releases import make_final

VERSION = "1.0.0"


@pytest.fixture
def stamped(tiny_app):
    """Stamp the fixture's create_all database with the Alembic head (restore needs it); unstamp after."""
    url = tiny_app.config["DATABASE_URL"]
    command.stamp(alembic_config(url), "head")
    yield url
    engine = tiny_app.extensions["rightsdb.engine"]
    with engine.begin() as connection:
        connection.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")


@pytest.fixture
def cli_apps(monkeypatch):
    """Dispose the engines of the apps the in-process CLI commands create (they leave them to process exit)."""
    apps = []
    create = cli._app

    def tracked():
        apps.append(create())
        return apps[-1]

    monkeypatch.setattr(cli, "_app", tracked)
    yield apps
    for app in apps:
        app.extensions["rightsdb.engine"].dispose()


def _counts(engine: sa.Engine) -> dict[str, int]:
    with engine.connect() as connection:
        quote = connection.dialect.identifier_preparer.quote
        tables = sorted(sa.inspect(connection).get_table_names())
        return {t: connection.exec_driver_sql(f"SELECT count(*) FROM {quote(t)}").scalar_one() for t in tables}


def test_backup_restore_keeps_row_counts_and_the_release_checksum(tiny_app, stamped, cli_apps, tmp_path, monkeypatch):
    codebook = tiny_app.extensions["rightsdb.codebook"]
    engine = tiny_app.extensions["rightsdb.engine"]
    exports = Path(tiny_app.config["EXPORTS_DIR"])
    for name, value in {
        "DATABASE_URL": stamped,
        "SECRET_KEY": tiny_app.config["SECRET_KEY"],
        "EXPORTS_DIR": str(exports),
        "CODEBOOK_PATH": str(TINY_CODEBOOK),
        "ENV": "testing",
    }.items():
        monkeypatch.setenv(f"RIGHTSDB_{name}", value)
    with Session(engine, expire_on_commit=False) as session:
        make_final(
            session, codebook, make_country(session, 0), coder_b={codebook.indicator_ids[0]: "not_provided"}, excerpt="لكل مهاجر الحق"
        )
        make_final(session, codebook, make_country(session, 1), excerpt="Каждый мигрант")
        session.commit()
    runner = CliRunner()
    built = runner.invoke(main, ["release", "build", VERSION, "--synthetic", "--date", "2026-03-01"])
    assert built.exit_code == 0, built.output
    with Session(engine) as session:
        published = get_release(session=session, version=VERSION).sha256
    assert published == hashlib.sha256((exports / VERSION / "SHA256SUMS").read_bytes()).hexdigest()
    before = _counts(engine)
    assert before["release_answers"] == 2 * len(codebook.indicators) and before["releases"] == 1

    backup = tmp_path / "rightsdb.backup"
    saved = runner.invoke(main, ["backup", str(backup)])
    assert saved.exit_code == 0, saved.output

    # Damage: lose half the release snapshot, its checksum and the citations behind the final values.
    with Session(engine) as session:
        first = session.exec(select(ReleaseAnswer.id).order_by(ReleaseAnswer.id)).first()
        session.exec(sa.delete(ReleaseAnswer).where(ReleaseAnswer.id > first + len(codebook.indicators) // 2))
        session.exec(sa.delete(DecisionCitation))
        session.exec(sa.update(Release).values(sha256="0" * 64))
        session.commit()
    assert _counts(engine) != before
    damaged = runner.invoke(main, ["release", "verify", VERSION])
    assert damaged.exit_code == 1 and "checksum differs" in damaged.output
    engine.dispose()  # the restore replaces the database under every open connection

    restored = runner.invoke(main, ["restore", str(backup), "--yes"])
    assert restored.exit_code == 0, restored.output
    assert "Verified: the content matches the backup's manifest." in restored.output

    assert _counts(engine) == before
    verified = runner.invoke(main, ["release", "verify", VERSION])
    assert verified.exit_code == 0, verified.output
    assert f"Release {VERSION} verified." in verified.output
    # Rebuilt from the restored snapshot into a new folder: the same files, so the same SHA256SUMS.
    rebuilt = tmp_path / "rebuilt"
    with Session(engine) as session:
        release = get_release(session=session, version=VERSION)
        assert release.sha256 == published
        write_release_files(rebuilt, inputs=release_inputs(session=session, release=release), codebook=codebook)
    stored = read_sums(exports / VERSION / "SHA256SUMS")
    again = read_sums(rebuilt / "SHA256SUMS")
    assert again == stored  # every file, the workbook included
    assert hashlib.sha256((rebuilt / "SHA256SUMS").read_bytes()).hexdigest() == published
