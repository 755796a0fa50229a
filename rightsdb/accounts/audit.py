"""The append-only audit trail: every change records who, when, what, and the old and new value."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from rightsdb.models import AuditEvent


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
