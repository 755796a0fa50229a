"""Coding rounds, country-rounds and their two assignments: opening, assigning, reassigning and sending back.

Send-back rule (documented for supervisors): an assignment can be sent back to its coder only while
its country-round is not final and no decision has been reconciled by a supervisor yet. Sending back
withdraws the decisions that were agreed automatically (they compared answers that may now change)
and clears `compared_at`, so the next submission triggers a fresh comparison. Everything is audited.
Reconciled decisions are never silently discarded: once one exists, a value is changed by a
correction instead.
"""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from sqlmodel import Session, func, select

from rightsdb.accounts.audit import record_added, record_changed, record_row_event
from rightsdb.codebook import Codebook
from rightsdb.db import lock_country_round
from rightsdb.errors import Conflict, InvalidInput, NotFound
from rightsdb.models import SLOTS, Assignment, Country, CountryRound, Decision, DecisionCitation, Round, User
from rightsdb.text import clean_text


def get_round(*, session: Session, round_id: int) -> Round:
    """Return a round or raise NotFound."""
    round_ = session.get(Round, round_id)
    if round_ is None:
        raise NotFound("No such round.")
    return round_


def list_rounds(*, session: Session) -> list[Round]:
    """Return every round, newest reference date first."""
    return list(session.exec(select(Round).order_by(Round.reference_date.desc(), Round.id.desc())).all())


def get_assignment(*, session: Session, assignment_id: int) -> Assignment:
    """Return an assignment or raise NotFound."""
    assignment = session.get(Assignment, assignment_id)
    if assignment is None:
        raise NotFound("No such assignment.")
    return assignment


def assignment_slots(*, session: Session, country_round_id: int) -> list[tuple[Assignment, User]]:
    """Return a country-round's assignments with their coders, slot A first."""
    statement = select(Assignment, User).join(User, User.id == Assignment.coder_id).where(Assignment.country_round_id == country_round_id)
    return list(session.exec(statement.order_by(Assignment.slot)).all())


def open_round(*, session: Session, codebook: Codebook, name: str, reference_date: date, notes: str, actor_id: int) -> Round:
    """Open a coding round on the current codebook version."""
    name = name.strip()
    if not name:
        raise InvalidInput("Give the round a name.", [("name", "required")])
    if session.exec(select(Round).where(Round.name == name)).first():
        raise Conflict(f"A round named {name} already exists.")
    round_ = Round(name=name, reference_date=reference_date, codebook_version=codebook.version, notes=notes.strip(), created_by_id=actor_id)
    new = {"name": name, "reference_date": reference_date.isoformat(), "codebook_version": codebook.version}
    return record_added(session, round_, user_id=actor_id, action="round.open", new=new)


def active_coders(*, session: Session) -> list[User]:
    """Return the coders who can be assigned (active accounts with the coder role), by name."""
    return list(session.exec(select(User).where(User.role == "coder", User.active.is_(True)).order_by(User.name, User.id)).all())


def _assignable_coder(session: Session, coder_id: int, field_name: str) -> User:
    """Return the user if they can be given a slot (an active coder), else raise InvalidInput."""
    coder = session.get(User, coder_id)
    if coder is None or coder.role != "coder" or not coder.active:
        raise InvalidInput("Choose an active coder.", [(field_name, "not an active coder")])
    return coder


def unassigned_countries(*, session: Session, round_id: int, query: str = "") -> list[Country]:
    """Return countries not yet in the round, filtered by name or code, by name."""
    taken = select(CountryRound.country_iso3).where(CountryRound.round_id == round_id)
    statement = select(Country).where(Country.iso3.not_in(taken))
    query = query.strip()
    if len(query) > 200:  # longer than any name can be; SQLite also refuses LIKE patterns over 50,000 bytes
        return []
    if query:
        # Escape LIKE's wildcards so that "%" and "_" are searched for literally.
        like = "%" + query.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        statement = statement.where(
            sa.or_(*(func.lower(column).like(like, escape="\\") for column in (Country.name, Country.iso3, Country.region)))
        )
    return list(session.exec(statement.order_by(Country.name)).all())


def assign_countries(
    *, session: Session, round_id: int, country_iso3s: list[str], coder_a_id: int, coder_b_id: int, actor_id: int
) -> list[CountryRound]:
    """Add countries to a round, each coded independently by coder A and coder B (two different coders)."""
    round_ = get_round(session=session, round_id=round_id)
    if not country_iso3s:
        raise InvalidInput("Pick at least one country.", [("countries", "required")])
    if coder_a_id == coder_b_id:
        raise InvalidInput("Coder A and coder B must be two different people.", [("coder_b", "same as coder A")])
    coder_a = _assignable_coder(session, coder_a_id, "coder_a")
    coder_b = _assignable_coder(session, coder_b_id, "coder_b")
    existing = set(session.exec(select(CountryRound.country_iso3).where(CountryRound.round_id == round_.id)).all())
    created = []
    for iso3 in sorted(set(country_iso3s)):
        country = session.get(Country, iso3)
        if country is None:
            raise InvalidInput(f"Unknown country {iso3}.", [("countries", "unknown")])
        if iso3 in existing:
            raise Conflict(f"{country.name} is already in round {round_.name}.")
        country_round = CountryRound(round_id=round_.id, country_iso3=iso3)
        session.add(country_round)
        session.flush()
        for slot, coder in zip(SLOTS, (coder_a, coder_b)):
            assignment = Assignment(country_round_id=country_round.id, slot=slot, coder_id=coder.id)
            new = {"country": iso3, "round": round_.name, "slot": slot, "coder_id": coder.id, "coder": coder.name}
            record_added(session, assignment, user_id=actor_id, action="assignment.create", country_round_id=country_round.id, new=new)
        created.append(country_round)
    return created


def reassign(*, session: Session, assignment_id: int, coder_id: int, actor_id: int) -> Assignment:
    """Give a slot to another coder; the answers stay, still attributed to whoever wrote them."""
    assignment = get_assignment(session=session, assignment_id=assignment_id)
    coder = _assignable_coder(session, coder_id, "coder")
    if coder.id == assignment.coder_id:
        raise InvalidInput(f"{coder.name} already holds this slot.", [("coder", "unchanged")])
    other = session.exec(
        select(Assignment).where(Assignment.country_round_id == assignment.country_round_id, Assignment.id != assignment.id)
    ).first()
    if other is not None and other.coder_id == coder.id:
        raise InvalidInput(
            f"{coder.name} already codes the other slot; the two codings must stay independent.", [("coder", "holds the other slot")]
        )
    previous = session.get(User, assignment.coder_id)
    old = {"coder_id": assignment.coder_id, "coder": previous.name if previous else None}
    assignment.coder_id = coder.id
    new = {"coder_id": coder.id, "coder": coder.name}
    return record_changed(
        session, assignment, user_id=actor_id, action="assignment.reassign", country_round_id=assignment.country_round_id, old=old, new=new
    )


def send_back(*, session: Session, assignment_id: int, message: str, actor_id: int) -> Assignment:
    """Reopen a submitted assignment for its coder with a message (see the module docstring for the rule)."""
    assignment = get_assignment(session=session, assignment_id=assignment_id)
    message = clean_text(message).strip()  # control characters alone are no message
    if not message:
        raise InvalidInput("Write a message telling the coder what to look at.", [("message", "required")])
    lock_country_round(session, assignment.country_round_id)  # the coders' writers take it too
    session.refresh(assignment)
    if assignment.status != "submitted":
        raise InvalidInput("Only a submitted assignment can be sent back; this one is still being coded.")
    country_round = session.get(CountryRound, assignment.country_round_id)
    if country_round.finalized_at is not None:
        raise InvalidInput("This country is final: change a value with a correction instead.")
    decisions = list(session.exec(select(Decision).where(Decision.country_round_id == country_round.id)).all())
    if any(d.outcome == "reconciled" for d in decisions):
        raise InvalidInput(
            "A supervisor has already reconciled a disagreement here: correct the value instead of sending the assignment back."
        )
    if decisions:
        ids = [d.id for d in decisions]
        old = {d.indicator_id: d.value for d in decisions}
        record_row_event(session, country_round, user_id=actor_id, action="decision.withdraw", country_round_id=country_round.id, old=old)
        session.exec(sa.delete(DecisionCitation).where(DecisionCitation.decision_id.in_(ids)))
        for decision in decisions:
            session.delete(decision)
    if country_round.compared_at is not None:
        country_round.compared_at = None
        session.add(country_round)
    old = {"status": assignment.status, "message": assignment.message}
    assignment.status = "in_progress"
    assignment.submitted_at = None
    assignment.message = message
    new = {"status": "in_progress", "message": message}
    record_changed(
        session, assignment, user_id=actor_id, action="assignment.send_back", country_round_id=country_round.id, old=old, new=new
    )
    session.flush()
    return assignment
