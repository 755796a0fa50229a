"""Comparing the two independent codings, the disagreement queue, reconciliation and finalization.

What counts as agreement: both coders gave the same answer and, for a conditional answer, named the
same set of migrant groups. An agreed indicator becomes final automatically and keeps the citations of
BOTH coders (each found its own legal support; neither is discarded). A disagreement waits for a
supervisor, who picks coder A's answer, coder B's or another one, picks which citations stand, and
writes a reason. The coders' own Answer rows are never modified here: decisions live in `Decision`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NotRequired, TypedDict, Unpack

import sqlalchemy as sa
from sqlmodel import Session, select

from rightsdb.accounts.audit import record_changed, record_row_event
from rightsdb.codebook import Codebook, rules
from rightsdb.errors import Conflict, InvalidInput, NotFound
from rightsdb.models import Answer, Assignment, Citation, CountryRound, Decision, DecisionCitation, User, utcnow
from rightsdb.text import clean_text


@dataclass
class ComparisonResult:
    """What a comparison found: which indicators agreed, which wait for a supervisor."""

    country_round_id: int
    compared: bool
    agreed: list[str] = field(default_factory=list)
    disagreements: list[str] = field(default_factory=list)
    finalized: bool = False


@dataclass
class IndicatorReview:
    """Both coders' answers to one indicator, side by side, and the decision if there is one."""

    indicator_id: str
    answers: dict[str, Answer | None]
    coders: dict[str, User | None]
    decision: Decision | None
    decided_by: User | None
    decision_citation_ids: set[int]

    def citations(self) -> list[tuple[str, Citation]]:
        """Return (slot, citation) for every citation of both coders."""
        return [(slot, c) for slot, answer in self.answers.items() if answer is not None for c in answer.citations]


def get_country_round(*, session: Session, country_round_id: int) -> CountryRound:
    """Return a country-round or raise NotFound."""
    country_round = session.get(CountryRound, country_round_id)
    if country_round is None:
        raise NotFound("No such country in this round.")
    return country_round


def _assignments(session: Session, country_round_id: int) -> dict[str, Assignment]:
    """Return the country-round's assignments by slot."""
    rows = session.exec(
        select(Assignment).where(Assignment.country_round_id == country_round_id).execution_options(populate_existing=True)
    ).all()
    return {a.slot: a for a in rows}


def _answers(session: Session, assignments: dict[str, Assignment], indicator_id: str | None = None) -> dict[str, dict[str, Answer]]:
    """Return {slot: {indicator_id: answer}} with citations loaded in one query."""
    by_assignment = {a.id: slot for slot, a in assignments.items()}
    statement = (
        select(Answer)
        .where(Answer.assignment_id.in_(list(by_assignment)))
        .options(sa.orm.selectinload(Answer.citations).selectinload(Citation.source))
    )
    if indicator_id is not None:
        statement = statement.where(Answer.indicator_id == indicator_id)
    result: dict[str, dict[str, Answer]] = {slot: {} for slot in assignments}
    for answer in session.exec(statement).all():
        result[by_assignment[answer.assignment_id]][answer.indicator_id] = answer
    return result


def answers_agree(a: Answer | None, b: Answer | None) -> bool:
    """Tell whether two answers agree: same value and, if conditional, the same set of groups."""
    if a is None or b is None or a.value is None or b.value is None or a.value != b.value:
        return False
    return not rules.takes_groups(a.value) or set(a.groups) == set(b.groups)


def _decisions(session: Session, country_round_id: int) -> dict[str, Decision]:
    """Return the country-round's decisions by indicator id."""
    rows = session.exec(select(Decision).where(Decision.country_round_id == country_round_id)).all()
    return {d.indicator_id: d for d in rows}


def compare_country_round(*, session: Session, codebook: Codebook, country_round: CountryRound) -> ComparisonResult:
    """Compare both submitted codings once: agreed indicators become decisions, the rest wait in the queue."""
    assignments = _assignments(session, country_round.id)
    both = len(assignments) == 2 and all(a.status == "submitted" for a in assignments.values())
    decisions = _decisions(session, country_round.id)
    if not both or country_round.compared_at is not None:
        # Idempotent: a second call (or a call before both submissions) writes nothing.
        return ComparisonResult(
            country_round_id=country_round.id,
            compared=country_round.compared_at is not None,
            agreed=[i for i in codebook.indicator_ids if i in decisions and decisions[i].outcome == "agreed"],
            disagreements=[i for i in codebook.indicator_ids if i not in decisions] if country_round.compared_at else [],
            finalized=country_round.finalized_at is not None,
        )
    answers = _answers(session, assignments)
    result = ComparisonResult(country_round_id=country_round.id, compared=True)
    for indicator_id in codebook.indicator_ids:
        if indicator_id in decisions:
            continue
        a, b = answers["A"].get(indicator_id), answers["B"].get(indicator_id)
        if not answers_agree(a, b):
            result.disagreements.append(indicator_id)
            continue
        decision = Decision(
            country_round_id=country_round.id,
            indicator_id=indicator_id,
            value=a.value,
            groups=sorted(set(a.groups)),
            outcome="agreed",
            decided_by_id=None,
        )
        session.add(decision)
        session.flush()
        citation_ids = [c.id for c in a.citations] + [c.id for c in b.citations]
        for citation_id in citation_ids:
            session.add(DecisionCitation(decision_id=decision.id, citation_id=citation_id))
        new = {"value": decision.value, "groups": decision.groups, "citations": citation_ids}
        _record_decision(session, decision, actor_id=None, action="decision.agreed", new=new)
        result.agreed.append(indicator_id)
    country_round.compared_at = utcnow()
    new = {"agreed": len(result.agreed), "disagreements": result.disagreements}
    record_changed(session, country_round, user_id=None, action="country_round.compare", country_round_id=country_round.id, new=new)
    result.finalized = _finalize_if_done(session=session, codebook=codebook, country_round=country_round, actor_id=None)
    session.flush()
    return result


def _finalize_if_done(*, session: Session, codebook: Codebook, country_round: CountryRound, actor_id: int | None) -> bool:
    """Make the country-round final when every indicator has a decision; return whether it is final."""
    if country_round.finalized_at is not None:
        return True
    session.flush()
    decided = set(session.exec(select(Decision.indicator_id).where(Decision.country_round_id == country_round.id)).all())
    if not set(codebook.indicator_ids) <= decided:
        return False
    country_round.finalized_at = utcnow()
    new = {"finalized_at": country_round.finalized_at.isoformat()}
    record_changed(session, country_round, user_id=actor_id, action="country_round.finalize", country_round_id=country_round.id, new=new)
    return True


def disagreement_queue(*, session: Session, codebook: Codebook, country_round: CountryRound) -> list[str]:
    """Return the indicator ids still waiting for a supervisor, in codebook order (empty before comparison)."""
    if country_round.compared_at is None:
        return []
    decided = _decisions(session, country_round.id)
    return [i for i in codebook.indicator_ids if i not in decided]


def decisions_for(*, session: Session, country_round: CountryRound) -> dict[str, Decision]:
    """Return the country-round's decisions by indicator id."""
    return _decisions(session, country_round.id)


def review_indicator(*, session: Session, codebook: Codebook, country_round: CountryRound, indicator_id: str) -> IndicatorReview:
    """Load both coders' answers (with citations and sources) and the decision for one indicator."""
    if indicator_id not in codebook.indicators_by_id:
        raise NotFound("No such indicator in the codebook.")
    assignments = _assignments(session, country_round.id)
    answers = _answers(session, assignments, indicator_id)
    decision = session.exec(
        select(Decision).where(Decision.country_round_id == country_round.id, Decision.indicator_id == indicator_id)
    ).first()
    chosen: set[int] = set()
    if decision is not None:
        chosen = set(session.exec(select(DecisionCitation.citation_id).where(DecisionCitation.decision_id == decision.id)).all())
    return IndicatorReview(
        indicator_id=indicator_id,
        answers={slot: answers[slot].get(indicator_id) for slot in sorted(assignments)},
        coders={slot: session.get(User, a.coder_id) for slot, a in sorted(assignments.items())},
        decision=decision,
        decided_by=session.get(User, decision.decided_by_id) if decision and decision.decided_by_id else None,
        decision_citation_ids=chosen,
    )


class SupervisorChoice(TypedDict):
    """A supervisor's choice for one indicator, as `resolve` and `correct` take it (and the form posts it)."""

    choice: str  # "A" or "B" (that coder's answer) or "other" (`value` and `groups`)
    value: NotRequired[str | None]
    groups: NotRequired[list[str] | None]
    citation_ids: list[int]
    reason: str


def _validated_choice(
    codebook: Codebook,
    review: IndicatorReview,
    *,
    choice: str,
    citation_ids: list[int],
    reason: str,
    value: str | None = None,
    groups: list[str] | None = None,
) -> tuple[str, list[str], list[int]]:
    """Check a supervisor's choice; return (value, groups, citation ids) or raise InvalidInput with every problem."""
    groups = groups or []
    problems: list[tuple[str, str]] = []
    if not clean_text(reason).strip():  # control characters alone are no reason
        problems.append(("reason", "Write the reason for this decision."))
    if choice in ("A", "B"):
        answer = review.answers.get(choice)
        if answer is None or answer.value is None:
            raise InvalidInput(f"Coder {choice} gave no answer to choose.", [("choice", "no answer")])
        value, groups = answer.value, list(answer.groups)
    elif choice == "other":
        if value not in rules.ANSWER_CODES:
            problems.append(("value", "Choose an answer."))
        groups = [g for g in groups if g]
        unknown = [g for g in groups if g not in codebook.group_labels]
        if unknown:
            problems.append(("groups", f"Unknown group {unknown[0]}."))
        if not rules.takes_groups(value):
            groups = []
        elif not groups:
            problems.append(("groups", f"Name the groups a {value} answer applies to."))
    else:
        raise InvalidInput("Choose coder A's answer, coder B's, or another answer.", [("choice", "required")])
    allowed = {c.id for _slot, c in review.citations()}
    chosen = sorted({int(c) for c in citation_ids})
    if any(c not in allowed for c in chosen):
        problems.append(("citations", "Pick citations from the coders' answers only."))
    if rules.needs_citation(value) and not chosen:
        problems.append(("citations", "Keep at least one citation: this answer must stand on a legal source."))
    if problems:
        raise InvalidInput(problems[0][1], problems)
    return value, sorted(set(groups)), chosen


def _record_decision(session: Session, decision: Decision, *, actor_id: int | None, action: str, **change) -> Decision:
    """Audit a decision (`change`: its old and new value); the trail names a decision by the indicator it settles."""
    record_row_event(
        session,
        decision,
        user_id=actor_id,
        action=action,
        entity_id=decision.indicator_id,
        country_round_id=decision.country_round_id,
        **change,
    )
    return decision


def _decided(decision: Decision, citation_ids: list[int]) -> dict:
    """What the audit trail keeps of a supervisor's decision."""
    return {
        "value": decision.value,
        "groups": decision.groups,
        "chosen": decision.chosen,
        "reason": decision.reason,
        "citations": citation_ids,
    }


def resolve(
    *, session: Session, codebook: Codebook, country_round_id: int, indicator_id: str, actor_id: int, **posted: Unpack[SupervisorChoice]
) -> Decision:
    """Settle one disagreement; if it was the last one, the country-round becomes final.

    If another supervisor decided it first, raise Conflict naming them; nothing of this attempt is kept.
    """
    country_round = get_country_round(session=session, country_round_id=country_round_id)
    if country_round.compared_at is None:
        raise InvalidInput("The two codings have not been compared yet: both coders must submit first.")
    review = review_indicator(session=session, codebook=codebook, country_round=country_round, indicator_id=indicator_id)
    if review.decision is not None:
        raise _already_decided(session, review.decision)
    value, groups, chosen = _validated_choice(codebook, review, **posted)
    decision = Decision(
        country_round_id=country_round.id,
        indicator_id=indicator_id,
        value=value,
        groups=groups,
        outcome="reconciled",
        chosen=posted["choice"],
        reason=clean_text(posted["reason"]).strip(),
        decided_by_id=actor_id,
    )
    session.add(decision)
    try:
        session.flush()
    except sa.exc.IntegrityError:
        # Lost the race on uq_decision_indicator: undo this attempt entirely and name the winner.
        session.rollback()
        winner = session.exec(
            select(Decision).where(Decision.country_round_id == country_round_id, Decision.indicator_id == indicator_id)
        ).first()
        if winner is None:
            raise
        raise _already_decided(session, winner) from None
    for citation_id in chosen:
        session.add(DecisionCitation(decision_id=decision.id, citation_id=citation_id))
    old = {slot: (a.value, sorted(a.groups)) if a else None for slot, a in review.answers.items()}
    new = _decided(decision, chosen)
    _record_decision(session, decision, actor_id=actor_id, action="decision.reconcile", old=old, new=new)
    _finalize_if_done(session=session, codebook=codebook, country_round=country_round, actor_id=actor_id)
    session.flush()
    return decision


def _already_decided(session: Session, decision: Decision) -> Conflict:
    """Build the Conflict that names who decided first."""
    who = session.get(User, decision.decided_by_id) if decision.decided_by_id else None
    by = who.name if who else "automatic agreement"
    return Conflict(f"This indicator was already decided by {by} ({decision.value}); nothing was changed.")


def correct(
    *, session: Session, codebook: Codebook, decision_id: int, expected_version: int, actor_id: int, **posted: Unpack[SupervisorChoice]
) -> Decision:
    """Change a decided value (a correction): reason required, version checked, old and new value audited."""
    decision = session.get(Decision, decision_id)
    if decision is None:
        raise NotFound("No such decision.")
    if decision.version != expected_version:
        raise Conflict("Someone changed this value since you opened it; reload the page and check it again.")
    country_round = get_country_round(session=session, country_round_id=decision.country_round_id)
    review = review_indicator(session=session, codebook=codebook, country_round=country_round, indicator_id=decision.indicator_id)
    value, groups, chosen = _validated_choice(codebook, review, **posted)
    old = {
        "value": decision.value,
        "groups": decision.groups,
        "outcome": decision.outcome,
        "reason": decision.reason,
        "citations": sorted(review.decision_citation_ids),
        "version": decision.version,
    }
    decision.value, decision.groups, decision.chosen, decision.reason = (
        value,
        groups,
        posted["choice"],
        clean_text(posted["reason"]).strip(),
    )
    decision.outcome, decision.decided_by_id, decision.decided_at = "reconciled", actor_id, utcnow()
    decision.corrected = decision.corrected or country_round.finalized_at is not None
    session.add(decision)
    try:
        # The UPDATE carries `WHERE version = <loaded>`: a concurrent correction makes it match no row.
        session.flush()
        session.exec(sa.delete(DecisionCitation).where(DecisionCitation.decision_id == decision.id))
        for citation_id in chosen:
            session.add(DecisionCitation(decision_id=decision.id, citation_id=citation_id))
        session.flush()
    except sa.orm.exc.StaleDataError:
        session.rollback()
        raise Conflict("Someone changed this value at the same moment; reload the page and check it again.") from None
    new = {**_decided(decision, chosen), "version": decision.version}
    return _record_decision(session, decision, actor_id=actor_id, action="decision.correct", old=old, new=new)
