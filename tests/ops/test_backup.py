"""Backups and restores: every row comes back, byte for byte, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.script import ScriptDirectory
from click.testing import CliRunner
from sqlmodel import Session, select

from rightsdb.accounts.audit import record_event
from rightsdb.models import AuditEvent, Citation, Country, Decision, DecisionCitation, LegalSource, User
from rightsdb.ops import backup_postgres as backup_module
from rightsdb.ops.backup import backup_database, inspect_backup, restore_database
from rightsdb.ops.backup_manifest import UNVERSIONED, BackupError, database_fingerprint, manifest_path
from rightsdb.ops.backup_postgres import libpq_environment
from rightsdb.ops.cli import main
from rightsdb.ops.migrate import alembic_config
from tests.conftest import make_app
from tests.factories.coding import fill_assignment, make_source
from tests.factories.countries import make_country
from tests.factories.people import make_user
from tests.factories.rounds import make_assignments, make_round

#: The newest migration, which a stamped database is at.
HEAD = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()

ARABIC = "لا يجوز إبعاد الأجنبي المقيم إقامة دائمة إلا بقرار مسبب."
RUSSIAN = "Иностранный гражданин имеет право на обжалование решения о выдворении."


def fill_database(session: Session, codebook) -> None:
    """Add users, countries, a round, both codings with Arabic and Russian citations, decisions and audit events."""
    admin = make_user(session, "admin")
    supervisor = make_user(session, "supervisor", name="Мария Иванова")
    coder_a = make_user(session, "coder", name="فاطمة الزهراء")
    coder_b = make_user(session, "coder")
    round_ = make_round(session, codebook)
    for index, (title, language, excerpt) in enumerate([("قانون الأجانب", "ar", ARABIC), ("Федеральный закон", "ru", RUSSIAN)]):
        country = make_country(session, index)
        country_round, a, b = make_assignments(session, round_, country, coder_a, coder_b)
        source = make_source(session, country, title=title, language=language)
        answers = fill_assignment(session, a, codebook, source=source, submit=True)
        fill_assignment(session, b, codebook, source=source, submit=True)
        first = session.exec(select(Citation).where(Citation.answer_id == answers[0].id)).one()
        first.excerpt, first.translation = excerpt, "A permanent resident may be expelled only by a reasoned decision."
        session.add(first)
        decision = Decision(
            country_round_id=country_round.id,
            indicator_id=answers[0].indicator_id,
            value=answers[0].value,
            groups=["permanent_residents"],
            outcome="reconciled",
            chosen="A",
            reason=f"Les deux codeurs; {excerpt[:12]}",
            decided_by_id=supervisor.id,
        )
        session.add(decision)
        session.flush()
        session.add(DecisionCitation(decision_id=decision.id, citation_id=first.id))
        record_event(
            session=session,
            user_id=supervisor.id,
            action="decision.reconcile",
            entity="decision",
            entity_id=decision.id,
            old=None,
            new={"value": decision.value, "reason": decision.reason},
            country_round_id=country_round.id,
        )
    record_event(session=session, user_id=admin.id, action="user.create", entity="user", entity_id=coder_a.id, new={"name": coder_a.name})
    session.commit()


@pytest.fixture
def stamped(app):
    """Stamp the fixture's create_all database with the Alembic head, as `init-db` would; unstamp after."""
    url = app.config["DATABASE_URL"]
    command.stamp(alembic_config(url), "head")
    yield url
    engine = app.extensions["rightsdb.engine"]
    with engine.begin() as connection:
        connection.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")


def cli_env(monkeypatch, app) -> None:
    """Point the CLI at the test database."""
    monkeypatch.setenv("RIGHTSDB_DATABASE_URL", app.config["DATABASE_URL"])
    monkeypatch.setenv("RIGHTSDB_SECRET_KEY", app.config["SECRET_KEY"])
    monkeypatch.setenv("RIGHTSDB_EXPORTS_DIR", app.config["EXPORTS_DIR"])


def test_backup_then_restore_brings_back_every_row(app, session, codebook, stamped, tmp_path):
    engine = app.extensions["rightsdb.engine"]
    fill_database(session, codebook)
    before = database_fingerprint(engine)
    path = tmp_path / "rightsdb.backup"

    manifest = backup_database(url=stamped, path=path)

    assert manifest["fingerprint"] == before
    assert manifest["alembic_revision"] == HEAD
    assert manifest["tables"]["users"] == 4 and manifest["tables"]["countries"] == 2
    assert manifest["tables"]["answers"] == 4 * len(codebook.indicators)
    assert manifest["tables"]["audit_events"] == 3 and manifest["tables"]["decision_citations"] == 2
    written = manifest_path(path).read_text(encoding="utf-8")
    assert written == json.dumps(manifest, sort_keys=True, indent=2, ensure_ascii=False) + "\n"

    # Damage: delete, alter and add rows (audit events can only be added).
    session.exec(sa.delete(DecisionCitation))
    session.exec(sa.delete(Citation).where(Citation.id > 5))
    user = session.exec(select(User).where(User.role == "supervisor")).one()
    user.name = "Someone else"
    session.add(user)
    session.add(Country(iso3="XZZ", iso2="XZ", name="Extra", synthetic=True))
    record_event(session=session, user_id=None, action="test.damage", entity="database")
    session.commit()
    session.close()
    assert database_fingerprint(engine) != before

    report = restore_database(url=stamped, path=path)

    assert report["verified"] is True
    assert report["tables"] == manifest["tables"]
    assert database_fingerprint(engine) == before
    with Session(engine) as fresh:
        assert fresh.exec(select(Citation.excerpt).where(Citation.excerpt.in_([ARABIC, RUSSIAN])).order_by(Citation.id)).all() == [
            ARABIC,
            RUSSIAN,
        ]
        assert fresh.exec(select(User.name).where(User.role == "supervisor")).one() == "Мария Иванова"
        assert fresh.get(Country, "XZZ") is None
        assert fresh.exec(select(LegalSource.title).order_by(LegalSource.id)).all() == ["قانون الأجانب", "Федеральный закон"]
        # New rows still get fresh ids after the restore (sequences came back too).
        fresh.add(Country(iso3="XYY", iso2="XY", name="After", synthetic=True))
        event = record_event(session=fresh, user_id=None, action="test.after", entity="database")
        fresh.commit()
        assert event.id == manifest["tables"]["audit_events"] + 1
    # The append-only triggers came back with the table.
    with pytest.raises(sa.exc.DatabaseError, match="append-only"):
        with engine.begin() as connection:
            connection.execute(sa.delete(AuditEvent.__table__))


def test_restore_into_an_empty_database_after_losing_it(app, session, codebook, stamped, tmp_path):
    engine = app.extensions["rightsdb.engine"]
    fill_database(session, codebook)
    session.close()
    before = database_fingerprint(engine)
    path = tmp_path / "disaster.backup"
    backup_database(url=stamped, path=path)

    # The disk is gone: no tables at all (PostgreSQL), no file at all (SQLite).
    engine.dispose()
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            connection.exec_driver_sql("DROP SCHEMA public CASCADE")
            connection.exec_driver_sql("CREATE SCHEMA public")
        engine.dispose()
    else:
        for suffix in ("", "-wal", "-shm"):
            Path(sa.engine.make_url(stamped).database + suffix).unlink(missing_ok=True)
    with engine.connect() as connection:
        assert sa.inspect(connection).get_table_names() == []

    report = restore_database(url=stamped, path=path)

    assert report["verified"] is True and report["tables"]["answers"] == 4 * len(codebook.indicators)
    assert database_fingerprint(engine) == before


def test_unversioned_database_backs_up_with_manifest(app, session, codebook, tmp_path):
    fill_database(session, codebook)
    path = tmp_path / "sub" / "plain.backup"

    manifest = backup_database(url=app.config["DATABASE_URL"], path=path)

    assert manifest["alembic_revision"] == UNVERSIONED
    on_disk = json.loads(manifest_path(path).read_text(encoding="utf-8"))
    assert on_disk == manifest and list(on_disk) == sorted(on_disk)
    assert on_disk["kind"] == app.extensions["rightsdb.engine"].dialect.name
    assert on_disk["tables"]["decisions"] == 2 and on_disk["created_at"].endswith("+00:00")
    # Without alembic_version the file is not a restorable rightsdb backup: restore says so and changes nothing.
    with pytest.raises(BackupError, match="alembic_version"):
        restore_database(url=app.config["DATABASE_URL"], path=path)


def test_backup_refuses_to_overwrite_without_force(app, stamped, tmp_path):
    path = tmp_path / "existing.backup"
    path.write_bytes(b"precious")

    with pytest.raises(BackupError, match="already exists"):
        backup_database(url=stamped, path=path)
    assert path.read_bytes() == b"precious"
    assert not manifest_path(path).exists()

    manifest = backup_database(url=stamped, path=path, force=True)
    assert path.read_bytes() != b"precious" and manifest["tables"]["users"] == 0
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_restore_refuses_a_file_that_is_not_a_backup(app, session, codebook, stamped, tmp_path):
    fill_database(session, codebook)
    session.close()
    engine = app.extensions["rightsdb.engine"]
    before = database_fingerprint(engine)
    not_backup = tmp_path / "notes.txt"
    not_backup.write_text("just some notes\n", encoding="utf-8")

    with pytest.raises(BackupError, match="not a rightsdb backup"):
        restore_database(url=stamped, path=not_backup)
    with pytest.raises(BackupError, match="does not exist"):
        restore_database(url=stamped, path=tmp_path / "missing.backup")

    # A real backup whose bytes no longer match its manifest is refused before anything is touched.
    path = tmp_path / "good.backup"
    backup_database(url=stamped, path=path)
    manifest = json.loads(manifest_path(path).read_text(encoding="utf-8"))
    manifest["sha256"] = "0" * 64
    manifest_path(path).write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(BackupError, match="checksum"):
        restore_database(url=stamped, path=path)
    assert database_fingerprint(engine) == before


def test_restore_refuses_sqlite_file_without_rightsdb_tables(tmp_path):
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as connection:
        connection.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
    connection.close()
    url = f"sqlite:///{tmp_path / 'live.sqlite'}"

    with pytest.raises(BackupError, match="no alembic_version or users table"):
        inspect_backup(url=url, path=other)
    fake_dump = tmp_path / "fake.dump"
    fake_dump.write_bytes(b"PGDMP garbage")
    with pytest.raises(BackupError, match="postgresql backup but the configured database is sqlite"):
        restore_database(url=url, path=fake_dump)
    assert not (tmp_path / "live.sqlite").exists()


def test_sqlite_backup_during_open_write_transaction_is_consistent(tmp_path):
    app = make_app(f"sqlite:///{tmp_path / 'busy.sqlite'}", tmp_path)
    engine = app.extensions["rightsdb.engine"]
    with Session(engine) as session:
        fill_database(session, app.extensions["rightsdb.codebook"])
    before = database_fingerprint(engine)
    writer = sqlite3.connect(tmp_path / "busy.sqlite", isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("UPDATE users SET name = 'half-done' WHERE role = 'admin'")
    writer.execute("INSERT INTO countries (iso3, iso2, name, region, synthetic) VALUES ('XQQ', 'XQ', 'Pending', '', 1)")
    try:
        manifest = backup_database(url=app.config["DATABASE_URL"], path=tmp_path / "busy.backup")
    finally:
        writer.execute("COMMIT")
        writer.close()

    assert manifest["fingerprint"] == before  # the last committed state, nothing half-written
    assert manifest["tables"]["countries"] == 2
    copy = sa.create_engine(f"sqlite:///{tmp_path / 'busy.backup'}")
    assert database_fingerprint(copy) == before
    with copy.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA integrity_check").scalar_one() == "ok"
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar_one() == "delete"
    copy.dispose()
    assert database_fingerprint(engine) != before  # the writer's change landed in the live database only
    engine.dispose()


def test_fingerprint_depends_on_content_not_on_insertion_order(app, session):
    engine = app.extensions["rightsdb.engine"]
    make_country(session, 1)
    make_country(session, 0)
    session.commit()
    first = database_fingerprint(engine)
    assert first == database_fingerprint(engine)
    country = session.get(Country, "XAA")
    country.name = "Arvenia "  # a trailing space is a change too
    session.add(country)
    session.commit()
    assert database_fingerprint(engine) != first


def test_libpq_environment_from_sqlalchemy_url():
    url = "postgresql+psycopg://coder:s%40cret@db.example.org:6543/rights?sslmode=require"
    assert libpq_environment(url) == {
        "PGHOST": "db.example.org",
        "PGPORT": "6543",
        "PGUSER": "coder",
        "PGPASSWORD": "s@cret",
        "PGDATABASE": "rights",
        "PGSSLMODE": "require",
    }
    assert libpq_environment("postgresql+psycopg://postgres@127.0.0.1/rights") == {
        "PGHOST": "127.0.0.1",
        "PGUSER": "postgres",
        "PGDATABASE": "rights",
    }


def test_missing_or_failing_pg_tools_give_clear_errors(monkeypatch, tmp_path):
    url = "postgresql+psycopg://postgres@127.0.0.1:5432/nowhere"
    fake_dump = tmp_path / "fake.dump"
    fake_dump.write_bytes(b"PGDMP but not really an archive")
    # The real pg_restore reads the archive without connecting: its own error is shown.
    with pytest.raises(BackupError, match=r"pg_restore failed \(exit status 1\):\npg_restore: error"):
        inspect_backup(url=url, path=fake_dump)
    monkeypatch.setattr(backup_module.shutil, "which", lambda _name: None)
    with pytest.raises(BackupError, match="pg_dump was not found on PATH"):
        backup_database(url=url, path=tmp_path / "x.dump")
    assert not (tmp_path / "x.dump").exists()


def test_cli_backup_and_restore(app, session, codebook, stamped, tmp_path, monkeypatch):
    cli_env(monkeypatch, app)
    engine = app.extensions["rightsdb.engine"]
    fill_database(session, codebook)
    session.close()
    before = database_fingerprint(engine)
    path = str(tmp_path / "cli.backup")
    runner = CliRunner()

    result = runner.invoke(main, ["backup", path])
    assert result.exit_code == 0, result.output
    assert f"alembic revision: {HEAD}" in result.output and f"Manifest written to {path}.json" in result.output
    assert any(line.split() == ["users", "4"] for line in result.output.splitlines())
    again = runner.invoke(main, ["backup", path])
    assert again.exit_code == 1 and "already exists; use --force" in again.output
    assert runner.invoke(main, ["backup", path, "--force"]).exit_code == 0

    with engine.begin() as connection:
        connection.execute(sa.update(User.__table__).values(name="changed"))
    declined = runner.invoke(main, ["restore", path], input="n\n")
    assert declined.exit_code == 1 and "Aborted" in declined.output
    assert database_fingerprint(engine) != before

    confirmed = runner.invoke(main, ["restore", path], input="y\n")
    assert confirmed.exit_code == 0, confirmed.output
    assert "Verified: the content matches" in confirmed.output
    assert database_fingerprint(engine) == before

    with engine.begin() as connection:
        connection.execute(sa.update(User.__table__).values(name="changed again"))
    assert runner.invoke(main, ["restore", path, "--yes"]).exit_code == 0
    assert database_fingerprint(engine) == before

    (tmp_path / "junk").write_text("junk", encoding="utf-8")
    refused = runner.invoke(main, ["restore", str(tmp_path / "junk"), "--yes"])
    assert refused.exit_code == 1 and "not a rightsdb backup" in refused.output


def test_restore_names_tables_the_backup_does_not_have(app, stamped, tmp_path, monkeypatch):
    cli_env(monkeypatch, app)
    engine = app.extensions["rightsdb.engine"]
    path = tmp_path / "before-migration.backup"
    backup_database(url=stamped, path=path)
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE late_table (id INTEGER PRIMARY KEY)")
    try:
        result = CliRunner().invoke(main, ["restore", str(path), "--yes"])
        with engine.connect() as connection:
            tables = sa.inspect(connection).get_table_names()
    finally:
        with engine.begin() as connection:
            connection.exec_driver_sql("DROP TABLE IF EXISTS late_table")
    if engine.dialect.name == "postgresql":
        # pg_restore --clean replaces only what the archive holds: say so instead of claiming success.
        assert result.exit_code == 1 and "left as they were: late_table" in result.output
        assert "late_table" in tables
    else:
        # The SQLite file is replaced whole.
        assert result.exit_code == 0 and "Verified" in result.output
        assert "late_table" not in tables
