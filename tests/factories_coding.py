"""Factory functions for the coder's workflow tests (they add rows and flush, never commit)."""

from __future__ import annotations

from datetime import date, datetime, timezone

from sqlmodel import Session

from rightsdb.codebook import Codebook
from rightsdb.models import Citation, Decision, DecisionCitation
from tests.factories import make_assignments, make_country, make_round, make_source, make_user


def make_pair(session: Session, codebook: Codebook, *, country_index: int = 0, round_name: str = "2026", reference_date: date = date(2026, 1, 1)):
    """Add two coders and a country-round assigned to them; return (coder_a, coder_b, country_round, a, b)."""
    coder_a = make_user(session, "coder")
    coder_b = make_user(session, "coder")
    country = make_country(session, country_index)
    round_ = make_round(session, codebook, name=round_name, reference_date=reference_date)
    country_round, a, b = make_assignments(session, round_, country, coder_a, coder_b)
    return coder_a, coder_b, country_round, a, b


def make_final_round(session: Session, codebook: Codebook, country_round, values: dict[str, str], *, groups: dict[str, list[str]] | None = None):
    """Finalize a country-round with Decisions for `values`, each backed by one standing citation.

    The standing citations hang off an answer of the country-round's slot A (as reconciliation does).
    Returns {indicator_id: Citation}.
    """
    from rightsdb.models import Answer

    groups = groups or {}
    assignment = next(a for a in country_round.assignments if a.slot == "A")
    source = make_source(session, country_round.country, title="Previous Aliens Act")
    standing = {}
    for indicator_id, value in values.items():
        answer = Answer(assignment_id=assignment.id, indicator_id=indicator_id, value=value, groups=groups.get(indicator_id, []),
                        codebook_version=codebook.version)
        session.add(answer)
        session.flush()
        citation = Citation(answer_id=answer.id, source_id=source.id, pinpoint=f"§ {indicator_id}", excerpt=f"Old text {indicator_id}",
                            translation="Old translation")
        decision = Decision(country_round_id=country_round.id, indicator_id=indicator_id, value=value,
                            groups=groups.get(indicator_id, []), outcome="agreed")
        session.add_all([citation, decision])
        session.flush()
        session.add(DecisionCitation(decision_id=decision.id, citation_id=citation.id))
        standing[indicator_id] = citation
    country_round.finalized_at = datetime(2025, 6, 1, tzinfo=timezone.utc)
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
