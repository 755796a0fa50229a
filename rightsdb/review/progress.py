"""The supervisor's view of the work: each country-round's derived status, the progress board and round summaries.

Statuses are derived, never stored: from each slot's assignment (answered count, submitted or not),
whether the two codings were compared and whether the country-round is final.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlmodel import Session, func, select

from rightsdb.codebook import Codebook
from rightsdb.models import Answer, Assignment, Country, CountryRound, Decision, Round, User
from rightsdb.review.assignments import list_rounds

#: One coder's coding, in the words every page uses for it: the coder's own pages and the supervisor's.
CODING_LABELS = {"not_started": "Not started", "in_progress": "In progress", "submitted": "Submitted"}

#: A country-round, from its two codings; "Not started" means the same as for a coding.
STATUS_LABELS = {
    "not_started": CODING_LABELS["not_started"],
    "coding": "Coding",
    "one_submitted": "One submitted",
    "both_submitted": "Both submitted",
    "reconciliation": "In reconciliation",
    "final": "Final",
}


def coding_status(*, status: str, answered: int) -> str:
    """Return a coding's state from its assignment status and answered count: submitted, in progress or not started."""
    if status == "submitted":
        return "submitted"
    return "in_progress" if answered else "not_started"


def coding_label(status: str, answered: int) -> str:
    """Return a coding's state in words (`CODING_LABELS`), e.g. "Not started" for an open assignment with no answer."""
    return CODING_LABELS[coding_status(status=status, answered=answered)]


@dataclass
class SlotProgress:
    """One coder's assignment and how far it has got."""

    assignment_id: int
    slot: str
    coder_id: int
    coder_name: str
    coder_active: bool
    status: str
    answered: int
    total: int
    message: str

    @property
    def coding_status(self) -> str:
        """Return this coding's state (a key of `CODING_LABELS`)."""
        return coding_status(status=self.status, answered=self.answered)

    @property
    def coding_label(self) -> str:
        """Return this coding's state in words."""
        return CODING_LABELS[self.coding_status]


@dataclass
class CountryProgress:
    """One country in a round, with its derived status."""

    country_round_id: int
    iso3: str
    name: str
    synthetic: bool
    status: str
    decided: int
    total: int
    slots: list[SlotProgress] = field(default_factory=list)

    @property
    def status_label(self) -> str:
        """Return the status in words."""
        return STATUS_LABELS[self.status]


@dataclass
class RoundProgress:
    """One round and its countries."""

    round: Round
    countries: list[CountryProgress] = field(default_factory=list)

    @property
    def synthetic(self) -> bool:
        """Tell whether the round holds any fictional (synthetic) country."""
        return any(c.synthetic for c in self.countries)

    def count(self, status: str) -> int:
        """Return how many countries have this status."""
        return sum(1 for c in self.countries if c.status == status)


def derive_status(*, slots: list[SlotProgress], compared: bool, finalized: bool) -> str:
    """Return a country-round's status from its assignments and comparison state."""
    if finalized:
        return "final"
    if compared:
        return "reconciliation"
    states = [s.coding_status for s in slots]
    submitted = states.count("submitted")
    if submitted >= 2:
        return "both_submitted"
    if submitted == 1:
        return "one_submitted"
    if "in_progress" in states:
        return "coding"
    return "not_started"


def _answered_count(codebook: Codebook):
    """Return a correlated count of an assignment's answered indicators of this codebook (a value given).

    A scalar subquery per assignment instead of a join and GROUP BY over every answer. The indicator
    list is a FILTER, not a WHERE condition, so that PostgreSQL reads the assignment's rows through
    the assignment_id index and tests the list on each, instead of probing the (assignment, indicator)
    index once per indicator.
    """
    return (
        select(func.count(Answer.id).filter(Answer.indicator_id.in_(codebook.indicator_ids)))
        .where(Answer.assignment_id == Assignment.id, Answer.value.is_not(None))
        .correlate(Assignment)
        .scalar_subquery()
    )


def progress_board(*, session: Session, codebook: Codebook, round_id: int | None = None) -> list[RoundProgress]:
    """Return every round (or one) with each country's derived status, in three queries whatever the size.

    Every country row is built: use it for one round (`round_id`); `round_summaries` gives the figures
    of every round in SQL aggregates without building the rows.
    """
    total = len(codebook.indicator_ids)
    round_query = select(Round).order_by(Round.reference_date.desc(), Round.id.desc())
    # Columns, not ORM objects (a round has up to ~200 rows), and each country-round's decisions
    # counted through the country_round_id index rather than by grouping every decision.
    decided = select(func.count(Decision.id)).where(Decision.country_round_id == CountryRound.id).correlate(CountryRound).scalar_subquery()
    cr_query = select(
        CountryRound.id,
        CountryRound.round_id,
        CountryRound.compared_at.is_not(None),
        CountryRound.finalized_at.is_not(None),
        Country.iso3,
        Country.name,
        Country.synthetic,
        decided,
    ).join(Country, Country.iso3 == CountryRound.country_iso3)
    slot_query = select(
        Assignment.id,
        Assignment.country_round_id,
        Assignment.slot,
        Assignment.coder_id,
        Assignment.status,
        Assignment.message,
        User.name,
        User.active,
        _answered_count(codebook),
    ).join(User, User.id == Assignment.coder_id)
    if round_id is not None:
        round_query = round_query.where(Round.id == round_id)
        cr_query = cr_query.where(CountryRound.round_id == round_id)
        slot_query = slot_query.join(CountryRound, CountryRound.id == Assignment.country_round_id).where(CountryRound.round_id == round_id)

    rounds = {r.id: RoundProgress(round=r) for r in session.exec(round_query).all()}
    slots: dict[int, list[SlotProgress]] = {}
    for a_id, cr_id, slot, coder_id, status, message, name, active, count in session.exec(slot_query).all():
        slots.setdefault(cr_id, []).append(SlotProgress(a_id, slot, coder_id, name, bool(active), status, int(count or 0), total, message))
    for cr_id, cr_round_id, compared, finalized, iso3, name, synthetic, decided_count in session.exec(cr_query).all():
        if cr_round_id not in rounds:
            continue
        these = sorted(slots.get(cr_id, []), key=lambda s: s.slot)
        status = derive_status(slots=these, compared=bool(compared), finalized=bool(finalized))
        rounds[cr_round_id].countries.append(
            CountryProgress(cr_id, iso3, name, bool(synthetic), status, int(decided_count or 0), total, these)
        )
    for progress in rounds.values():
        progress.countries.sort(key=lambda c: (c.name, c.iso3))
    return list(rounds.values())


@dataclass
class RoundSummary:
    """One round's figures for the progress board, computed in SQL without building its country rows."""

    round: Round
    indicators: int
    countries: int = 0
    by_status: dict[str, int] = field(default_factory=dict)
    codings: int = 0
    codings_submitted: int = 0
    decided: int = 0
    synthetic: bool = False

    def count(self, status: str) -> int:
        """Return how many countries of the round have this status."""
        return self.by_status.get(status, 0)

    @property
    def final(self) -> int:
        """Return how many countries of the round are final."""
        return self.count("final")

    @property
    def values(self) -> int:
        """Return how many values the round needs decided (every indicator of every country)."""
        return self.countries * self.indicators

    @property
    def finished(self) -> bool:
        """Tell whether every country of the round is final (a round without countries still has work)."""
        return self.countries > 0 and self.final == self.countries


def _status_case(submitted, answering):
    """Return the SQL form of `derive_status` for a country-round row.

    `submitted`: its submitted codings; `answering`: how many of its codings not submitted have an answer.
    """
    return sa.case(
        (CountryRound.finalized_at.is_not(None), "final"),
        (CountryRound.compared_at.is_not(None), "reconciliation"),
        (submitted >= 2, "both_submitted"),
        (submitted == 1, "one_submitted"),
        (answering > 0, "coding"),
        else_="not_started",
    )


def round_summaries(*, session: Session, codebook: Codebook) -> list[RoundSummary]:
    """Return every round's figures (countries by status, codings submitted, values decided), newest first.

    Two queries whatever the size, and no country row is built: the rounds, then the country-rounds
    grouped by round and derived status (the rule of `derive_status`, written in SQL) with their
    codings and decisions counted in grouped subqueries.
    """
    # One answer with a value, looked up (LIMIT 1, by the assignment_id index) only for codings not submitted.
    any_answer = (
        select(Answer.id)
        .where(Answer.assignment_id == Assignment.id, Answer.value.is_not(None), Answer.indicator_id.in_(codebook.indicator_ids))
        .limit(1)
        .correlate(Assignment)
        .scalar_subquery()
    )
    codings = (
        select(
            Assignment.country_round_id.label("country_round_id"),
            func.count(Assignment.id).label("codings"),
            func.sum(sa.case((Assignment.status == "submitted", 1), else_=0)).label("submitted"),
            func.count(sa.case((Assignment.status != "submitted", any_answer))).label("answering"),
        )
        .group_by(Assignment.country_round_id)
        .subquery()
    )
    decided = (
        select(Decision.country_round_id.label("country_round_id"), func.count().label("decided"))
        .group_by(Decision.country_round_id)
        .subquery()
    )
    submitted = func.coalesce(codings.c.submitted, 0)
    rows = (
        select(
            CountryRound.round_id.label("round_id"),
            _status_case(submitted, func.coalesce(codings.c.answering, 0)).label("status"),
            submitted.label("submitted"),
            func.coalesce(codings.c.codings, 0).label("codings"),
            func.coalesce(decided.c.decided, 0).label("decided"),
            sa.case((Country.synthetic, 1), else_=0).label("synthetic"),
        )
        .join(Country, Country.iso3 == CountryRound.country_iso3)
        .outerjoin(codings, codings.c.country_round_id == CountryRound.id)
        .outerjoin(decided, decided.c.country_round_id == CountryRound.id)
        .subquery()
    )
    by_status = select(
        rows.c.round_id,
        rows.c.status,
        func.count(),
        func.sum(rows.c.submitted),
        func.sum(rows.c.codings),
        func.sum(rows.c.decided),
        func.max(rows.c.synthetic),
    ).group_by(rows.c.round_id, rows.c.status)
    summaries = {r.id: RoundSummary(round=r, indicators=len(codebook.indicator_ids)) for r in list_rounds(session=session)}
    for round_id, status, countries, submitted_sum, codings_sum, decided_sum, synthetic in session.exec(by_status).all():
        summary = summaries.get(round_id)
        if summary is None:  # a round committed by someone else between the two queries
            continue
        summary.by_status[status] = int(countries)
        summary.countries += int(countries)
        summary.codings_submitted += int(submitted_sum or 0)
        summary.codings += int(codings_sum or 0)
        summary.decided += int(decided_sum or 0)
        summary.synthetic = summary.synthetic or bool(synthetic)
    return list(summaries.values())


def default_summary(summaries: list[RoundSummary]) -> RoundSummary | None:
    """Return the round the board shows first: the newest with unfinished work, else the newest (None: no round)."""
    return next((s for s in summaries if not s.finished), summaries[0] if summaries else None)
