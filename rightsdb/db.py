"""The database engine: one per application, SQLite or PostgreSQL.

Domain functions take a session as a keyword argument and never commit: the view or command that
calls them commits once per user action, so each action is one transaction. The per-request session
of the web layer is `rightsdb.web.session`.
"""

from __future__ import annotations

import json
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

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


def begin_sqlite_write(connection: sa.Connection) -> None:
    """Take SQLite's write lock now (BEGIN IMMEDIATE), unless this connection already holds it.

    The sqlite3 module opens a transaction only at the first write, so reads before it are not
    isolated from other writers; after BEGIN IMMEDIATE every read of the transaction sees the state it
    will write over. Waits up to the connection's busy timeout for another writer to finish.
    """
    if connection.connection.driver_connection.in_transaction:  # type: ignore[union-attr]
        return  # a write of this transaction already took the lock
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def lock_country_round(session, country_round_id: int) -> None:
    """Serialise every writer of one country-round's codings until this transaction ends.

    Whoever changes an assignment's answers or status (a save, a submit, carry-forward, an import, a
    send-back) takes this lock first and reads the status after it: a save can then never land in an
    assignment that a racing submit has compared, and of two simultaneous submits the second always
    sees the first and runs the comparison. PostgreSQL: a row lock on the country-round (other
    country-rounds go on); SQLite: the database's write lock.
    """
    lock_country_rounds(session, sa.select(models.CountryRound.id).where(models.CountryRound.id == country_round_id))


def lock_country_rounds(session, ids: sa.Select) -> None:
    """Take the lock of `lock_country_round` on every country-round whose id `ids` selects (in id order)."""
    connection = session.connection()
    if connection.dialect.name == "sqlite":
        begin_sqlite_write(connection)
        return
    connection.execute(ids.order_by(models.CountryRound.id).with_for_update())


def create_all(engine: Engine) -> None:
    """Create every table directly (tests); real databases use the Alembic migrations."""
    SQLModel.metadata.create_all(engine)


def init_app(app) -> None:
    """Attach the application's engine (`app.extensions["rightsdb.engine"]`)."""
    app.extensions["rightsdb.engine"] = make_engine(app.config["DATABASE_URL"], echo=app.config["SQL_ECHO"])
