"""Load: 20 coders save through gunicorn on PostgreSQL for a few seconds; every acknowledged save is stored once."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from bench.load import FormReader, LoadReport, check_database, run_load
from tests.conftest import PG_SKIP, PG_URL

LOAD_SECONDS = 8.0
LOAD_CODERS = 20


def load_database_url(base_url: str) -> str:
    """Derive this run's own load_* database from the test database's URL (one per test database)."""
    url = sa.engine.make_url(base_url)
    name = "load_ci_" + re.sub(r"[^a-z0-9_]", "_", (url.database or "db").lower())
    return url.set(database=name[:63]).render_as_string(hide_password=False)


def _admin(sql: str) -> None:
    engine = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.exec_driver_sql(sql)
    finally:
        engine.dispose()


@pytest.fixture
def load_database():
    """Create an empty load_ci_* database next to the test database; drop it afterwards."""
    if not PG_URL:
        pytest.skip(PG_SKIP)
    url = load_database_url(PG_URL)
    name = sa.engine.make_url(url).database
    _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    _admin(f'CREATE DATABASE "{name}"')
    yield url
    _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.slow
@pytest.mark.postgres
def test_every_acknowledged_save_is_stored_exactly_once_under_load(load_database):
    lines: list[str] = []
    report = run_load(load_database, coders=LOAD_CODERS, countries=10, duration=LOAD_SECONDS, progress=lines.append)

    summary = "\n".join(lines + report.lines())
    assert report.failures == [], summary
    assert report.server_errors == 0 and report.connection_errors == 0 and report.conflicts == 0, summary
    assert report.acknowledged >= LOAD_CODERS, summary  # every coder saved at least once
    assert report.acknowledged == report.saves, summary
    assert report.missing == [] and report.duplicated == [] and report.unacknowledged_stored == [], summary
    assert report.ok, summary
    assert len(report.latencies["login"]) == LOAD_CODERS
    assert any(line.startswith("throughput saves/s: ") for line in report.lines())
    assert any(line.startswith("latency save p99: ") for line in report.lines())


def test_load_database_name_is_a_load_database():
    url = load_database_url("postgresql+psycopg://postgres@127.0.0.1:5432/helper-Tests")
    assert sa.engine.make_url(url).database == "load_ci_helper_tests"
    assert sa.engine.make_url(url).host == "127.0.0.1"


def test_form_reader_submits_like_a_browser():
    html = """
    <form method="post" action="/coder/assignments/3/save">
      <input type="hidden" name="csrf_token" value="tok&amp;en">
      <input type="radio" name="A-value" value="provided"><input type="radio" name="A-value" value="not_provided" checked>
      <input type="checkbox" name="A-groups" value="refugees">
      <textarea name="A-notes">
first line</textarea>
      <select name="A-source"><option value="">none</option><option value="7" selected>Act</option></select>
      <select name="A-type"><option value="statute">Statute</option></select>
      <button type="submit" name="save" value="CAT">Save</button>
    </form>"""
    reader = FormReader()
    reader.feed(html)
    form = reader.forms[0]
    sent = {name: value for name, value, on, _kind in form["fields"] if on}
    assert form["action"] == "/coder/assignments/3/save"
    assert sent == {"csrf_token": "tok&en", "A-value": "not_provided", "A-notes": "first line", "A-source": "7", "A-type": "statute"}
    assert form["buttons"] == [("save", "CAT")]


def test_database_check_finds_lost_duplicated_and_unacknowledged_saves(tmp_path):
    url = f"sqlite:///{tmp_path / 'check.sqlite'}"
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE citations (id INTEGER PRIMARY KEY, excerpt TEXT)")
        for excerpt in ["run1-a", "run1-b", "run1-b", "run1-x", "run0-c", "other"]:
            connection.execute(sa.text("INSERT INTO citations (excerpt) VALUES (:e)"), {"e": excerpt})
    engine.dispose()

    missing, duplicated, unacknowledged = check_database(url, "run1", ["run1-a", "run1-b", "run1-c"])

    assert (missing, duplicated, unacknowledged) == (["run1-c"], ["run1-b"], ["run1-x"])


def test_load_report_fails_on_any_server_error_or_lost_save():
    def report(**changes) -> LoadReport:
        values = dict(
            coders=1,
            duration=1.0,
            requests=2,
            saves=1,
            acknowledged=1,
            missing=[],
            duplicated=[],
            unacknowledged_stored=[],
            failures=[],
            statuses={("save", 303): 1, ("page", 200): 1},
            latencies={"save": [0.1], "page": [0.2]},
        )
        return LoadReport(**{**values, **changes})

    assert report().ok
    assert "invariants: PASS" in report().lines()
    assert not report(statuses={("save", 500): 1}).ok
    assert not report(statuses={("save", "connection error"): 1}).ok
    assert not report(statuses={("save", 409): 1}).ok
    assert not report(missing=["m"]).ok
    assert not report(acknowledged=0).ok
