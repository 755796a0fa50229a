"""Start a round from the previous one: copy the country's last final values and their citations, flagged for review."""

from __future__ import annotations

from sqlalchemy.orm import joinedload
from sqlmodel import Session, select

from rightsdb.accounts.audit import record_added
from rightsdb.codebook import Codebook
from rightsdb.coding.citations import citation_content
from rightsdb.coding.submission import hold_assignment
from rightsdb.errors import Forbidden, NotFound
from rightsdb.models import Answer, Assignment, Citation, CountryRound, Decision, DecisionCitation, LegalSource, Round, utcnow


def find_previous_final(*, session: Session, assignment: Assignment) -> CountryRound | None:
    """Return the latest finalized country-round of the same country before this round, if any."""
    country_round = assignment.country_round
    statement = (
        select(CountryRound)
        .join(Round, CountryRound.round_id == Round.id)
        .where(
            CountryRound.country_iso3 == country_round.country_iso3,
            CountryRound.finalized_at.is_not(None),  # type: ignore[union-attr]
            Round.reference_date < country_round.round.reference_date,
        )
        .options(joinedload(CountryRound.round))
        .order_by(Round.reference_date.desc())
        .limit(1)
    )
    return session.exec(statement).first()


def _current_versions(session: Session, source_ids: set[int]) -> dict[int, int]:
    """Map each source id to its current version: the end of its `replaced_by_id` chain (itself when never replaced).

    A carried citation must point at the source as the register holds it now, never at a row a
    supervisor's correction or merge has replaced (history, offered to nobody).
    """
    successor: dict[int, int | None] = {}
    pending = set(source_ids)
    while pending:
        rows = session.exec(select(LegalSource.id, LegalSource.replaced_by_id).where(LegalSource.id.in_(sorted(pending)))).all()  # type: ignore[union-attr]
        successor.update(rows)
        pending = {nxt for _id, nxt in rows if nxt is not None and nxt not in successor}

    def last(source_id: int) -> int:
        seen = set()
        while successor.get(source_id) is not None and source_id not in seen:
            seen.add(source_id)
            source_id = successor[source_id]
        return source_id

    return {source_id: last(source_id) for source_id in source_ids}


def carry_forward(*, session: Session, codebook: Codebook, assignment: Assignment, user_id: int) -> int:
    """Copy the previous round's final values and standing citations into unanswered indicators.

    Each copied answer is flagged `carried_forward` and must be confirmed or changed before
    submission: law changes between rounds, so a value is never re-used without a coder's look.
    Returns how many answers were filled.
    """
    if hold_assignment(session, assignment) == "submitted":
        raise Forbidden("This assignment has been submitted and is read-only.")
    previous = find_previous_final(session=session, assignment=assignment)
    if previous is None:
        raise NotFound("There is no earlier final coding of this country to start from.")
    decisions = session.exec(select(Decision).where(Decision.country_round_id == previous.id)).all()
    standing = session.exec(
        select(DecisionCitation.decision_id, Citation)
        .join(Citation, DecisionCitation.citation_id == Citation.id)
        .where(DecisionCitation.decision_id.in_([d.id for d in decisions]))  # type: ignore[attr-defined]
        .order_by(Citation.position, Citation.id)
    ).all()
    # An agreed value keeps both coders' citations; when they cite the same provision with the same
    # text, the coder of the new round should see it once, not twice.
    citations_by_decision: dict[int, list[Citation]] = {}
    seen: set[tuple] = set()
    for decision_id, citation in standing:
        key = (decision_id, *citation_content(citation).values())
        if key not in seen:
            seen.add(key)
            citations_by_decision.setdefault(decision_id, []).append(citation)
    versions = _current_versions(session, {c.source_id for _d, c in standing})
    stored = {a.indicator_id: a for a in assignment.answers}
    filled = 0
    for decision in sorted(decisions, key=lambda d: d.indicator_id):
        answer = stored.get(decision.indicator_id)
        if decision.indicator_id not in codebook.indicators_by_id or (answer is not None and answer.value):
            continue
        if answer is None:
            answer = Answer(assignment_id=assignment.id, indicator_id=decision.indicator_id, codebook_version=codebook.version)
        answer.value, answer.groups, answer.carried_forward = decision.value, list(decision.groups), True
        answer.updated_at, answer.updated_by_id = utcnow(), user_id
        copied = citations_by_decision.get(decision.id, [])
        new = {
            "indicator_id": decision.indicator_id,
            "value": decision.value,
            "groups": list(decision.groups),
            "from_country_round_id": previous.id,
            "decision_id": decision.id,
            "citations": len(copied),
        }
        record_added(
            session, answer, user_id=user_id, action="answer.carried_forward", new=new, country_round_id=assignment.country_round_id
        )
        for position, citation in enumerate(copied):
            content = {**citation_content(citation), "source_id": versions[citation.source_id]}
            session.add(Citation(answer_id=answer.id, position=position, **content))
        filled += 1
    session.flush()
    return filled
