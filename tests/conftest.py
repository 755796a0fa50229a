"""Shared fixtures: an app on a fresh database per test, on SQLite and (when configured) PostgreSQL.

Tests that take `app`, `session` or `client` run once per database engine: `[sqlite]` always, and
`[postgresql]` when RIGHTSDB_TEST_POSTGRES_URL is set. Without it the PostgreSQL variants are skipped
with a message saying so; CI sets it and fails the run if anything was skipped.

Each codebook file is parsed once per test session: every app the tests make loads its codebook
through `load_codebook_once`, and the session's `real_codebook` is the same parsed object.
Tests of loading itself (broken files, error messages) call `rightsdb.codebook.load_codebook` and
`parse_codebook` directly, which always parse.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from sqlmodel import Session, SQLModel

import rightsdb
from rightsdb import create_app
from rightsdb.codebook import Codebook, load_codebook
from rightsdb.db import create_all

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).with_name("data")
GOLDEN = Path(__file__).with_name("golden")
TINY_CODEBOOK = DATA / "tiny_codebook.yaml"
REAL_CODEBOOK = ROOT / "indicators.yaml"
PG_URL = os.environ.get("RIGHTSDB_TEST_POSTGRES_URL", "")
PG_SKIP = "PostgreSQL tests skipped: set RIGHTSDB_TEST_POSTGRES_URL (CI sets it; .ci/run uses 127.0.0.1:5432)"

_pg_engine: sa.engine.Engine | None = None
_codebooks: dict[tuple[str, int, int], Codebook] = {}


def load_codebook_once(path: str | Path) -> Codebook:
    """Return the codebook in `path`, parsed by the real loader the first time this session asks for that file.

    The cache is keyed by the resolved path, modification time and size, so a file a test rewrites
    is parsed again. A file that cannot be loaded is not cached: the real loader raises every time.
    The parsed Codebook is a frozen model, safe to share between apps.
    """
    try:
        stat = Path(path).stat()
    except OSError:
        return load_codebook(path)  # the real loader says what is wrong with the path
    key = (str(Path(path).resolve()), stat.st_mtime_ns, stat.st_size)
    if key not in _codebooks:
        _codebooks[key] = load_codebook(path)
    return _codebooks[key]


@pytest.fixture(scope="session", autouse=True)
def codebook_parsed_once():
    """Make every app of the session load its codebook through `load_codebook_once` (create_app's lookup)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(rightsdb, "load_codebook", load_codebook_once)
        yield


@pytest.fixture(scope="session")
def real_codebook() -> Codebook:
    """The real instrument (indicators.yaml), parsed once per session."""
    return load_codebook_once(REAL_CODEBOOK)


def _postgres_engine() -> sa.engine.Engine:
    """Create the schema once per test session on a clean PostgreSQL schema."""
    global _pg_engine
    if _pg_engine is None:
        engine = sa.create_engine(PG_URL)
        with engine.begin() as connection:
            connection.exec_driver_sql("DROP SCHEMA IF EXISTS public CASCADE")
            connection.exec_driver_sql("CREATE SCHEMA public")
        create_all(engine)
        _pg_engine = engine
    return _pg_engine


def _truncate_postgres() -> None:
    engine = _postgres_engine()
    tables = ", ".join(f'"{t.name}"' for t in SQLModel.metadata.sorted_tables)
    with engine.begin() as connection:
        connection.exec_driver_sql(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path) -> str:
    """A fresh, empty database with every table, on each engine."""
    if request.param == "postgresql":
        if not PG_URL:
            pytest.skip(PG_SKIP)
        _truncate_postgres()
        return PG_URL
    url = f"sqlite:///{tmp_path / 'test.sqlite'}"
    return url


def make_app(db_url: str, tmp_path: Path, **overrides):
    """Create a testing app on `db_url` with its tables created."""
    config = {
        "ENV": "testing",
        "SECRET_KEY": "test-secret-key-that-is-long-enough-0123456789",
        "DATABASE_URL": db_url,
        "EXPORTS_DIR": str(tmp_path / "exports"),
        "WTF_CSRF_ENABLED": False,
        "LOGIN_SLOWDOWN_SECONDS": 0,
    }
    config.update(overrides)
    app = create_app(config)
    if db_url.startswith("sqlite"):
        create_all(app.extensions["rightsdb.engine"])
    return app


@pytest.fixture
def app(db_url, tmp_path):
    """The application on the real codebook (indicators.yaml) and a fresh database."""
    app = make_app(db_url, tmp_path)
    yield app
    app.extensions["rightsdb.engine"].dispose()


@pytest.fixture
def tiny_app(db_url, tmp_path):
    """The application on the tiny test codebook (tests/data/tiny_codebook.yaml)."""
    app = make_app(db_url, tmp_path, CODEBOOK_PATH=str(TINY_CODEBOOK))
    yield app
    app.extensions["rightsdb.engine"].dispose()


@pytest.fixture
def tiny_session(tiny_app):
    """A session on the tiny-codebook app's database (the test commits)."""
    with Session(tiny_app.extensions["rightsdb.engine"], expire_on_commit=False) as session:
        yield session


@pytest.fixture
def book(tiny_app):
    """The tiny test codebook, as the tiny-codebook app loaded it."""
    return tiny_app.extensions["rightsdb.codebook"]


@pytest.fixture
def exports_dir(tiny_app):
    """Where the tiny-codebook app writes releases."""
    return Path(tiny_app.config["EXPORTS_DIR"])


@pytest.fixture
def codebook(app):
    """The app's validated codebook."""
    return app.extensions["rightsdb.codebook"]


@pytest.fixture
def session(app):
    """A database session outside any request (for domain-level tests); the test commits."""
    # No app context here: it would make every request of the test share one `g`.
    with Session(app.extensions["rightsdb.engine"], expire_on_commit=False) as session:
        yield session


@pytest.fixture
def client(app) -> FlaskClient:
    """An anonymous test client."""
    return app.test_client()


def login(client: FlaskClient, user) -> FlaskClient:
    """Sign `user` in on `client` without going through the password form (fast)."""
    with client.session_transaction() as flask_session:
        flask_session["_user_id"] = user.get_id()
        flask_session["_fresh"] = True
    return client


@pytest.fixture
def client_for(app):
    """Return a function that gives a test client signed in as a user."""

    def _client_for(user) -> FlaskClient:
        return login(app.test_client(), user)

    return _client_for


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Give every PostgreSQL skip one location, so that `-ra` folds them into one summary line.

    Without it, each skipped PostgreSQL variant is its own "SKIPPED" line (hundreds in `make test`
    without RIGHTSDB_TEST_POSTGRES_URL). They still count as skipped, so CI's check below still fails.
    """
    report = yield
    if report.skipped and isinstance(report.longrepr, tuple) and str(report.longrepr[2]).endswith(PG_SKIP):
        report.longrepr = (__file__, None, PG_SKIP)
    return report


def pytest_sessionfinish(session, exitstatus):
    """In CI (RIGHTSDB_TEST_REQUIRE_ALL=1) a skipped test is a failure: everything must run there."""
    if os.environ.get("RIGHTSDB_TEST_REQUIRE_ALL") != "1":
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter else []
    if skipped:
        reporter.write_line(f"RIGHTSDB_TEST_REQUIRE_ALL: {len(skipped)} test(s) were skipped; CI requires every test to run.", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
