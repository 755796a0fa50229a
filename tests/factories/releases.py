"""Releases: final country-rounds made directly (answers, Decisions, citations), and the golden files' data set."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlmodel import Session, select

from rightsdb.codebook import Codebook
from rightsdb.models import Answer, Citation, Country, Decision, DecisionCitation, User
from tests.factories.coding import make_source
from tests.factories.countries import make_country
from tests.factories.people import make_user
from tests.factories.rounds import get_round, make_assignments

FIXED = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def coders(session: Session) -> tuple[User, User]:
    """Return two coders (created once per database)."""
    existing = session.exec(select(User).where(User.role == "coder").order_by(User.id)).all()
    if len(existing) >= 2:
        return existing[0], existing[1]
    return make_user(session, "coder"), make_user(session, "coder")


def make_final(
    session: Session,
    codebook: Codebook,
    country: Country,
    *,
    round_name: str = "2026",
    final: dict[str, str] | None = None,
    coder_a: dict[str, str] | None = None,
    coder_b: dict[str, str] | None = None,
    groups: dict[str, list[str]] | None = None,
    default: str = "provided",
    excerpt: str = "Excerpt",
    finalized: bool = True,
    source_title: str = "Aliens Act",
    language: str = "en",
):
    """Add a country-round with both coders' answers and a Decision (with one citation) per indicator.

    `final` gives final values (default `default`); coder A and B answer like the final value unless
    `coder_a`/`coder_b` say otherwise; a difference makes the decision `reconciled` (chosen A).
    """
    final = final or {}
    coder_a = coder_a or {}
    coder_b = coder_b or {}
    groups = groups or {}
    first, second = coders(session)
    round_ = get_round(session, codebook, round_name)
    country_round, slot_a, slot_b = make_assignments(session, round_, country, first, second)
    source = make_source(session, country, title=source_title, language=language)
    decisions = []
    for n, indicator in enumerate(codebook.indicators):
        value = final.get(indicator.id, default)
        value_a = coder_a.get(indicator.id, value)
        value_b = coder_b.get(indicator.id, value)
        answer_groups = groups.get(indicator.id, ["permanent_residents"] if value == "conditional" else [])
        answer_a = Answer(
            assignment_id=slot_a.id, indicator_id=indicator.id, value=value_a, groups=answer_groups, codebook_version=codebook.version
        )
        answer_b = Answer(
            assignment_id=slot_b.id, indicator_id=indicator.id, value=value_b, groups=answer_groups, codebook_version=codebook.version
        )
        session.add_all([answer_a, answer_b])
        session.flush()
        citation = Citation(
            answer_id=answer_a.id, source_id=source.id, pinpoint=f"Art. {n + 1}", excerpt=f"{excerpt} {indicator.id}", position=0
        )
        session.add(citation)
        reconciled = value_a != value_b
        decision = Decision(
            country_round_id=country_round.id,
            indicator_id=indicator.id,
            value=value,
            groups=answer_groups,
            outcome="reconciled" if reconciled else "agreed",
            chosen="A" if reconciled else None,
            reason="Coder A cited the statute in force." if reconciled else "",
            decided_at=FIXED,
        )
        session.add(decision)
        session.flush()
        if value != "not_applicable":
            session.add(DecisionCitation(decision_id=decision.id, citation_id=citation.id))
        decisions.append(decision)
    for assignment in (slot_a, slot_b):
        assignment.status = "submitted"
        assignment.submitted_at = FIXED
    if finalized:
        country_round.compared_at = FIXED
        country_round.finalized_at = FIXED
    session.flush()
    return country_round, decisions


def make_golden_data(session: Session, codebook: Codebook) -> None:
    """Add the small fixed data set behind the golden files (tiny codebook; two synthetic countries)."""
    make_final(
        session,
        codebook,
        make_country(session, 0, region="Europe"),
        final={"AAA-02": "conditional", "BBB-01": "not_applicable"},
        coder_b={"AAA-01": "not_provided"},
        groups={"AAA-02": ["permanent_residents", "irregular_migrants"]},
        excerpt='=HYPERLINK("x") لكل مهاجر الحق',
        source_title="Закон об иностранцах",
        language="ru",
    )
    make_final(session, codebook, make_country(session, 1, region="Africa"), final={"AAA-01": "not_provided"}, excerpt="Every migrant")
    session.flush()
