"""Codebook flags (an indicator's wording or guidance is unclear, for the next revision) and a country-round's audit trail."""

from __future__ import annotations

from sqlmodel import Session, select

from rightsdb.accounts.audit import record_added, record_changed
from rightsdb.codebook import Codebook
from rightsdb.errors import InvalidInput, NotFound
from rightsdb.models import AuditEvent, CodebookFlag, User
from rightsdb.text import clean_text


def flag_indicator(
    *, session: Session, codebook: Codebook, indicator_id: str, note: str, actor_id: int, country_round_id: int | None = None
) -> CodebookFlag:
    """Record that an indicator's wording or guidance is unclear, for the next codebook revision."""
    if indicator_id not in codebook.indicators_by_id:
        raise NotFound("No such indicator in the codebook.")
    note = clean_text(note).strip()  # control characters alone are no note
    if not note:
        raise InvalidInput("Say what is unclear about this indicator.", [("note", "required")])
    flag = CodebookFlag(
        indicator_id=indicator_id, codebook_version=codebook.version, country_round_id=country_round_id, note=note, flagged_by_id=actor_id
    )
    new = {"indicator": indicator_id, "note": note, "codebook_version": codebook.version}
    return record_added(session, flag, user_id=actor_id, action="codebook.flag", country_round_id=country_round_id, new=new)


def open_flags(*, session: Session) -> list[tuple[CodebookFlag, User]]:
    """Return unresolved codebook flags with who raised them, oldest first."""
    statement = select(CodebookFlag, User).join(User, User.id == CodebookFlag.flagged_by_id).where(CodebookFlag.resolved.is_(False))
    return list(session.exec(statement.order_by(CodebookFlag.flagged_at, CodebookFlag.id)).all())


def close_flag(*, session: Session, flag_id: int, actor_id: int) -> CodebookFlag:
    """Mark a codebook flag as dealt with (kept for the record)."""
    flag = session.get(CodebookFlag, flag_id)
    if flag is None:
        raise NotFound("No such flag.")
    if not flag.resolved:
        flag.resolved = True
        record_changed(
            session, flag, user_id=actor_id, action="codebook.flag_close", country_round_id=flag.country_round_id, old=False, new=True
        )
    return flag


def audit_trail(*, session: Session, country_round_id: int) -> list[tuple[AuditEvent, User | None]]:
    """Return a country-round's audit events with their authors, oldest first."""
    statement = (
        select(AuditEvent, User)
        .outerjoin(User, User.id == AuditEvent.user_id)
        .where(AuditEvent.country_round_id == country_round_id)
        .order_by(AuditEvent.at, AuditEvent.id)
    )
    return list(session.exec(statement).all())
