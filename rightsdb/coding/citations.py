"""Legal sources (entered once per country) and the pinpoint citations that support answers.

A LegalSource is the instrument (constitution, act, judgment...); a Citation points at one provision
of it (article, section) with an excerpt in the original language. Keeping the two apart means a
statute's title, URL and date in force are typed once per country and stay consistent across the
dozens of answers that cite it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlmodel import Session, select

from rightsdb.accounts.audit import record_added, record_changed, record_row_event
from rightsdb.codebook import Codebook
from rightsdb.codebook.rules import CITATION_LIMITS, length_problem, url_problem
from rightsdb.errors import InvalidInput, NotFound
from rightsdb.models import Answer, Citation, LegalSource


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


def list_sources(*, session: Session, country_iso3: str) -> list[LegalSource]:
    """Return the country's legal sources, ordered by title."""
    statement = select(LegalSource).where(LegalSource.country_iso3 == country_iso3).order_by(LegalSource.title, LegalSource.id)
    return list(session.exec(statement))


def _source_fields(source: LegalSource) -> dict:
    return {
        "instrument_type": source.instrument_type,
        "title": source.title,
        "url": source.url,
        "date_in_force": source.date_in_force.isoformat() if source.date_in_force else None,
        "language": source.language,
    }


def create_source(
    *, session: Session, codebook: Codebook, country_iso3: str, source: SourceInput, user_id: int, country_round_id: int | None
) -> LegalSource:
    """Add a legal source for a country; raise InvalidInput naming each bad field."""
    problems = source_problems(codebook=codebook, source=source)
    if problems:
        raise InvalidInput("The legal source is incomplete.", problems)
    row = LegalSource(
        country_iso3=country_iso3,
        instrument_type=source.instrument_type,
        title=source.title.strip(),
        url=source.url.strip(),
        date_in_force=source.date_in_force,
        language=source.language.strip(),
        created_by_id=user_id,
    )
    return record_added(session, row, user_id=user_id, action="source.created", new=_source_fields(row), country_round_id=country_round_id)


def edit_source(
    *,
    session: Session,
    codebook: Codebook,
    country_iso3: str,
    source_id: int,
    source: SourceInput,
    user_id: int,
    country_round_id: int | None,
) -> LegalSource:
    """Change a country's legal source; raise NotFound if it belongs to another country."""
    row = session.get(LegalSource, source_id)
    if row is None or row.country_iso3 != country_iso3:
        raise NotFound("There is no such legal source for this country.")
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
        record_changed(session, row, user_id=user_id, action="source.edited", old=old, new=new, country_round_id=country_round_id)
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
        problems.append(("source", "Choose one of this country's legal sources."))
    if (message := url_problem(citation.url)) is not None:
        problems.append(("url", message))
    if (message := length_problem("pinpoint", citation.pinpoint)) is not None:
        problems.append(("pinpoint", message))
    return problems


def add_citation(
    *,
    session: Session,
    codebook: Codebook,
    answer: Answer,
    citation: CitationInput,
    country_iso3: str,
    source_ids: set[int],
    user_id: int,
    country_round_id: int,
) -> Citation:
    """Add a citation to a (flushed) answer, creating its source first when typed inline."""
    problems = citation_problems(codebook=codebook, citation=citation, source_ids=source_ids)
    if problems:
        raise InvalidInput(f"{answer.indicator_id}: the new citation is incomplete.", [(answer.indicator_id, m) for _, m in problems])
    source_id = citation.source_id
    if citation.new_source is not None:
        source_id = create_source(
            session=session,
            codebook=codebook,
            country_iso3=country_iso3,
            source=citation.new_source,
            user_id=user_id,
            country_round_id=country_round_id,
        ).id
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
    return record_added(session, row, user_id=user_id, action="citation.added", new=new, country_round_id=country_round_id)


def remove_citation(*, session: Session, answer: Answer, citation: Citation, user_id: int, country_round_id: int) -> None:
    """Delete one of an answer's citations, recording what it said."""
    if citation.answer_id != answer.id:
        raise NotFound("There is no such citation on this answer.")
    old = _citation_fields(answer, citation)
    record_row_event(session, citation, user_id=user_id, action="citation.removed", old=old, country_round_id=country_round_id)
    session.delete(citation)
