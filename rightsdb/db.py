"""The database engine and the per-request session.

One engine per application; one session per request, opened lazily on `g` and closed at teardown.
Domain functions take the session as a keyword argument and never commit: the view or command that
calls them commits once per user action, so each action is one transaction.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import sqlalchemy as sa
from flask import Flask, current_app, g
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel

from . import models  # noqa: F401  (registers every table on SQLModel.metadata)


BULK_BATCH = 5000


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
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    return sa.create_engine(url, echo=echo, pool_pre_ping=True, json_serializer=json_text)


def bulk_insert(connection: sa.Connection, table: sa.Table, columns: list[str], rows: Iterable[tuple]) -> int:
    """Insert many rows of plain values into `table` inside the connection's transaction; return the count.

    Values must already be what the column stores: JSON columns as JSON text (see `json_text`), dates
    as `datetime.date`. PostgreSQL gets COPY, SQLite one executemany on the driver: at world scale
    (52,000 snapshot rows holding ~100 MB of citations) SQLAlchemy's per-row parameter processing
    and multi-row INSERT statements took 3 s on SQLite and 9 s on PostgreSQL.
    """
    quote = connection.dialect.identifier_preparer.quote
    names = ", ".join(quote(c) for c in columns)
    count = 0
    if connection.dialect.name == "postgresql":
        driver = connection.connection.driver_connection
        with driver.cursor() as cursor, cursor.copy(f"COPY {quote(table.name)} ({names}) FROM STDIN") as copy:  # type: ignore[union-attr]
            for row in rows:
                copy.write_row(row)
                count += 1
        return count
    if connection.dialect.name != "sqlite":
        raise ValueError(f"bulk_insert supports SQLite and PostgreSQL, not {connection.dialect.name}")
    statement = f"INSERT INTO {quote(table.name)} ({names}) VALUES ({', '.join('?' for _ in columns)})"
    dates = {n for n, c in enumerate(columns) if isinstance(table.c[c].type, sa.Date)}
    batch: list[tuple] = []
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        for row in rows:
            if dates:  # stored as ISO text, as SQLAlchemy's SQLite Date type does
                row = tuple(v.isoformat() if n in dates and v is not None else v for n, v in enumerate(row))
            batch.append(row)
            if len(batch) == BULK_BATCH:
                cursor.executemany(statement, batch)
                count, batch = count + len(batch), []
        if batch:
            cursor.executemany(statement, batch)
            count += len(batch)
    finally:
        cursor.close()
    return count


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
