"""Legal sources and the pinpoint citations that support answers; which sources a coder may see.

A LegalSource is the instrument (constitution, act, judgment...); a Citation points at one provision
of it (article, section) with an excerpt in the original language. Keeping the two apart means a
statute's title, URL and date in force are typed once per country and stay consistent across the
dozens of answers that cite it.

Blind double coding extends to sources. A source a coder enters is private to that assignment
(`LegalSource.assignment_id`): the other coder of the country-round never sees it (its title and URL
often name the very article cited) until both codings are submitted, when it joins the country's
register (`rightsdb.coding.submission.unblind_sources`). The register (`assignment_id` NULL) holds the
sources behind earlier rounds' values and those entered by supervisors or imported with finished work;
coders read it and cite it, and only a supervisor corrects it. A row a correction or merge replaced
(`replaced_by_id` set) is history and is never offered again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from sqlmodel import Session, func, select

from rightsdb.accounts.audit import record_added, record_changed, record_row_event
from rightsdb.codebook import Codebook
from rightsdb.codebook.rules import CITATION_LIMITS, length_problem, url_problem
from rightsdb.coding.evidence import refuse_frozen_source
from rightsdb.coding.submission import hold_assignment
from rightsdb.errors import Forbidden, InvalidInput, NotFound
from rightsdb.models import Answer, Assignment, Citation, CountryRound, LegalSource

READ_ONLY = "This assignment has been submitted and is read-only; a supervisor can reopen it."
#: The same words for a source that does not exist and for another assignment's private one: blind.
NO_SUCH_SOURCE = "There is no such legal source among those this assignment can use."
CHOOSE_SOURCE = "Choose one of the legal sources in the list."
IN_REGISTER = (
    "This legal source is in the country's register, which coders cite but do not change: "
    "a supervisor corrects it, with a reason. If the instrument you mean is a different one, add it as a new source."
)


@dataclass(frozen=True)
class SourceInput:
    """The fields of a legal source as typed by a coder."""

    instrument_type: str
    title: str
    url: str = ""
    date_in_force: date | None = None
    language: str = ""


@dataclass(frozen=True)
class CitationInput:
    """One new citation row: an existing source id, or a new source typed inline."""

    source_id: int | None
    new_source: SourceInput | None
    pinpoint: str = ""
    url: str = ""
    excerpt: str = ""
    translation: str = ""


def source_problems(*, codebook: Codebook, source: SourceInput) -> list[tuple[str, str]]:
    """Return (field, message) for each rule the source breaks."""
    problems = []
    if source.instrument_type not in codebook.instrument_labels:
        problems.append(("instrument_type", "Choose the type of instrument."))
    if not source.title.strip():
        problems.append(("title", "Enter the title of the instrument."))
    elif (message := length_problem("title", source.title)) is not None:
        problems.append(("title", message))
    if (message := url_problem(source.url)) is not None:
        problems.append(("url", message))
    if len(source.language.strip()) > CITATION_LIMITS["language"]:
        problems.append(("language", "Use a language code such as de, ru, tr or ar."))
    return problems


def _citable(country_iso3: str, assignment_id: int):
    """The condition of list_sources: current, of the country, in its register or private to the assignment."""
    return sa.and_(
        LegalSource.country_iso3 == country_iso3,
        LegalSource.replaced_by_id.is_(None),  # type: ignore[union-attr]
        sa.or_(LegalSource.assignment_id.is_(None), LegalSource.assignment_id == assignment_id),  # type: ignore[union-attr]
    )


def _country_of(session: Session, assignment: Assignment) -> str:
    return session.exec(select(CountryRound.country_iso3).where(CountryRound.id == assignment.country_round_id)).one()


def register_sources(*, session: Session, country_iso3: str) -> list[LegalSource]:
    """Return the country's register: its current sources private to no assignment, ordered by title."""
    statement = (
        select(LegalSource)
        .where(
            LegalSource.country_iso3 == country_iso3,
            LegalSource.assignment_id.is_(None),  # type: ignore[union-attr]
            LegalSource.replaced_by_id.is_(None),  # type: ignore[union-attr]
        )
        .order_by(LegalSource.title, LegalSource.id)
    )
    return list(session.exec(statement))


def list_sources(*, session: Session, assignment: Assignment) -> list[LegalSource]:
    """Return the sources a coder working on `assignment` may see and cite, ordered by title.

    These are (a) the current sources of the country's register and (b) the current sources private
    to this assignment; never another assignment's private source (blind coding), never a replaced row.
    The ids are also the only ones a new citation of the assignment may name (`add_citation`).
    """
    statement = (
        select(LegalSource)
        .where(_citable(_country_of(session, assignment), assignment.id))
        .order_by(LegalSource.title, LegalSource.id)
        .execution_options(populate_existing=True)  # read as committed: a submit may just have moved them to the register
    )
    return list(session.exec(statement))


def citation_counts(*, session: Session, assignment: Assignment) -> dict[int, int]:
    """Return source id -> how many of this assignment's current citations point at it (one query)."""
    rows = session.exec(
        select(Citation.source_id, func.count())
        .join(Answer, Answer.id == Citation.answer_id)
        .where(Answer.assignment_id == assignment.id, Citation.replaced_by_id.is_(None))  # type: ignore[union-attr]
        .group_by(Citation.source_id)
    ).all()
    return dict(rows)


def visible_source(*, session: Session, assignment: Assignment, source_id: int) -> LegalSource:
    """Return one source of `list_sources(assignment)`; NotFound otherwise, never saying whether it exists elsewhere."""
    statement = (
        select(LegalSource)
        .where(LegalSource.id == source_id, _citable(_country_of(session, assignment), assignment.id))
        .execution_options(populate_existing=True)
    )
    row = session.exec(statement).first()
    if row is None:
        raise NotFound(NO_SUCH_SOURCE)
    return row


def _source_fields(source: LegalSource) -> dict:
    return {
        "instrument_type": source.instrument_type,
        "title": source.title,
        "url": source.url,
        "date_in_force": source.date_in_force.isoformat() if source.date_in_force else None,
        "language": source.language,
    }


def create_source(*, session: Session, codebook: Codebook, assignment: Assignment, source: SourceInput, user_id: int) -> LegalSource:
    """Add a legal source entered by the assignment's coder, private to the assignment; raise InvalidInput naming each bad field.

    Written under the country-round's lock, on the status read after it: a source entered while the
    last coding is being submitted either lands before the submit (and joins the register with the
    others) or is refused.
    """
    if hold_assignment(session, assignment) == "submitted":
        raise Forbidden(READ_ONLY)
    problems = source_problems(codebook=codebook, source=source)
    if problems:
        raise InvalidInput("The legal source is incomplete.", problems)
    row = LegalSource(
        country_iso3=_country_of(session, assignment),
        instrument_type=source.instrument_type,
        title=source.title.strip(),
        url=source.url.strip(),
        date_in_force=source.date_in_force,
        language=source.language.strip(),
        created_by_id=user_id,
        assignment_id=assignment.id,
    )
    new = {**_source_fields(row), "private_to_assignment": assignment.id}
    return record_added(session, row, user_id=user_id, action="source.created", new=new, country_round_id=assignment.country_round_id)


def edit_source(
    *, session: Session, codebook: Codebook, assignment: Assignment, source_id: int, source: SourceInput, user_id: int
) -> LegalSource:
    """Change a source private to the coder's assignment (a free edit, audited); refuse every other source.

    Another assignment's private source, another country's, a replaced one or none at all: NotFound,
    all alike, so a guessed id confirms nothing. A register source: Forbidden (IN_REGISTER). A source
    behind a final value: InvalidInput (`refuse_frozen_source`), which a private source never is; the
    check stays as a second line of defence.
    """
    if hold_assignment(session, assignment) == "submitted":
        raise Forbidden(READ_ONLY)
    row = visible_source(session=session, assignment=assignment, source_id=source_id)
    if row.assignment_id != assignment.id:
        raise Forbidden(IN_REGISTER)
    refuse_frozen_source(session, row.id)
    problems = source_problems(codebook=codebook, source=source)
    if problems:
        raise InvalidInput("The legal source is incomplete.", problems)
    old = _source_fields(row)
    row.instrument_type = source.instrument_type
    row.title = source.title.strip()
    row.url = source.url.strip()
    row.date_in_force = source.date_in_force
    row.language = source.language.strip()
    new = _source_fields(row)
    if new != old:
        record_changed(
            session, row, user_id=user_id, action="source.edited", old=old, new=new, country_round_id=assignment.country_round_id
        )
    return row


#: What a citation says: its source and provision, apart from the answer it supports and its place in the list.
CITATION_CONTENT = ("source_id", "pinpoint", "url", "excerpt", "translation")


def citation_content(citation: Citation) -> dict:
    """Return the `CITATION_CONTENT` fields of a citation, in that order."""
    return {name: getattr(citation, name) for name in CITATION_CONTENT}


def _citation_fields(answer: Answer, citation: Citation) -> dict:
    """What the audit trail keeps of a citation when it is added or removed."""
    return {"indicator_id": answer.indicator_id, **citation_content(citation)}


def citation_problems(*, codebook: Codebook, citation: CitationInput, source_ids: set[int]) -> list[tuple[str, str]]:
    """Return (field, message) for each rule a new citation row breaks."""
    problems = []
    if citation.new_source is not None:
        problems += [(f"new_source_{field}", message) for field, message in source_problems(codebook=codebook, source=citation.new_source)]
    elif citation.source_id is None:
        problems.append(("source", "Choose the legal source this citation points to."))
    elif citation.source_id not in source_ids:
        problems.append(("source", CHOOSE_SOURCE))  # nonexistent or another assignment's private source: alike
    if (message := url_problem(citation.url)) is not None:
        problems.append(("url", message))
    if (message := length_problem("pinpoint", citation.pinpoint)) is not None:
        problems.append(("pinpoint", message))
    return problems


def add_citation(
    *,
    session: Session,
    codebook: Codebook,
    assignment: Assignment,
    answer: Answer,
    citation: CitationInput,
    source_ids: set[int],
    user_id: int,
) -> Citation:
    """Add a citation to a (flushed) answer of the assignment, creating its source first when typed inline.

    `source_ids` are the sources the citation may name: `list_sources(assignment)`'s, read under the
    country-round's lock by the caller. Any other id (a forged form naming the other coder's private
    source) is refused like an unknown one, and nothing is written.
    """
    problems = citation_problems(codebook=codebook, citation=citation, source_ids=source_ids)
    if problems:
        raise InvalidInput(f"{answer.indicator_id}: the new citation is incomplete.", [(answer.indicator_id, m) for _, m in problems])
    source_id = citation.source_id if citation.new_source is not None else current_version(session, citation.source_id)
    if citation.new_source is not None:
        source_id = create_source(session=session, codebook=codebook, assignment=assignment, source=citation.new_source, user_id=user_id).id
    row = Citation(
        answer_id=answer.id,
        source_id=source_id,
        pinpoint=citation.pinpoint.strip(),
        url=citation.url.strip(),
        excerpt=citation.excerpt,
        translation=citation.translation,
        position=len(answer.citations),
    )
    new = _citation_fields(answer, row)
    return record_added(session, row, user_id=user_id, action="citation.added", new=new, country_round_id=assignment.country_round_id)


def current_version(session: Session, source_id: int) -> int:
    """Return the id of the current version of a source: itself, or what a correction or a merge replaced it with.

    Read under a share lock on PostgreSQL: a supervisor correcting the source holds it (FOR NO KEY
    UPDATE, review/evidence.py) until the correction commits, so a citation saved meanwhile waits and
    then cites the new version, never a replaced row that the correction has already moved past.
    """
    while True:
        row = session.exec(
            select(LegalSource.id, LegalSource.replaced_by_id).where(LegalSource.id == source_id).with_for_update(read=True)
        ).one()
        if row.replaced_by_id is None:
            return row.id
        source_id = row.replaced_by_id


def remove_citation(*, session: Session, answer: Answer, citation: Citation, user_id: int, country_round_id: int) -> None:
    """Delete one of an answer's citations, recording what it said."""
    if citation.answer_id != answer.id:
        raise NotFound("There is no such citation on this answer.")
    old = _citation_fields(answer, citation)
    record_row_event(session, citation, user_id=user_id, action="citation.removed", old=old, country_round_id=country_round_id)
    session.delete(citation)
