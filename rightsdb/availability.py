"""Whether the database can serve rightsdb: reachable, holding rightsdb's tables, at the code's schema revision.

Asked after a database error (sqlalchemy's OperationalError or ProgrammingError) by the command line
and by the web error handler alike, to tell an operator's mistake from a bug: `init-db` not run, the
server down or a wrong URL gets one sentence naming the database (without its password); anything
else is not an availability problem and keeps its traceback. Also asked before warming the release
cache, which has nothing to do on a database without tables.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url
from sqlmodel import SQLModel

from rightsdb import models  # noqa: F401  (registers every table on SQLModel.metadata)

#: The errors a missing schema or an unreachable server raise (PostgreSQL's missing table is a ProgrammingError).
DATABASE_ERRORS = (sa.exc.OperationalError, sa.exc.ProgrammingError)
MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def shown_url(url: str | sa.URL) -> str:
    """Return a database URL fit to print: the password hidden."""
    return make_url(url).render_as_string(hide_password=True)


def _reason(error: sa.exc.DBAPIError) -> str:
    """Return the driver's own first line about a failed connection ("Connection refused", "unable to open database file")."""
    text = str(error.orig if error.orig is not None else error).strip()
    return text.splitlines()[0].strip() if text else type(error).__name__


def _schema_heads() -> set[str]:
    """Return the Alembic head revisions this code's migrations lead to."""
    from alembic.script import ScriptDirectory

    return set(ScriptDirectory(str(MIGRATIONS)).get_heads())


def database_problem(engine: Engine) -> str | None:
    """Return what keeps the database of `engine` from serving rightsdb, in one sentence, or None if nothing does.

    A database made by `create_all` (no alembic_version table, as in the tests) counts as current
    when it has every table.
    """
    where = shown_url(engine.url)
    try:
        with engine.connect() as connection:
            tables = set(sa.inspect(connection).get_table_names())
            revision = None
            if "alembic_version" in tables:
                revision = connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
    except sa.exc.DBAPIError as exc:
        return f"Cannot connect to the database at {where}: {_reason(exc)}"
    expected = set(SQLModel.metadata.tables)
    if not tables & expected:
        return f"The database at {where} has no rightsdb tables: run `rightsdb init-db`."
    missing = sorted(expected - tables)
    if missing:
        return f"The database at {where} lacks the rightsdb tables {', '.join(missing)}: run `rightsdb init-db` to upgrade it."
    if revision is not None and revision not in _schema_heads():
        return (
            f"The database at {where} is at schema revision {revision}, not the one this rightsdb needs "
            f"({', '.join(sorted(_schema_heads()))}): run `rightsdb init-db` to upgrade it."
        )
    return None


def url_problem(url: str) -> str | None:
    """Return `database_problem` for the database at `url`, asked on an engine of its own (closed after)."""
    engine = sa.create_engine(url)
    try:
        return database_problem(engine)
    finally:
        engine.dispose()
