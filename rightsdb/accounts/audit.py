"""The append-only audit trail: every change records who, when, what, and the old and new value."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TypeVar

from sqlmodel import Session

from rightsdb.models import AuditEvent

Row = TypeVar("Row")


def record_event(
    *,
    session: Session,
    user_id: int | None,
    action: str,
    entity: str,
    entity_id: object = "",
    old: Any = None,
    new: Any = None,
    country_round_id: int | None = None,
) -> AuditEvent:
    """Add one audit event to the session (committed with the action it describes)."""
    event = AuditEvent(
        user_id=user_id, action=action, entity=entity, entity_id=str(entity_id), old=old, new=new, country_round_id=country_round_id
    )
    session.add(event)
    return event


def _entity_name(row: object) -> str:
    """Name a row's kind as the audit trail does: its model's name in snake case (`CountryRound` is `country_round`)."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", type(row).__name__).lower()


def record_row_event(
    session: Session,
    row: object,
    *,
    user_id: int | None,
    action: str,
    entity: str | None = None,
    entity_id: object = None,
    old: Any = None,
    new: Any = None,
    country_round_id: int | None = None,
) -> AuditEvent:
    """Record an event about a row, named by its kind and id unless `entity` and `entity_id` say otherwise."""
    return record_event(
        session=session,
        user_id=user_id,
        action=action,
        entity=_entity_name(row) if entity is None else entity,
        entity_id=row.id if entity_id is None else entity_id,
        old=old,
        new=new,
        country_round_id=country_round_id,
    )


def record_changed(session: Session, row: Row, **event: Any) -> Row:
    """Add a changed row to the session and record the change (`record_row_event`'s arguments)."""
    session.add(row)
    record_row_event(session, row, **event)
    return row


def record_added(session: Session, row: Row, **event: Any) -> Row:
    """Add a new (or changed) row, flush it so that it has its id, and record the event."""
    session.add(row)
    session.flush()
    record_row_event(session, row, **event)
    return row


def record_added_all(session: Session, rows: list[Row], *, new: Callable[[Row], Any], olds: list | None = None, **event: Any) -> list[Row]:
    """Add rows, flush them once (for their ids) and record one event per row: `new(row)` its new value, `olds` the old ones."""
    session.add_all(rows)
    session.flush()
    for row, old in zip(rows, olds or [None] * len(rows)):
        record_row_event(session, row, old=old, new=new(row), **event)
    return rows
