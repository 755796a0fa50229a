"""Corrections of the evidence behind final values: a source corrected, a citation corrected, duplicates merged.

Methodology: a final value is only as good as the legal text it rests on, so what a decision rested on
when it was made is kept. A source or citation behind a final value (`rightsdb.coding.evidence`) is
never changed in place: a correction writes a new version (the old row stays, its `replaced_by_id`
the only column ever written on it), moves the decision's links to the new version and records, per
decision whose evidence changed, an EvidenceCorrection row with the supervisor's reason, and per
country-round an audit event with the old and new text. Citations not behind any decision (in an
assignment still being coded) just follow the source: they are repointed in place. A source behind no
decision may be edited in place (audited, no reason needed). Merging a duplicate (both coders entered
the same constitution) is a correction of every citation of the duplicate onto the source it joins.

Every function checks what it is asked under the country-rounds' locks (and the sources' row locks on
PostgreSQL), so of two supervisors correcting one source at once the second finds it replaced and is
refused; a refusal changes nothing.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace

import sqlalchemy as sa
from sqlmodel import Session, select

from rightsdb.accounts.audit import record_event
from rightsdb.codebook import Codebook
from rightsdb.codebook.rules import length_problem, url_problem
from rightsdb.coding.citations import SourceInput, source_problems
from rightsdb.coding.evidence import frozen_source_ids
from rightsdb.db import begin_sqlite_write, lock_country_rounds
from rightsdb.errors import Conflict, InvalidInput, NotFound
from rightsdb.models import Answer, Assignment, Citation, CountryRound, Decision, DecisionCitation, EvidenceCorrection, LegalSource, utcnow
from rightsdb.review.source_register import SOURCE_FIELDS, source_fields
from rightsdb.text import clean_text

REASON_REQUIRED = "Write the reason for this correction: it goes into the audit trail and the next release's changelog."
NOTHING_CHANGED = "The correction changes nothing: change at least one field."
CITATION_FIELDS = ("source_id", "pinpoint", "url", "excerpt", "translation")


@dataclass(frozen=True)
class CitationChange:
    """A citation's corrected fields (`CITATION_FIELDS`)."""

    source_id: int
    pinpoint: str = ""
    url: str = ""
    excerpt: str = ""
    translation: str = ""


def _reason(reason: str, *, required: bool) -> str:
    """Return the reason as stored; raise InvalidInput naming the field when one is required and none is given."""
    cleaned = clean_text(reason or "").strip()
    if required and not cleaned:
        raise InvalidInput(REASON_REQUIRED, [("reason", REASON_REQUIRED)])
    return cleaned


def _checked_source(codebook: Codebook, source: SourceInput) -> SourceInput:
    """Return the source's fields as stored, or raise InvalidInput naming each bad field."""
    problems = source_problems(codebook=codebook, source=source)
    if problems:
        raise InvalidInput("The legal source is incomplete: " + problems[0][1], problems)
    return replace(source, title=source.title.strip(), url=source.url.strip(), language=source.language.strip())


def _lock(session: Session, source_ids: list[int], *, country_round_id: int | None = None) -> None:
    """Take the locks of a change of these sources: the sources' rows, then the country-rounds citing them (both in id order).

    A citation's correction names its one country-round instead (`country_round_id`): nothing else changes.

    FOR NO KEY UPDATE serialises two supervisors on one source without blocking coders who insert citations
    of it (their foreign key takes only a key-share lock). SQLite: the database's write lock.
    """
    connection = session.connection()
    if connection.dialect.name == "sqlite":
        begin_sqlite_write(connection)
        return
    connection.execute(
        sa.select(LegalSource.id).where(LegalSource.id.in_(source_ids)).order_by(LegalSource.id).with_for_update(key_share=True)  # type: ignore[union-attr]
    )
    if country_round_id is not None:
        lock_country_rounds(session, sa.select(CountryRound.id).where(CountryRound.id == country_round_id))
        return
    cited_rounds = (
        sa.select(Assignment.country_round_id)
        .join(Answer, Answer.assignment_id == Assignment.id)
        .join(Citation, Citation.answer_id == Answer.id)
        .where(Citation.source_id.in_(source_ids))  # type: ignore[union-attr]
    )
    lock_country_rounds(session, sa.select(CountryRound.id).where(CountryRound.id.in_(cited_rounds)))  # type: ignore[union-attr]


def _current_register_source(session: Session, country_iso3: str, source_id: int, *, field: str = "source") -> LegalSource:
    """Return the source read again after the locks; refuse one that is private, replaced or of another country."""
    source = session.exec(select(LegalSource).where(LegalSource.id == source_id).execution_options(populate_existing=True)).first()
    if source is None or source.country_iso3 != country_iso3:
        raise InvalidInput("Choose a legal source of this country's register.", [(field, "Choose a legal source of this country.")])
    if source.assignment_id is not None:
        message = (
            "This source is still private to a coder's assignment (blind coding): it joins the register when both codings are submitted."
        )
        raise InvalidInput(message, [(field, message)])
    if source.replaced_by_id is not None:
        message = "This source was already corrected or merged by someone else; open its current version and try again."
        raise Conflict(message)
    return source


@dataclass
class _Moves:
    """What one change of evidence did, for its EvidenceCorrection rows and audit events."""

    decisions: dict[int, tuple[int, str]]  # decision id -> (country-round id, indicator id)
    touched: dict[int, set[str]]  # country-round id -> indicators whose citations changed

    @classmethod
    def empty(cls) -> _Moves:
        return cls(decisions={}, touched=defaultdict(set))


def _citations_of(session: Session, source_ids: list[int]) -> list[tuple[Citation, int, str]]:
    """Return the current citations of the sources with their country-round and indicator ids."""
    return list(
        session.exec(
            select(Citation, Assignment.country_round_id, Answer.indicator_id)
            .join(Answer, Answer.id == Citation.answer_id)
            .join(Assignment, Assignment.id == Answer.assignment_id)
            .where(Citation.source_id.in_(source_ids), Citation.replaced_by_id.is_(None))  # type: ignore[union-attr]
            .order_by(Citation.id)
            .execution_options(populate_existing=True)
        ).all()
    )


def _links(session: Session, citation_ids: list[int]) -> dict[int, list[Decision]]:
    """Return, per citation, the decisions it stands behind."""
    result: dict[int, list[Decision]] = defaultdict(list)
    if citation_ids:
        statement = (
            select(DecisionCitation.citation_id, Decision)
            .join(Decision, Decision.id == DecisionCitation.decision_id)
            .where(DecisionCitation.citation_id.in_(citation_ids))  # type: ignore[attr-defined]
        )
        for citation_id, decision in session.exec(statement):
            result[citation_id].append(decision)
    return result


def _new_version(session: Session, old: Citation, decisions: list[Decision], moves: _Moves, **fields) -> Citation:
    """Write the next version of a citation (`fields` changed), point the old row at it and move the decisions' links."""
    new = Citation(
        answer_id=old.answer_id, position=old.position, **{name: fields.get(name, getattr(old, name)) for name in CITATION_FIELDS}
    )
    session.add(new)
    session.flush()
    old.replaced_by_id = new.id
    session.add(old)
    session.exec(sa.delete(DecisionCitation).where(DecisionCitation.citation_id == old.id))  # type: ignore[arg-type]
    for decision in decisions:
        session.add(DecisionCitation(decision_id=decision.id, citation_id=new.id))
        moves.decisions[decision.id] = (decision.country_round_id, decision.indicator_id)
    return new


def _move_citations(session: Session, source_ids: list[int], target_id: int) -> _Moves:
    """Point every current citation of `source_ids` at `target_id`: a new version behind a decision, in place otherwise."""
    moves = _Moves.empty()
    rows = _citations_of(session, source_ids)
    links = _links(session, [c.id for c, _cr, _i in rows])
    for citation, country_round_id, indicator_id in rows:
        moves.touched[country_round_id].add(indicator_id)
        if links.get(citation.id):
            _new_version(session, citation, links[citation.id], moves, source_id=target_id)
        else:
            citation.source_id = target_id  # not behind any value: it follows the source, as coders expect
            session.add(citation)
    return moves


def _record(session: Session, moves: _Moves, *, kind: str, old_id: int, new_id: int, reason: str, actor_id: int, audit: dict) -> None:
    """Write one EvidenceCorrection per decision whose evidence changed and one audit event per country-round touched."""
    session.flush()
    for decision_id, (country_round_id, indicator_id) in sorted(moves.decisions.items()):
        session.add(
            EvidenceCorrection(
                kind=kind,
                old_id=old_id,
                new_id=new_id,
                reason=reason,
                country_round_id=country_round_id,
                indicator_id=indicator_id,
                decision_id=decision_id,
                user_id=actor_id,
            )
        )
    rounds = {cr: set(ids) for cr, ids in moves.touched.items()}
    for country_round_id, indicator_id in moves.decisions.values():
        rounds.setdefault(country_round_id, set()).add(indicator_id)
    at = utcnow()
    for country_round_id in sorted(rounds) or [None]:
        indicators = sorted(rounds.get(country_round_id, ()))
        final = sorted(i for cr, i in moves.decisions.values() if cr == country_round_id)
        new = {**audit["new"], "reason": reason, "indicators": indicators, "final_values_changed": final}
        event = record_event(
            session=session,
            user_id=actor_id,
            action=audit["action"],
            entity=audit["entity"],
            entity_id=audit["entity_id"],
            old=audit["old"],
            new=new,
            country_round_id=country_round_id,
        )
        event.at = at
    session.flush()


def edit_register_source(
    *, session: Session, codebook: Codebook, country_iso3: str, source_id: int, source: SourceInput, actor_id: int
) -> LegalSource:
    """Change a register source that stands behind no final value, in place (audited); refuse a frozen one."""
    typed = _checked_source(codebook, source)
    _lock(session, [source_id])
    row = _current_register_source(session, country_iso3, source_id)
    if frozen_source_ids(session, [row.id]):
        message = "This source now stands behind final values: give the reason for the correction."
        raise InvalidInput(message, [("reason", message)])
    if all(getattr(typed, name) == getattr(row, name) for name in SOURCE_FIELDS):
        raise InvalidInput(NOTHING_CHANGED, [("title", NOTHING_CHANGED)])
    old = source_fields(row)
    for name in SOURCE_FIELDS:
        setattr(row, name, getattr(typed, name))
    session.add(row)
    moves = _Moves.empty()
    for _citation, country_round_id, indicator_id in _citations_of(session, [row.id]):
        moves.touched[country_round_id].add(indicator_id)
    audit = {"action": "source.edited", "entity": "legal_source", "entity_id": row.id, "old": old, "new": source_fields(row)}
    _record(session, moves, kind="source", old_id=row.id, new_id=row.id, reason="", actor_id=actor_id, audit=audit)
    return row


def correct_source(
    *, session: Session, codebook: Codebook, country_iso3: str, source_id: int, source: SourceInput, reason: str, actor_id: int
) -> LegalSource:
    """Write the next version of a register source with a reason, and move its citations to it; return the new version."""
    typed = _checked_source(codebook, source)
    reason = _reason(reason, required=True)
    _lock(session, [source_id])
    old = _current_register_source(session, country_iso3, source_id)
    if all(getattr(typed, name) == getattr(old, name) for name in SOURCE_FIELDS):
        raise InvalidInput(NOTHING_CHANGED, [("title", NOTHING_CHANGED)])
    new = LegalSource(
        country_iso3=old.country_iso3,
        version=old.version + 1,
        created_by_id=actor_id,
        **{name: getattr(typed, name) for name in SOURCE_FIELDS},
    )
    session.add(new)
    session.flush()
    old.replaced_by_id = new.id
    session.add(old)
    moves = _move_citations(session, [old.id], new.id)
    audit = {
        "action": "source.corrected",
        "entity": "legal_source",
        "entity_id": old.id,
        "old": source_fields(old),
        "new": source_fields(new),
    }
    _record(session, moves, kind="source", old_id=old.id, new_id=new.id, reason=reason, actor_id=actor_id, audit=audit)
    return new


def merge_sources(*, session: Session, country_iso3: str, source_id: int, into_id: int, reason: str, actor_id: int) -> LegalSource:
    """Merge a duplicate register source into another of the same country; return the one kept.

    The duplicate's citations move to the kept source; those behind final values as new versions, which
    needs a reason. The duplicate's row stays, replaced by the kept one.
    """
    if source_id == into_id:
        raise InvalidInput("A source cannot be merged into itself: choose another source.", [("into", "Choose another source.")])
    _lock(session, sorted({source_id, into_id}))
    duplicate = _current_register_source(session, country_iso3, source_id, field="source")
    target = session.get(LegalSource, into_id)
    if target is None or target.country_iso3 != country_iso3:
        message = "Merge only into a source of the same country's register."
        raise InvalidInput(message, [("into", message)])
    if target.replaced_by_id is not None:
        message = "That source was replaced by a newer version or merged: merge into its current version."
        raise InvalidInput(message, [("into", message)])
    target = _current_register_source(session, country_iso3, into_id, field="into")
    reason = _reason(reason, required=bool(frozen_source_ids(session, [duplicate.id])))
    duplicate.replaced_by_id = target.id
    session.add(duplicate)
    moves = _move_citations(session, [duplicate.id], target.id)
    audit = {
        "action": "source.merged",
        "entity": "legal_source",
        "entity_id": duplicate.id,
        "old": source_fields(duplicate),
        "new": source_fields(target),
    }
    _record(session, moves, kind="merge", old_id=duplicate.id, new_id=target.id, reason=reason, actor_id=actor_id, audit=audit)
    return target


def _citation_for(session: Session, country_round_id: int, indicator_id: str, citation_id: int) -> Citation:
    """Return a current citation of the indicator in the country-round, read again after the locks, or raise NotFound."""
    row = session.exec(
        select(Citation)
        .join(Answer, Answer.id == Citation.answer_id)
        .join(Assignment, Assignment.id == Answer.assignment_id)
        .where(Citation.id == citation_id, Assignment.country_round_id == country_round_id, Answer.indicator_id == indicator_id)
        .execution_options(populate_existing=True)
    ).first()
    if row is None:
        raise NotFound("There is no such citation of this indicator in this country-round.")
    if row.replaced_by_id is not None:
        raise Conflict("This citation was already corrected by someone else; open the indicator again and check its current version.")
    return row


def correct_citation(
    *, session: Session, country_round_id: int, indicator_id: str, citation_id: int, change: CitationChange, reason: str, actor_id: int
) -> Citation:
    """Write the next version of a citation with a reason and move the decisions' links to it; return the new version."""
    reason = _reason(reason, required=True)
    fields = {
        "source_id": change.source_id,
        "pinpoint": clean_text(change.pinpoint).strip(),
        "url": clean_text(change.url).strip(),
        "excerpt": clean_text(change.excerpt),
        "translation": clean_text(change.translation),
    }
    problems = []
    if (message := url_problem(fields["url"])) is not None:
        problems.append(("url", message))
    if (message := length_problem("pinpoint", fields["pinpoint"])) is not None:
        problems.append(("pinpoint", message))
    if problems:
        raise InvalidInput(problems[0][1], problems)
    country_round = session.get(CountryRound, country_round_id)
    if country_round is None:
        raise NotFound("No such country in this round.")
    _lock(session, [change.source_id], country_round_id=country_round_id)
    old = _citation_for(session, country_round_id, indicator_id, citation_id)
    _current_register_source(session, country_round.country_iso3, change.source_id, field="source_id")
    if all(fields[name] == getattr(old, name) for name in CITATION_FIELDS):
        raise InvalidInput(NOTHING_CHANGED, [("pinpoint", NOTHING_CHANGED)])
    moves = _Moves.empty()
    moves.touched[country_round_id].add(indicator_id)
    before = {name: getattr(old, name) for name in CITATION_FIELDS}
    new = _new_version(session, old, _links(session, [old.id]).get(old.id, []), moves, **fields)
    audit = {"action": "citation.corrected", "entity": "citation", "entity_id": old.id, "old": before, "new": {"id": new.id, **fields}}
    _record(session, moves, kind="citation", old_id=old.id, new_id=new.id, reason=reason, actor_id=actor_id, audit=audit)
    return new
