"""The database engine and the per-request session.

One engine per application; one session per request, opened lazily on `g` and closed at teardown.
Domain functions take the session as a keyword argument and never commit: the view or command that
calls them commits once per user action, so each action is one transaction.
"""

from __future__ import annotations

import json
from pathlib import Path

import sqlalchemy as sa
from flask import Flask, current_app, g
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel

from rightsdb import models  # noqa: F401  (registers every table on SQLModel.metadata)



#: How long a SQLite connection waits for another's write lock before "database is locked".
SQLITE_BUSY_MS = 30_000


def json_text(value) -> str:
    """Serialise a JSON column's value as UTF-8 text, not \\u escapes.

    Release snapshots hold ~100 MB of excerpts in Arabic, Russian and other scripts at world scale:
    escaped, they are a third larger and slower both to write and to read back.
    """
    return json.dumps(value, ensure_ascii=False)


def make_engine(url: str, *, echo: bool = False) -> Engine:
    """Create an engine; SQLite gets foreign keys, WAL and a busy timeout for concurrent writers."""
    if url.startswith("sqlite"):
        database = sa.engine.make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, echo=echo, connect_args={"timeout": 30}, json_serializer=json_text)

        @sa.event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")
            cursor.close()

        return engine
    return sa.create_engine(url, echo=echo, pool_pre_ping=True, json_serializer=json_text)


def create_all(engine: Engine) -> None:
    """Create every table directly (tests); real databases use the Alembic migrations."""
    SQLModel.metadata.create_all(engine)


def init_app(app: Flask) -> None:
    """Attach the engine to the app and close the request session at teardown."""
    app.extensions["rightsdb.engine"] = make_engine(app.config["DATABASE_URL"], echo=app.config["SQL_ECHO"])
    app.teardown_appcontext(close_session)


def get_engine() -> Engine:
    """Return the current application's engine."""
    return current_app.extensions["rightsdb.engine"]


def get_session() -> Session:
    """Return this request's session, opening it on first use."""
    if "db_session" not in g:
        g.db_session = Session(get_engine(), expire_on_commit=False)
    return g.db_session


def close_session(_exc: BaseException | None = None) -> None:
    """Roll back anything uncommitted and close the request's session."""
    session = g.pop("db_session", None)
    if session is not None:
        session.rollback()
        session.close()
