"""A coder's work on one assignment: loading it, and saving answers with their citations.

Each answer row carries a version number: a save that was prepared on an outdated version and that
would change the content is refused as a whole (nothing is written) and the typed text is kept in a
ConflictCopy, so two browser tabs or two requests can never silently overwrite each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.orm import joinedload, selectinload
from sqlmodel import Session, select

from rightsdb.accounts.audit import record_added, record_row_event
from rightsdb.codebook import Codebook
from rightsdb.codebook.rules import ANSWER_CODES
from rightsdb.coding.citations import CitationInput, add_citation, citation_problems, list_sources, remove_citation
from rightsdb.coding.submission import hold_assignment, submit_assignment
from rightsdb.errors import Forbidden, InvalidInput, NotFound
from rightsdb.models import Answer, Assignment, Citation, ConflictCopy, CountryRound, Round, utcnow


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
    new = {"conflict_copy_id": copy.id}
    record_row_event(session, assignment, user_id=user_id, action="answers.conflict", new=new, country_round_id=assignment.country_round_id)
    return copy


def keep_lost_race(*, session: Session, assignment: Assignment, user_id: int, payload: dict, inputs: list[AnswerInput]) -> list[str]:
    """Keep the typed text of a save that lost a race at write time; return the indicators it conflicted on.

    Another request saved (or created the same answer) between this save's version check and its
    write, and the caller rolled back. `assignment` is freshly loaded: the indicators whose version
    moved under the save are the conflicts (all posted ones when none visibly moved).
    """
    keep_conflict_copy(session=session, assignment=assignment, user_id=user_id, payload=payload)
    stored = {a.indicator_id: a.version for a in assignment.answers}
    moved = [i.indicator_id for i in inputs if i.version != stored.get(i.indicator_id, 0)]
    return moved or [i.indicator_id for i in inputs]


def _check_inputs(*, codebook: Codebook, inputs: list[AnswerInput], source_ids: set[int]) -> None:
    """Refuse unknown indicators, answers or groups, and incomplete citation rows, before writing anything."""
    groups = set(codebook.group_labels)
    problems = []
    for posted in inputs:
        name = codebook.label(posted.indicator_id)
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
    *,
    session: Session,
    codebook: Codebook,
    assignment: Assignment,
    user_id: int,
    inputs: list[AnswerInput],
    payload: dict,
    submit: bool = False,
) -> SaveOutcome:
    """Save the posted answers (all or nothing); on a version conflict keep a ConflictCopy instead.

    An indicator whose posted version is outdated is a conflict only if the post would change it;
    otherwise (the coder did not touch it) it is left alone. With `submit=True` the assignment is then
    submitted if the rules allow; the save stands either way.
    """
    if hold_assignment(session, assignment) == "submitted":
        raise Forbidden("This assignment has been submitted and is read-only; a supervisor can reopen it.")
    # Read under the lock just taken: the sources this assignment may cite (blind: never the other coder's).
    source_ids = {s.id for s in list_sources(session=session, assignment=assignment)}
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
        _apply(
            session=session, codebook=codebook, assignment=assignment, answer=answer, posted=posted, source_ids=source_ids, user_id=user_id
        )
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
    *,
    session: Session,
    codebook: Codebook,
    assignment: Assignment,
    answer: Answer | None,
    posted: AnswerInput,
    source_ids: set[int],
    user_id: int,
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
        old = {**old, "carried_forward": was_carried, "indicator_id": posted.indicator_id}
        new = {**new, "carried_forward": answer.carried_forward, "indicator_id": posted.indicator_id}
        record_added(session, answer, user_id=user_id, action="answer.changed", old=old, new=new, country_round_id=country_round_id)
    elif answer.id is None:
        session.add(answer)
        session.flush()
    if posted.remove_citation_ids:
        for citation in list(answer.citations):
            if citation.id in posted.remove_citation_ids:
                remove_citation(session=session, answer=answer, citation=citation, user_id=user_id, country_round_id=country_round_id)
    if posted.new_citation is not None:
        add_citation(
            session=session,
            codebook=codebook,
            assignment=assignment,
            answer=answer,
            citation=posted.new_citation,
            source_ids=source_ids,
            user_id=user_id,
        )
