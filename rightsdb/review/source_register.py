"""A country's register of legal sources as the supervisor sees it: what stands on each source, and its history.

The register is the country's reviewed sources (`assignment_id` None); its current rows are those no
correction or merge replaced. A source's history is every row whose `replaced_by_id` chain leads to
it: its earlier versions (corrections, `rightsdb.review.evidence`) and the duplicates merged into it,
each with the audit events that say who changed it, when and why.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import Session, select

from rightsdb.errors import NotFound
from rightsdb.models import AuditEvent, Citation, Decision, DecisionCitation, LegalSource

#: The fields of a source that a supervisor edits or corrects.
SOURCE_FIELDS = ("instrument_type", "title", "url", "date_in_force", "language")


@dataclass(frozen=True)
class RegisterEntry:
    """One current source of a country's register, with what stands on it."""

    source: LegalSource
    citations: int  # current citations pointing at it
    final_values: int  # decisions it stands behind
    country_rounds: int  # country-rounds of those decisions
    versions: int  # rows of its history, itself included

    @property
    def frozen(self) -> bool:
        """Whether the source stands behind a final value (then it is corrected, never edited in place)."""
        return self.final_values > 0


@dataclass(frozen=True)
class HistoryEntry:
    """One row of a source's history: an earlier version, a source merged into it, or the current row."""

    source: LegalSource
    kind: str  # current | version | merged
    events: list[AuditEvent]


def source_fields(source: LegalSource) -> dict:
    """Return what the audit trail keeps of a source."""
    return {
        "id": source.id,
        "version": source.version,
        **{name: getattr(source, name) for name in SOURCE_FIELDS if name != "date_in_force"},
        "date_in_force": source.date_in_force.isoformat() if source.date_in_force else None,
    }


def _register(country_iso3: str):
    """The condition of a current register source of the country."""
    return sa.and_(
        LegalSource.country_iso3 == country_iso3,
        LegalSource.assignment_id.is_(None),  # type: ignore[union-attr]
        LegalSource.replaced_by_id.is_(None),  # type: ignore[union-attr]
    )


def list_register(*, session: Session, country_iso3: str) -> list[RegisterEntry]:
    """Return the country's current register sources by title, each with its citations and final values (four queries)."""
    sources = list(session.exec(select(LegalSource).where(_register(country_iso3)).order_by(LegalSource.title, LegalSource.id)))
    ids = [s.id for s in sources]
    if not ids:
        return []
    cited = dict(
        session.exec(
            select(Citation.source_id, sa.func.count(Citation.id))
            .where(Citation.source_id.in_(ids), Citation.replaced_by_id.is_(None))  # type: ignore[union-attr]
            .group_by(Citation.source_id)
        ).all()
    )
    behind = session.exec(
        select(Citation.source_id, Decision.id, Decision.country_round_id)
        .join(DecisionCitation, DecisionCitation.citation_id == Citation.id)
        .join(Decision, Decision.id == DecisionCitation.decision_id)
        .where(Citation.source_id.in_(ids))  # type: ignore[union-attr]
        .distinct()
    ).all()
    decisions, rounds = defaultdict(set), defaultdict(set)
    for source_id, decision_id, country_round_id in behind:
        decisions[source_id].add(decision_id)
        rounds[source_id].add(country_round_id)
    lineage = _lineage_sizes(session, country_iso3)
    return [
        RegisterEntry(
            source=s,
            citations=cited.get(s.id, 0),
            final_values=len(decisions[s.id]),
            country_rounds=len(rounds[s.id]),
            versions=lineage.get(s.id, 1),
        )
        for s in sources
    ]


def _lineage_sizes(session: Session, country_iso3: str) -> dict[int, int]:
    """Return, per current source of the country, how many rows its history holds (itself included)."""
    successor = dict(session.exec(select(LegalSource.id, LegalSource.replaced_by_id).where(LegalSource.country_iso3 == country_iso3)).all())
    sizes: dict[int, int] = defaultdict(int)
    for source_id in successor:
        current = source_id
        while successor.get(current) is not None:
            current = successor[current]
        sizes[current] += 1
    return sizes


def get_register_source(*, session: Session, country_iso3: str, source_id: int) -> LegalSource:
    """Return a source of the country's register (current or replaced), or raise NotFound (private ones included)."""
    source = session.get(LegalSource, source_id)
    if source is None or source.country_iso3 != country_iso3 or source.assignment_id is not None:
        raise NotFound("There is no such legal source in this country's register.")
    return source


def source_history(*, session: Session, country_iso3: str, source_id: int) -> list[HistoryEntry]:
    """Return the history of a source: every row that led to its current version, newest first, with their audit events."""
    source = get_register_source(session=session, country_iso3=country_iso3, source_id=source_id)
    while source.replaced_by_id is not None:
        source = session.get(LegalSource, source.replaced_by_id)
    rows, frontier = [source], [source.id]
    while frontier:
        found = list(session.exec(select(LegalSource).where(LegalSource.replaced_by_id.in_(frontier))))  # type: ignore[union-attr]
        rows += found
        frontier = [r.id for r in found]
    events: dict[str, list[AuditEvent]] = defaultdict(list)
    statement = (
        select(AuditEvent)
        .where(AuditEvent.entity == "legal_source", AuditEvent.entity_id.in_([str(r.id) for r in rows]))  # type: ignore[attr-defined]
        .order_by(AuditEvent.at, AuditEvent.id)
    )
    seen = set()
    for event in session.exec(statement):
        key = (event.entity_id, event.action, event.at, event.user_id)  # one correction: one event per country-round
        if key not in seen:
            seen.add(key)
            events[event.entity_id].append(event)

    def kind(row: LegalSource) -> str:
        if row.replaced_by_id is None:
            return "current"
        return "merged" if any(e.action == "source.merged" for e in events[str(row.id)]) else "version"

    rows.sort(key=lambda r: (r.replaced_by_id is not None, -r.version, -(r.id or 0)))
    return [HistoryEntry(source=r, kind=kind(r), events=events[str(r.id)]) for r in rows]
