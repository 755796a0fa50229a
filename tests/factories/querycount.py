"""Count the SQL statements an engine runs inside a block (to assert fixed query counts, no N+1)."""

from __future__ import annotations

from contextlib import contextmanager

import sqlalchemy as sa


class QueryLog:
    def __init__(self) -> None:
        self.statements: list[str] = []

    @property
    def count(self) -> int:
        return len(self.statements)


@contextmanager
def count_queries(engine: sa.engine.Engine):
    """Yield a QueryLog of every statement executed on `engine` within the block."""
    log = QueryLog()

    def _before(conn, cursor, statement, parameters, context, executemany):
        if not statement.lstrip().upper().startswith(("PRAGMA", "SAVEPOINT", "RELEASE")):
            log.statements.append(statement)

    sa.event.listen(engine, "before_cursor_execute", _before)
    try:
        yield log
    finally:
        sa.event.remove(engine, "before_cursor_execute", _before)
