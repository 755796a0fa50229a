"""Whether an assignment can be submitted, how far it is, and its submission (which compares both codings once both are in).

Saving never requires completeness; these rules are checked only when the coder submits. The submit
that completes a country-round also ends its blind phase for legal sources (`unblind_sources`).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import selectinload
from sqlmodel import Session, select

from rightsdb.accounts.audit import record_changed, record_event
from rightsdb.codebook import Codebook, rules
from rightsdb.codebook.rules import needs_citation, takes_groups
from rightsdb.db import lock_country_round
from rightsdb.errors import DomainError, InvalidInput
from rightsdb.models import Answer, Assignment, LegalSource, utcnow
from rightsdb.review.reconciliation import compare_country_round


@dataclass
class Progress:
    """How far an assignment is: answered / total, citations missing, and what blocks submission."""

    total: int
    answered: int
    missing_citation: int
    unconfirmed: int
    problems: list[tuple[str, str]]
    by_category: dict[str, tuple[int, int]]


def answer_problems(*, codebook: Codebook, indicator_id: str, answer: Answer | None) -> list[str]:
    """Return what keeps one indicator's answer from being submitted.

    The rules of the answer scale are `codebook.rules.answer_problems`; on top of them, a value
    carried from an earlier round must be re-examined before it is submitted.
    """
    if answer is None or not answer.value:
        return ["not answered"]
    # Groups left ticked under another answer are not shown or released with it: not a problem here.
    groups = answer.groups if takes_groups(answer.value) else ()
    problems = [
        message
        for _what, message in rules.answer_problems(
            value=answer.value, groups=groups, cited=bool(answer.citations), has_notes=bool(answer.notes.strip())
        )
    ]
    if answer.carried_forward:
        problems.append("carried forward from an earlier round: confirm or change it")
    return problems


def submission_problems(*, codebook: Codebook, assignment: Assignment) -> list[tuple[str, str]]:
    """Return (indicator id, message naming the indicator) for every rule the assignment breaks."""
    answers = {a.indicator_id: a for a in assignment.answers}
    problems = []
    for indicator in codebook.indicators:
        for message in answer_problems(codebook=codebook, indicator_id=indicator.id, answer=answers.get(indicator.id)):
            problems.append((indicator.id, f"{codebook.label(indicator.id)}: {message}"))
    return problems


def measure_progress(*, codebook: Codebook, assignment: Assignment) -> Progress:
    """Summarise an assignment's progress from its loaded answers (no queries)."""
    answers = {a.indicator_id: a for a in assignment.answers}
    by_category = {}
    for category_id, indicators in codebook.indicators_by_category.items():
        done = sum(1 for i in indicators if answers.get(i.id) is not None and answers[i.id].value)
        by_category[category_id] = (done, len(indicators))
    current = [answers[i] for i in codebook.indicator_ids if i in answers and answers[i].value]
    return Progress(
        total=len(codebook.indicators),
        answered=len(current),
        missing_citation=sum(1 for a in current if needs_citation(a.value) and not a.citations),
        unconfirmed=sum(1 for a in current if a.carried_forward),
        problems=submission_problems(codebook=codebook, assignment=assignment),
        by_category=by_category,
    )


def submit_assignment(*, session: Session, codebook: Codebook, assignment: Assignment, user_id: int) -> None:
    """Mark the assignment submitted if every rule holds; once every coding is in, unblind the sources and compare.

    Runs under the country-round's lock (see `hold_assignment`): the answers checked are the ones
    submitted, and whichever of two simultaneous submits commits last sees both, moves both coders'
    private sources to the register and compares. A country-round with one assignment unblinds at
    its submission.
    """
    if hold_assignment(session, assignment) == "submitted":
        raise DomainError("This assignment is already submitted.")
    statement = (
        select(Answer)
        .where(Answer.assignment_id == assignment.id)
        .options(selectinload(Answer.citations))
        .execution_options(populate_existing=True)
    )
    session.exec(statement).all()  # refresh answers and citations changed earlier in this transaction
    session.expire(assignment, ["answers"])
    problems = submission_problems(codebook=codebook, assignment=assignment)
    if problems:
        raise InvalidInput(f"Not submitted: {len(problems)} problem(s) remain.", problems)
    assignment.status = "submitted"
    assignment.submitted_at = utcnow()
    record_changed(
        session,
        assignment,
        user_id=user_id,
        action="assignment.submitted",
        old={"status": "in_progress"},
        new={"status": "submitted"},
        country_round_id=assignment.country_round_id,
    )
    session.flush()
    statuses = session.exec(select(Assignment.status).where(Assignment.country_round_id == assignment.country_round_id)).all()
    if all(s == "submitted" for s in statuses):
        unblind_sources(session=session, country_round_id=assignment.country_round_id, user_id=user_id)
    if len(statuses) == 2 and all(s == "submitted" for s in statuses):
        country_round = assignment.country_round
        session.refresh(country_round)  # read under the lock: compared_at as committed by the other submit
        compare_country_round(session=session, codebook=codebook, country_round=country_round)


def unblind_sources(*, session: Session, country_round_id: int, user_id: int | None) -> list[LegalSource]:
    """Move every source private to an assignment of the country-round into the country's register; return them.

    Called when every coding of the country-round is submitted, under its lock. One audit event at
    country-round level lists the sources with the slot that entered them. Reopening an assignment
    later leaves them in the register: what both coders have seen cannot be hidden again.
    """
    slots = dict(session.exec(select(Assignment.id, Assignment.slot).where(Assignment.country_round_id == country_round_id)).all())
    rows = list(
        session.exec(
            select(LegalSource)
            .where(LegalSource.assignment_id.in_(list(slots)))  # type: ignore[union-attr]
            .order_by(LegalSource.id)
            .execution_options(populate_existing=True)
        )
    )
    if not rows:
        return rows
    entered = [{"source_id": r.id, "slot": slots[r.assignment_id], "title": r.title} for r in rows]
    for row in rows:
        row.assignment_id = None
        session.add(row)
    record_event(
        session=session,
        user_id=user_id,
        action="sources.registered",
        entity="country_round",
        entity_id=country_round_id,
        old={"private": entered},
        new={"register": [r.id for r in rows]},
        country_round_id=country_round_id,
    )
    session.flush()
    return rows


def hold_assignment(session: Session, assignment: Assignment) -> str:
    """Lock the assignment's country-round for this transaction and return the status as committed.

    Every writer of an assignment's answers or status calls this before writing and refuses to write
    into a submitted assignment on the status it returns, never on one read before the lock.
    """
    lock_country_round(session, assignment.country_round_id)
    session.refresh(assignment, ["status", "submitted_at"])
    return assignment.status
