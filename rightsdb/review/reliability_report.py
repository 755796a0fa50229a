"""The reliability report: agreement between the two independent SUBMITTED codings, from the database.

Only country-rounds whose two assignments are both submitted count, and only the coders' own Answer
rows are used (never reconciled values), so the figures measure the instrument, not the supervisor.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import Session, func, select

from rightsdb.codebook import Codebook
from rightsdb.codebook.rules import ANSWER_CODES
from rightsdb.models import Answer, Assignment, Country, CountryRound, Round, User
from rightsdb.publishing.formats.csv import csv_field
from rightsdb.review.agreement import MEASURES, Measures
from rightsdb.review.reliability import Thresholds, Unit, coder_pair_label, rate, reliability_table

CSV_COLUMNS = ("level", "round", "key", "label", *MEASURES, "rating", "notes")
STATISTICS = ("percent_agreement", "cohen_kappa", "krippendorff_alpha", "gwet_ac1", "prevalence")


@dataclass(frozen=True)
class ReportRow(Measures):
    """One line of the report: a group (round, category, indicator or coder pair), its measures and rating."""

    level: str
    round: str
    key: str
    label: str
    rating: str
    notes: str


def coder_label(user: User) -> str:
    """Name a coder unambiguously (two people may share a name)."""
    return f"{user.name} (#{user.id})"


def _both_submitted():
    """Select the ids of country-rounds whose two assignments are both submitted."""
    return (
        select(Assignment.country_round_id)
        .where(Assignment.status == "submitted")
        .group_by(Assignment.country_round_id)
        .having(func.count(Assignment.id) == 2)
    )


def includes_synthetic(*, session: Session, round_id: int | None = None) -> bool:
    """Tell whether any coding counted in the report is of a fictional (synthetic) country."""
    statement = (
        select(func.count(CountryRound.id))
        .join(Country, Country.iso3 == CountryRound.country_iso3)
        .where(CountryRound.id.in_(_both_submitted()), Country.synthetic.is_(True))
    )
    if round_id is not None:
        statement = statement.where(CountryRound.round_id == round_id)
    return bool(session.exec(statement).one())


def collect_units(*, session: Session, codebook: Codebook, round_id: int | None = None) -> list[Unit]:
    """Return one Unit per (country-round, indicator) whose two assignments are both submitted."""
    submitted = _both_submitted()
    statement = (
        select(CountryRound.id, CountryRound.country_iso3, Round.name, Assignment.slot, User, Answer.indicator_id, Answer.value)
        .join(Round, Round.id == CountryRound.round_id)
        .join(Assignment, Assignment.country_round_id == CountryRound.id)
        .join(User, User.id == Assignment.coder_id)
        .outerjoin(Answer, sa.and_(Answer.assignment_id == Assignment.id, Answer.indicator_id.in_(codebook.indicator_ids)))
        .where(CountryRound.id.in_(submitted))
    )
    if round_id is not None:
        statement = statement.where(CountryRound.round_id == round_id)
    coders: dict[int, dict[str, User]] = {}
    values: dict[tuple[int, str, str], str | None] = {}
    meta: dict[int, tuple[str, str]] = {}
    for cr_id, iso3, round_name, slot, user, indicator_id, value in session.exec(statement).all():
        coders.setdefault(cr_id, {})[slot] = user
        meta[cr_id] = (round_name, iso3)
        if indicator_id is not None:
            values[(cr_id, slot, indicator_id)] = value
    units = []
    for cr_id, (round_name, iso3) in sorted(meta.items(), key=lambda item: (item[1], item[0])):
        pair = coder_pair_label(coder_label(coders[cr_id]["A"]), coder_label(coders[cr_id]["B"]))
        for indicator in codebook.indicators:
            units.append(
                Unit(
                    round=round_name,
                    country=iso3,
                    category=indicator.category,
                    indicator=indicator.id,
                    coder_pair=pair,
                    value_a=values.get((cr_id, "A", indicator.id)),
                    value_b=values.get((cr_id, "B", indicator.id)),
                )
            )
    return units


def build_report(*, session: Session, codebook: Codebook, thresholds: Thresholds, round_id: int | None = None) -> list[ReportRow]:
    """Compute the report rows: per round, then per category, indicator and coder pair within each round."""
    units = collect_units(session=session, codebook=codebook, round_id=round_id)
    labels = {c.id: c.name for c in codebook.categories} | {i.id: i.short_label for i in codebook.indicators}
    rows = []
    for row in reliability_table(units, categories=ANSWER_CODES):
        key = str(row["key"])
        label = row["round"] if row["level"] == "round" else labels.get(key, key) if row["level"] in ("category", "indicator") else key
        rows.append(
            ReportRow(
                level=row["level"],
                round=row["round"],
                key=key,
                label=label,
                rating=rate(row["krippendorff_alpha"], thresholds),
                notes=row["notes"],
                **{m: row[m] for m in MEASURES},
            )
        )
    return rows


def report_csv(rows: list[ReportRow]) -> str:
    """Render the report as CSV: fixed column order, rows as sorted by the report, "\\n" line endings.

    Fields as the release's CSV files write them (`csv_field`): text such as a coder's name beginning
    with "=" is guarded against being run as a formula; the figures (a kappa of -0.2) never are.
    """
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(CSV_COLUMNS)
    for row in rows:
        texts = [csv_field(v) for v in (row.level, row.round, row.key, row.label)]
        figures = [csv_field(v, text=False) for v in (str(row.n), *(row.display(name) for name in STATISTICS))]
        tail = [csv_field(v) for v in (row.prevalent_value or "undefined", row.rating, row.notes)]
        buffer.write(",".join([*texts, *figures, *tail]) + "\n")
    return buffer.getvalue()
