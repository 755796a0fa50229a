"""A coder's work on one assignment: answers, saving, submission rules, carry-forward and progress.

Saving never requires completeness; the submission rules are checked only when the coder submits.
Each answer row carries a version number: a save that was prepared on an outdated version and that
would change the content is refused as a whole (nothing is written) and the typed text is kept in a
ConflictCopy, so two browser tabs or two requests can never silently overwrite each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.orm import joinedload, selectinload
from sqlmodel import Session, select

from rightsdb.accounts.audit import record_event
from rightsdb.coding.citations import CitationInput, add_citation, citation_problems, list_sources, remove_citation
from rightsdb.codebook import Codebook
from rightsdb.codebook.rules import ANSWER_CODES, needs_citation, takes_groups
from rightsdb.codebook import rules
from rightsdb.errors import DomainError, Forbidden, InvalidInput, NotFound
from rightsdb.models import Answer, Assignment, Citation, ConflictCopy, CountryRound, Decision, DecisionCitation, Round, utcnow

@dataclass(frozen=True)
class AnswerInput:
    """What the coder posted for one indicator, with the answer version the form was built on (0: none)."""

    indicator_id: str
    version: int
    value: str | None
    groups: tuple[str, ...] = ()
    notes: str = ""
    confirm: bool = False
    remove_citation_ids: frozenset[int] = frozenset()
    new_citation: CitationInput | None = None


@dataclass
class SaveOutcome:
    """The result of a save: what changed, or which indicators conflicted (then nothing was written)."""

    changed: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    conflict_copy_id: int | None = None
    submitted: bool = False
    submission_problems: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class Progress:
    """How far an assignment is: answered / total, citations missing, and what blocks submission."""

    total: int
    answered: int
    missing_citation: int
    unconfirmed: int
    problems: list[tuple[str, str]]
    by_category: dict[str, tuple[int, int]]


def load_assignment(*, session: Session, assignment_id: int, coder_id: int) -> Assignment:
    """Return the coder's own assignment with answers, citations and sources loaded; else NotFound.

    This is the one object-level access check of the coder's pages: another coder's assignment is
    indistinguishable from one that does not exist, which keeps double coding blind.
    """
    statement = (
        select(Assignment)
        .where(Assignment.id == assignment_id, Assignment.coder_id == coder_id)
        .options(
            joinedload(Assignment.country_round).joinedload(CountryRound.round),
            joinedload(Assignment.country_round).joinedload(CountryRound.country),
            selectinload(Assignment.answers).selectinload(Answer.citations).selectinload(Citation.source),
        )
    )
    assignment = session.exec(statement).unique().first()
    if assignment is None:
        raise NotFound("There is no such assignment among yours.")
    return assignment


def list_assignments(*, session: Session, coder_id: int) -> list[Assignment]:
    """Return the coder's assignments, newest round first, with answers and citations loaded."""
    statement = (
        select(Assignment)
        .join(CountryRound, Assignment.country_round_id == CountryRound.id)
        .join(Round, CountryRound.round_id == Round.id)
        .where(Assignment.coder_id == coder_id)
        .options(
            joinedload(Assignment.country_round).joinedload(CountryRound.round),
            joinedload(Assignment.country_round).joinedload(CountryRound.country),
            selectinload(Assignment.answers).selectinload(Answer.citations),
        )
        .order_by(Round.reference_date.desc(), CountryRound.country_iso3)
    )
    return list(session.exec(statement).unique())


def label(codebook: Codebook, indicator_id: str) -> str:
    """Name an indicator the way messages do: id and short label."""
    indicator = codebook.indicators_by_id.get(indicator_id)
    return f"{indicator_id} ({indicator.short_label})" if indicator else indicator_id


def answer_problems(*, codebook: Codebook, indicator_id: str, answer: Answer | None) -> list[str]:
    """Return what keeps one indicator's answer from being submitted.

    The rules of the answer scale are `codebook.rules.answer_problems`; on top of them, a value
    carried from an earlier round must be re-examined before it is submitted.
    """
    if answer is None or not answer.value:
        return ["not answered"]
    # Groups left ticked under another answer are not shown or released with it: not a problem here.
    groups = answer.groups if takes_groups(answer.value) else ()
    problems = [message for _what, message in rules.answer_problems(
        value=answer.value, groups=groups, cited=bool(answer.citations), has_notes=bool(answer.notes.strip()))]
    if answer.carried_forward:
        problems.append("carried forward from an earlier round: confirm or change it")
    return problems


def submission_problems(*, codebook: Codebook, assignment: Assignment) -> list[tuple[str, str]]:
    """Return (indicator id, message naming the indicator) for every rule the assignment breaks."""
    answers = {a.indicator_id: a for a in assignment.answers}
    problems = []
    for indicator in codebook.indicators:
        for message in answer_problems(codebook=codebook, indicator_id=indicator.id, answer=answers.get(indicator.id)):
            problems.append((indicator.id, f"{label(codebook, indicator.id)}: {message}"))
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


def _snapshot(answer: Answer | None) -> dict:
    if answer is None:
        return {"value": None, "groups": [], "notes": ""}
    return {"value": answer.value, "groups": list(answer.groups), "notes": answer.notes}


def _normal_notes(text: str) -> str:
    return text.replace("\r\n", "\n")


def _would_change(answer: Answer | None, posted: AnswerInput) -> bool:
    """Tell whether applying `posted` would change the stored answer or its citations."""
    stored = _snapshot(answer)
    return (
        (posted.value or None) != stored["value"]
        or sorted(posted.groups) != sorted(stored["groups"])
        or _normal_notes(posted.notes) != _normal_notes(stored["notes"])
        or posted.new_citation is not None
        or bool(posted.remove_citation_ids)
        or (posted.confirm and answer is not None and answer.carried_forward)
    )


def keep_conflict_copy(*, session: Session, assignment: Assignment, user_id: int, payload: dict) -> ConflictCopy:
    """Store a refused save's whole posted payload so the typed text is never lost."""
    copy = ConflictCopy(assignment_id=assignment.id, user_id=user_id, payload=payload)
    session.add(copy)
    session.flush()
    record_event(
        session=session, user_id=user_id, action="answers.conflict", entity="assignment", entity_id=assignment.id,
        new={"conflict_copy_id": copy.id}, country_round_id=assignment.country_round_id,
    )
    return copy


def _check_inputs(*, codebook: Codebook, inputs: list[AnswerInput], source_ids: set[int]) -> None:
    """Refuse unknown indicators, answers or groups, and incomplete citation rows, before writing anything."""
    groups = set(codebook.group_labels)
    problems = []
    for posted in inputs:
        name = label(codebook, posted.indicator_id)
        if posted.indicator_id not in codebook.indicators_by_id:
            problems.append((posted.indicator_id, f"{posted.indicator_id}: not an indicator of codebook {codebook.version}"))
            continue
        if posted.value and posted.value not in ANSWER_CODES:
            problems.append((posted.indicator_id, f"{name}: unknown answer {posted.value!r}"))
        if set(posted.groups) - groups:
            problems.append((posted.indicator_id, f"{name}: unknown migrant group"))
        if posted.new_citation is not None:
            for _field, message in citation_problems(codebook=codebook, citation=posted.new_citation, source_ids=source_ids):
                problems.append((posted.indicator_id, f"{name}: {message}"))
    if problems:
        raise InvalidInput("Nothing was saved: correct the fields marked below.", problems)


def save_answers(
    *, session: Session, codebook: Codebook, assignment: Assignment, user_id: int, inputs: list[AnswerInput],
    payload: dict, submit: bool = False,
) -> SaveOutcome:
    """Save the posted answers (all or nothing); on a version conflict keep a ConflictCopy instead.

    An indicator whose posted version is outdated is a conflict only if the post would change it;
    otherwise (the coder did not touch it) it is left alone. With `submit=True` the assignment is then
    submitted if the rules allow; the save stands either way.
    """
    if assignment.status == "submitted":
        raise Forbidden("This assignment has been submitted and is read-only; a supervisor can reopen it.")
    country_round = assignment.country_round
    source_ids = {s.id for s in list_sources(session=session, country_iso3=country_round.country_iso3)}
    _check_inputs(codebook=codebook, inputs=inputs, source_ids=source_ids)
    stored = {a.indicator_id: a for a in assignment.answers}
    outcome = SaveOutcome()
    for posted in inputs:
        answer = stored.get(posted.indicator_id)
        if posted.version != (answer.version if answer else 0) and _would_change(answer, posted):
            outcome.conflicts.append(posted.indicator_id)
    if outcome.conflicts:
        outcome.conflict_copy_id = keep_conflict_copy(session=session, assignment=assignment, user_id=user_id, payload=payload).id
        return outcome
    for posted in inputs:
        answer = stored.get(posted.indicator_id)
        if posted.version != (answer.version if answer else 0) or not _would_change(answer, posted):
            continue
        _apply(session=session, codebook=codebook, assignment=assignment, answer=answer, posted=posted,
               source_ids=source_ids, user_id=user_id)
        outcome.changed.append(posted.indicator_id)
    session.flush()
    if submit:
        try:
            submit_assignment(session=session, codebook=codebook, assignment=assignment, user_id=user_id)
            outcome.submitted = True
        except InvalidInput as exc:
            outcome.submission_problems = exc.problems
    return outcome


def _apply(
    *, session: Session, codebook: Codebook, assignment: Assignment, answer: Answer | None, posted: AnswerInput,
    source_ids: set[int], user_id: int,
) -> None:
    """Write one indicator's posted answer, citations removed and citation added; audit each change."""
    country_round_id = assignment.country_round_id
    old = _snapshot(answer)
    new = {"value": posted.value or None, "groups": sorted(posted.groups), "notes": _normal_notes(posted.notes)}
    if answer is None:
        answer = Answer(assignment_id=assignment.id, indicator_id=posted.indicator_id, codebook_version=codebook.version)
    content_changed = new["value"] != old["value"] or new["groups"] != sorted(old["groups"]) or new["notes"] != _normal_notes(old["notes"])
    if content_changed or (posted.confirm and answer.carried_forward):
        was_carried = answer.carried_forward
        if posted.confirm or new["value"] != old["value"] or new["groups"] != sorted(old["groups"]):
            answer.carried_forward = False  # confirmed or changed: the coder has re-examined it
        answer.value, answer.groups, answer.notes = new["value"], new["groups"], new["notes"]
        answer.codebook_version = codebook.version
        answer.updated_at, answer.updated_by_id = utcnow(), user_id
        session.add(answer)
        session.flush()
        record_event(
            session=session, user_id=user_id, action="answer.changed", entity="answer", entity_id=answer.id,
            old={**old, "carried_forward": was_carried, "indicator_id": posted.indicator_id},
            new={**new, "carried_forward": answer.carried_forward, "indicator_id": posted.indicator_id},
            country_round_id=country_round_id,
        )
    elif answer.id is None:
        session.add(answer)
        session.flush()
    if posted.remove_citation_ids:
        for citation in list(answer.citations):
            if citation.id in posted.remove_citation_ids:
                remove_citation(session=session, answer=answer, citation=citation, user_id=user_id, country_round_id=country_round_id)
    if posted.new_citation is not None:
        add_citation(
            session=session, codebook=codebook, answer=answer, citation=posted.new_citation,
            country_iso3=assignment.country_round.country_iso3, source_ids=source_ids, user_id=user_id,
            country_round_id=country_round_id,
        )


def submit_assignment(*, session: Session, codebook: Codebook, assignment: Assignment, user_id: int) -> None:
    """Mark the assignment submitted if every rule holds; compare the two codings once both are in."""
    if assignment.status == "submitted":
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
    session.add(assignment)
    record_event(
        session=session, user_id=user_id, action="assignment.submitted", entity="assignment", entity_id=assignment.id,
        old={"status": "in_progress"}, new={"status": "submitted"}, country_round_id=assignment.country_round_id,
    )
    session.flush()
    statuses = session.exec(select(Assignment.status).where(Assignment.country_round_id == assignment.country_round_id)).all()
    if len(statuses) == 2 and all(s == "submitted" for s in statuses):
        from rightsdb.review.reconciliation import compare_country_round  # written alongside; imported late to keep modules apart

        compare_country_round(session=session, codebook=codebook, country_round=assignment.country_round)


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


def carry_forward(*, session: Session, codebook: Codebook, assignment: Assignment, user_id: int) -> int:
    """Copy the previous round's final values and standing citations into unanswered indicators.

    Each copied answer is flagged `carried_forward` and must be confirmed or changed before
    submission: law changes between rounds, so a value is never re-used without a coder's look.
    Returns how many answers were filled.
    """
    if assignment.status == "submitted":
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
        key = (decision_id, citation.source_id, citation.pinpoint, citation.url, citation.excerpt, citation.translation)
        if key not in seen:
            seen.add(key)
            citations_by_decision.setdefault(decision_id, []).append(citation)
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
        session.add(answer)
        session.flush()
        copied = citations_by_decision.get(decision.id, [])
        for position, citation in enumerate(copied):
            session.add(Citation(
                answer_id=answer.id, source_id=citation.source_id, pinpoint=citation.pinpoint, url=citation.url,
                excerpt=citation.excerpt, translation=citation.translation, position=position,
            ))
        record_event(
            session=session, user_id=user_id, action="answer.carried_forward", entity="answer", entity_id=answer.id,
            old=None,
            new={"indicator_id": decision.indicator_id, "value": decision.value, "groups": list(decision.groups),
                 "from_country_round_id": previous.id, "decision_id": decision.id, "citations": len(copied)},
            country_round_id=assignment.country_round_id,
        )
        filled += 1
    session.flush()
    return filled
