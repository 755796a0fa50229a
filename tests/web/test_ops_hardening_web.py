"""Operations (issue 14, item 10) on the web side: an unusable database is a 503 saying why, idle users are
signed out, the API's paging links never echo the Host header, and a WSGI server defaults to production.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from datetime import date

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from rightsdb import create_app
from rightsdb.availability import database_problem
from rightsdb.config import DEV_SECRET_KEY, ConfigError, server_default_env
from rightsdb.publishing.publish import publish_release
from rightsdb.web import session as web_session
from tests.conftest import ROOT, TINY_CODEBOOK, login, make_app
from tests.factories.countries import make_country
from tests.factories.people import make_user
from tests.factories.releases import make_final

KEY = "test-secret-key-that-is-long-enough-0123456789"


def _bare_app(url: str, tmp_path, **overrides):
    """An app on `url` without creating any table, exceptions not propagated (like a deployment)."""
    config = {
        "ENV": "testing",
        "SECRET_KEY": KEY,
        "DATABASE_URL": url,
        "EXPORTS_DIR": str(tmp_path / "exports"),
        "CODEBOOK_PATH": str(TINY_CODEBOOK),
        "PROPAGATE_EXCEPTIONS": False,
        **overrides,
    }
    return create_app(config)


def _closed_port() -> int:
    """Return a port of 127.0.0.1 that nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# ---- an empty or unreachable database: 503 with one sentence -------------------------------------


def test_a_database_without_tables_answers_503_naming_init_db_on_pages_and_in_the_api(tmp_path):
    app = _bare_app(f"sqlite:///{tmp_path / 'empty.sqlite'}", tmp_path)
    try:
        client = app.test_client()
        page = client.get("/")
        text = page.get_data(as_text=True)
        assert page.status_code == 503 and page.mimetype == "text/html"
        assert f"The database at sqlite:///{tmp_path / 'empty.sqlite'} has no rightsdb tables: run `rightsdb init-db`." in text
        assert "Traceback" not in text and "no such table" not in text
        api = client.get("/api/v1/releases")
        assert api.status_code == 503 and api.mimetype == "application/json"
        assert api.get_json() == {
            "error": f"The database at sqlite:///{tmp_path / 'empty.sqlite'} has no rightsdb tables: run `rightsdb init-db`.",
            "status": 503,
        }
    finally:
        app.extensions["rightsdb.engine"].dispose()


def test_an_unreachable_database_answers_503_with_the_reason_and_no_password(tmp_path):
    port = _closed_port()
    app = _bare_app(f"postgresql+psycopg://rightsdb:hunter2secret@127.0.0.1:{port}/rightsdb", tmp_path)
    try:
        client = app.test_client()
        for path in ("/", "/downloads"):
            page = client.get(path)
            text = page.get_data(as_text=True)
            assert page.status_code == 503, (path, text[:500])
            assert f"Cannot connect to the database at postgresql+psycopg://rightsdb:***@127.0.0.1:{port}/rightsdb:" in text
            assert "hunter2secret" not in text
        api = client.get("/api/v1/countries").get_json()
        assert (
            api["status"] == 503 and api["error"].startswith("Cannot connect to the database at ") and "hunter2secret" not in api["error"]
        )
    finally:
        app.extensions["rightsdb.engine"].dispose()


def test_a_database_error_on_a_working_database_is_still_the_plain_500(tmp_path):
    app = make_app(f"sqlite:///{tmp_path / 'fine.sqlite'}", tmp_path, CODEBOOK_PATH=str(TINY_CODEBOOK), PROPAGATE_EXCEPTIONS=False)

    def locked():
        raise sa.exc.OperationalError("UPDATE users", {}, Exception("database is locked"))

    app.add_url_rule("/test-only/locked", "locked", locked)
    try:
        response = app.test_client().get("/test-only/locked")
        assert response.status_code == 500 and "Something went wrong on our side" in response.get_data(as_text=True)
    finally:
        app.extensions["rightsdb.engine"].dispose()


def test_a_database_missing_tables_or_behind_the_code_says_which(tmp_path):
    app = make_app(f"sqlite:///{tmp_path / 'old.sqlite'}", tmp_path, CODEBOOK_PATH=str(TINY_CODEBOOK))
    engine = app.extensions["rightsdb.engine"]
    try:
        assert database_problem(engine) is None  # every table, no alembic_version (create_all): current
        with engine.begin() as connection:
            connection.exec_driver_sql("DROP TABLE release_citations")
        assert database_problem(engine) == (
            f"The database at sqlite:///{tmp_path / 'old.sqlite'} lacks the rightsdb tables release_citations: "
            "run `rightsdb init-db` to upgrade it."
        )
        with engine.begin() as connection:
            connection.exec_driver_sql("CREATE TABLE release_citations (id INTEGER PRIMARY KEY)")
            connection.exec_driver_sql("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)")
            connection.exec_driver_sql("INSERT INTO alembic_version VALUES ('0001')")
        assert "is at schema revision 0001, not the one this rightsdb needs" in database_problem(engine)
    finally:
        engine.dispose()


# ---- idle sign-out --------------------------------------------------------------------------------


class Clock:
    """The idle sign-out's clock, moved by the test."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.value = start

    def __call__(self) -> float:
        return self.value

    def advance(self, minutes: float) -> None:
        self.value += minutes * 60


@pytest.fixture
def clock(monkeypatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(web_session, "now", clock)
    return clock


def _signed_in(app):
    with Session(app.extensions["rightsdb.engine"], expire_on_commit=False) as session:
        user = make_user(session, "coder")
        session.commit()
    return login(app.test_client(), user)


def test_an_idle_user_is_signed_out_at_the_next_request_with_a_message(tiny_app, clock):
    client = _signed_in(tiny_app)
    assert client.get("/coder/").status_code == 200
    clock.advance(61)
    idle = client.get("/coder/")
    assert idle.status_code == 302 and "/login" in idle.headers["Location"]
    landing = client.get(idle.headers["Location"])
    assert "You were signed out after 60 minutes without activity." in landing.get_data(as_text=True)
    # Signed out for good: the next request is anonymous too, and says nothing more.
    again = client.get("/coder/")
    assert again.status_code == 302 and "/login" in again.headers["Location"]
    with client.session_transaction() as cookie:
        assert "_user_id" not in cookie and web_session.LAST_SEEN not in cookie


def test_activity_keeps_a_user_signed_in(tiny_app, clock):
    client = _signed_in(tiny_app)
    for _ in range(4):
        assert client.get("/coder/").status_code == 200
        clock.advance(59)  # four hours in all, never an hour without a request
    assert client.get("/coder/").status_code == 200


@pytest.mark.parametrize(("minutes", "idle", "signed_in"), [(5, 4.9, True), (5, 5.1, False), (0, 60 * 24 * 365, True)])
def test_the_idle_timeout_is_configurable_and_0_disables_it(db_url, tmp_path, clock, minutes, idle, signed_in):
    app = make_app(db_url, tmp_path, CODEBOOK_PATH=str(TINY_CODEBOOK), IDLE_TIMEOUT_MINUTES=minutes)
    try:
        client = _signed_in(app)
        assert client.get("/coder/").status_code == 200
        clock.advance(idle)
        assert client.get("/coder/").status_code == (200 if signed_in else 302)
    finally:
        app.extensions["rightsdb.engine"].dispose()


def test_a_negative_idle_timeout_is_refused():
    from rightsdb.config import Settings

    with pytest.raises(ConfigError, match="RIGHTSDB_IDLE_TIMEOUT_MINUTES"):
        Settings.from_env({"RIGHTSDB_IDLE_TIMEOUT_MINUTES": "-1"}).check()


# ---- the API's paging links and the Host header ---------------------------------------------------


def _publish(app) -> None:
    codebook = app.extensions["rightsdb.codebook"]
    with Session(app.extensions["rightsdb.engine"], expire_on_commit=False) as session:
        make_final(session, codebook, make_country(session, 0))
        publish_release(
            session=session,
            codebook=codebook,
            exports_dir=app.config["EXPORTS_DIR"],
            version="1.0.0",
            release_date=date(2026, 3, 1),
            synthetic=True,
        )
        session.commit()


def test_a_forged_host_header_never_reaches_the_paging_links_or_their_cache(tiny_app):
    _publish(tiny_app)
    client = tiny_app.test_client()
    forged = client.get("/api/v1/answers?per_page=1", headers={"Host": "evil.example"})
    assert forged.status_code == 200
    assert "evil.example" not in forged.get_data(as_text=True) and "evil.example" not in forged.headers["Link"]
    assert forged.get_json()["pagination"]["next"] == "/api/v1/answers?release=1.0.0&page=2&per_page=1"
    honest = client.get("/api/v1/answers?per_page=1")
    assert honest.data == forged.data and honest.headers["Link"] == forged.headers["Link"]
    assert "Set-Cookie" not in honest.headers  # the idle check writes no session for anonymous readers


def test_a_configured_public_url_starts_every_paging_link(db_url, tmp_path):
    app = make_app(db_url, tmp_path, CODEBOOK_PATH=str(TINY_CODEBOOK), PUBLIC_URL="https://data.example.org/rights/")
    try:
        _publish(app)
        response = app.test_client().get("/api/v1/answers?per_page=1", headers={"Host": "evil.example"})
        body = response.get_json()
        assert body["pagination"]["next"] == "https://data.example.org/rights/api/v1/answers?release=1.0.0&page=2&per_page=1"
        assert response.headers["Link"].startswith(
            '<https://data.example.org/rights/api/v1/answers?release=1.0.0&page=1&per_page=1>; rel="first"'
        )
        assert "evil.example" not in response.get_data(as_text=True)
    finally:
        app.extensions["rightsdb.engine"].dispose()


@pytest.mark.parametrize("value", ["data.example.org", "ftp://data.example.org", "https://data.example.org/?x=1", "https:// spaced"])
def test_a_public_url_that_is_no_site_address_is_refused(value):
    from rightsdb.config import Settings

    with pytest.raises(ConfigError, match="RIGHTSDB_PUBLIC_URL must be the site's address"):
        Settings.from_env({"RIGHTSDB_PUBLIC_URL": value}).check()


# ---- a WSGI server defaults to production ---------------------------------------------------------


def _environment(tmp_path, **extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("RIGHTSDB_", "FLASK_"))}
    env.update(
        RIGHTSDB_DATABASE_URL=f"sqlite:///{tmp_path / 'wsgi.sqlite'}",
        RIGHTSDB_EXPORTS_DIR=str(tmp_path / "exports"),
        RIGHTSDB_CODEBOOK_PATH=str(TINY_CODEBOOK),
        **extra,
    )
    return env


def test_gunicorn_without_rightsdb_env_runs_in_production_and_refuses_the_development_key(tmp_path):
    def check(env):
        command = [sys.executable, "-m", "gunicorn", "--check-config", "rightsdb:create_app()"]
        return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)

    refused = check(_environment(tmp_path))
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "RIGHTSDB_SECRET_KEY must be set to a random value of at least 32 characters in production" in refused.stderr
    assert "gunicorn runs in production unless RIGHTSDB_ENV says otherwise" in refused.stderr
    assert check(_environment(tmp_path, RIGHTSDB_SECRET_KEY=KEY)).returncode == 0
    assert check(_environment(tmp_path, RIGHTSDB_ENV="development")).returncode == 0


def test_the_wsgi_entry_defaults_to_production_and_flask_run_to_development(tmp_path, monkeypatch):
    for name in [n for n in os.environ if n.startswith("RIGHTSDB_") or n == "FLASK_RUN_FROM_CLI"]:
        monkeypatch.delenv(name)
    for name, value in _environment(tmp_path, RIGHTSDB_SECRET_KEY=KEY).items():
        if name.startswith("RIGHTSDB_"):
            monkeypatch.setenv(name, value)
    app = create_app()
    try:
        assert app.config["ENV"] == "production" and app.config["SESSION_COOKIE_SECURE"] is True
    finally:
        app.extensions["rightsdb.engine"].dispose()
    monkeypatch.delenv("RIGHTSDB_SECRET_KEY")
    with pytest.raises(ConfigError, match="RIGHTSDB_SECRET_KEY"):
        create_app()
    assert server_default_env({}) == "production"
    assert server_default_env({"FLASK_RUN_FROM_CLI": "true"}) == "development"
    monkeypatch.setenv("FLASK_RUN_FROM_CLI", "true")
    flask_run = create_app()
    try:
        assert flask_run.config["ENV"] == "development" and flask_run.config["SECRET_KEY"] == DEV_SECRET_KEY
    finally:
        flask_run.extensions["rightsdb.engine"].dispose()
