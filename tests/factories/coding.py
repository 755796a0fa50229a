"""The coder's work: legal sources, answered assignments, a finalized earlier country-round, the coding form's POST body."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlmodel import Session

from rightsdb.codebook import Codebook
from rightsdb.models import Answer, Assignment, Citation, Country, Decision, DecisionCitation, LegalSource, utcnow


def make_source(
    session: Session, country: Country, *, title: str = "Aliens Act", instrument_type: str = "statute", language: str = "en"
) -> LegalSource:
    """Add a legal instrument for a country."""
    source = LegalSource(
        country_iso3=country.iso3, instrument_type=instrument_type, title=title, url="https://example.org/law", language=language
    )
    session.add(source)
    session.flush()
    return source


def fill_assignment(
    session: Session,
    assignment: Assignment,
    codebook: Codebook,
    values: dict[str, str] | None = None,
    *,
    default: str = "provided",
    groups: dict[str, list[str]] | None = None,
    source: LegalSource | None = None,
    submit: bool = False,
) -> list[Answer]:
    """Answer every indicator (values overrides the default per indicator id), each with one citation.

    Conditional answers get the groups given (default: irregular_migrants excluded, i.e. permanent_residents).
    Not-applicable answers get a note as their reason.
    """
    values = values or {}
    groups = groups or {}
    answers = []
    if source is None:
        country_iso3 = assignment.country_round.country_iso3 if assignment.country_round else None
        source = make_source(session, session.get(Country, country_iso3)) if country_iso3 else None
    for indicator in codebook.indicators:
        value = values.get(indicator.id, default)
        answer = Answer(
            assignment_id=assignment.id,
            indicator_id=indicator.id,
            value=value,
            groups=groups.get(indicator.id, ["permanent_residents"] if value == "conditional" else []),
            notes="Not applicable: no such procedure exists." if value == "not_applicable" else "",
            codebook_version=codebook.version,
            updated_by_id=assignment.coder_id,
        )
        session.add(answer)
        answers.append(answer)
    session.flush()
    for answer in answers:
        if source is not None and answer.value != "not_applicable":
            session.add(
                Citation(
                    answer_id=answer.id, source_id=source.id, pinpoint=f"Art. {answer.id}", excerpt=f"Excerpt for {answer.indicator_id}"
                )
            )
    if submit:
        assignment.status = "submitted"
        assignment.submitted_at = utcnow()
        session.add(assignment)
    session.flush()
    return answers


def make_final_round(
    session: Session, codebook: Codebook, country_round, values: dict[str, str], *, groups: dict[str, list[str]] | None = None
):
    """Finalize a country-round with Decisions for `values`, each backed by one standing citation.

    The standing citations hang off an answer of the country-round's slot A (as reconciliation does).
    Returns {indicator_id: Citation}.
    """
    groups = groups or {}
    assignment = next(a for a in country_round.assignments if a.slot == "A")
    source = make_source(session, country_round.country, title="Previous Aliens Act")
    standing = {}
    for indicator_id, value in values.items():
        answer = Answer(
            assignment_id=assignment.id,
            indicator_id=indicator_id,
            value=value,
            groups=groups.get(indicator_id, []),
            codebook_version=codebook.version,
        )
        session.add(answer)
        session.flush()
        citation = Citation(
            answer_id=answer.id,
            source_id=source.id,
            pinpoint=f"§ {indicator_id}",
            excerpt=f"Old text {indicator_id}",
            translation="Old translation",
        )
        decision = Decision(
            country_round_id=country_round.id, indicator_id=indicator_id, value=value, groups=groups.get(indicator_id, []), outcome="agreed"
        )
        session.add_all([citation, decision])
        session.flush()
        session.add(DecisionCitation(decision_id=decision.id, citation_id=citation.id))
        standing[indicator_id] = citation
    country_round.finalized_at = datetime(2025, 6, 1, tzinfo=UTC)
    country_round.compared_at = country_round.finalized_at
    session.add(country_round)
    session.flush()
    return standing


def post_data(codebook: Codebook, versions: dict[str, int], answers: dict[str, dict], *, indicator_ids=None, **extra) -> dict:
    """Build the coding form's POST body: every indicator's version and fields (overrides in `answers`)."""
    data: dict = {"category": ""}
    for indicator_id in indicator_ids or codebook.indicator_ids:
        data[f"{indicator_id}-version"] = str(versions.get(indicator_id, 0))
        for name, value in answers.get(indicator_id, {}).items():
            data[f"{indicator_id}-{name}"] = value
    data.update(extra)
    return data
