"""What a release is built from: the final values and the citations behind them, read from the database.

`collect_final` reads every final country-round of one kind as plain rows (the files are made from
them); `snapshot_inputs` turns rows, collected or read back from a published snapshot, into the
ReleaseInputs the file writers take. Rows come straight from the driver (`driver_batches`): at world
scale SQLAlchemy's row processing was half the time of reading the citations.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field

import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.orm import aliased
from sqlmodel import Session, select

from rightsdb.codebook import Codebook
from rightsdb.codebook.rules import binary_value
from rightsdb.errors import InvalidInput
from rightsdb.models import Answer, Assignment, Citation, Country, CountryRound, Decision, DecisionCitation, LegalSource, Release, Round
from rightsdb.publishing import scoring


@dataclass(frozen=True)
class ReleaseInputs:
    """Everything the export layer needs to build a release's files (plain values and one Arrow table).

    `records` are the values (dicts, without their citations); `citations` has one row per standing
    citation: "record" (the index of its value in `records`), then CITATION_FIELDS, in record order and
    within a record in citation order. At world scale (~190,000 citations, ~100 MB of excerpts) columns
    cost a fraction of a dict per citation, and the files are made from columns anyway. `changes` are
    the rows of changes.csv since `previous_version` (publishing.changelog; None: the first release).
    """

    release: Release
    records: list[dict]
    countries: dict[str, dict]
    citations: pa.Table
    changes: list[tuple] = field(default_factory=list)
    previous_version: str | None = None


#: Rows per batch when streaming the large result sets (snapshot citations) from the database.
STREAM_ROWS = 10_000


#: The columns of a snapshot row (release_answers), as collect_final returns them.
SNAPSHOT_COLUMNS = (
    "country_iso3",
    "round_name",
    "reference_date",
    "indicator_id",
    "category_id",
    "answer",
    "groups",
    "binary",
    "score",
    "coder_a_answer",
    "coder_b_answer",
    "coder_a_notes",
    "coder_b_notes",
    "outcome",
    "reason",
    "decision_id",
)


#: The fields of a frozen citation: release_citations, the rows' "citations" tuples and the last columns of citations.csv.
#: "cited_by" is the slot ("A", "B") of the coder who gave it, "A;B" when both gave the same citation.
CITATION_FIELDS = ("instrument_type", "title", "pinpoint", "url", "date_in_force", "language", "excerpt", "translation", "cited_by")


def cited_by(slots) -> str:
    """Return a citation's "cited_by": the coders' slots that gave it, in order, joined by ";"."""
    return ";".join(sorted(set(slots)))


def collect_final(*, session: Session, codebook: Codebook, synthetic: bool, scheme_id: str | None = None) -> list[dict]:
    """Return the snapshot rows (plain dicts of SNAPSHOT_COLUMNS plus "citations") of every final country-round of one kind.

    The "citations" (tuples of CITATION_FIELDS' values) are what the files are built from; the
    snapshot's own copy is made by `freeze_citations` inside the database, from the same rows.
    """
    scheme = codebook.scheme(scheme_id)
    # Plain columns, never ORM entities: at world scale building objects costs far more than the queries.
    country_rounds = session.exec(
        select(CountryRound.id, CountryRound.country_iso3, Round.name, Round.reference_date)
        .join(Round, Round.id == CountryRound.round_id)
        .join(Country, Country.iso3 == CountryRound.country_iso3)
        .where(CountryRound.finalized_at.is_not(None), Country.synthetic == synthetic)  # type: ignore[union-attr]
    ).all()
    if not country_rounds:
        return []
    by_id = {cr_id: (iso3, name, reference_date) for cr_id, iso3, name, reference_date in country_rounds}
    ids = list(by_id)
    # Core rows (no ORM row processing), and each coder's answer joined in SQL: one row per decision.
    connection = session.connection()
    slot_a, slot_b = aliased(Assignment), aliased(Assignment)
    answer_a, answer_b = aliased(Answer), aliased(Answer)
    decisions = connection.execute(
        select(
            Decision.id,
            Decision.country_round_id,
            Decision.indicator_id,
            Decision.value,
            sa.cast(Decision.groups, sa.Text),
            Decision.outcome,
            Decision.reason,
            answer_a.value,
            answer_b.value,
            answer_a.notes,
            answer_b.notes,
            answer_a.id,
        )
        .outerjoin(slot_a, sa.and_(slot_a.country_round_id == Decision.country_round_id, slot_a.slot == "A"))
        .outerjoin(answer_a, sa.and_(answer_a.assignment_id == slot_a.id, answer_a.indicator_id == Decision.indicator_id))
        .outerjoin(slot_b, sa.and_(slot_b.country_round_id == Decision.country_round_id, slot_b.slot == "B"))
        .outerjoin(answer_b, sa.and_(answer_b.assignment_id == slot_b.id, answer_b.indicator_id == Decision.indicator_id))
        .where(Decision.country_round_id.in_(ids))  # type: ignore[attr-defined]
    ).all()
    # A country has a few dozen sources and each is cited many times: read each source once.
    sources = {
        source_id: (instrument_type, title, url, date_in_force.isoformat() if date_in_force else "", language)
        for source_id, instrument_type, title, url, date_in_force, language in connection.execute(
            select(
                LegalSource.id,
                LegalSource.instrument_type,
                LegalSource.title,
                LegalSource.url,
                LegalSource.date_in_force,
                LegalSource.language,
            ).where(
                LegalSource.id.in_(  # type: ignore[union-attr]
                    select(Citation.source_id)
                    .join(DecisionCitation, DecisionCitation.citation_id == Citation.id)
                    .join(Decision, Decision.id == DecisionCitation.decision_id)
                    .where(Decision.country_round_id.in_(ids))  # type: ignore[attr-defined]
                )
            )
        )
    }
    citations, merges = _decision_citations(connection, ids, sources, {row[0]: row[-1] for row in decisions})
    indicators = codebook.indicators_by_id
    # The groups come as JSON text, cast in SQL (psycopg would parse every one): parsed once per distinct text.
    group_lists: dict = {}
    values: dict[str | None, tuple[int | None, float | None]] = {}
    rows = []
    for decision_id, cr_id, indicator_id, value, groups, outcome, reason, coder_a, coder_b, notes_a, notes_b, _a_id in decisions:
        indicator = indicators.get(indicator_id)
        if indicator is None:
            raise InvalidInput(f"Indicator {indicator_id} of a final country-round is not in codebook {codebook.version}.")
        iso3, round_name, reference_date = by_id[cr_id]
        if value not in values:
            values[value] = (binary_value(value), scoring.indicator_score(value, scheme))
        binary, score = values[value]
        rows.append(
            {
                "country_iso3": iso3,
                "round_name": round_name,
                "reference_date": reference_date,
                "indicator_id": indicator_id,
                "category_id": indicator.category,
                "answer": value,
                "groups": group_list(groups, group_lists),
                "binary": binary,
                "score": score,
                "coder_a_answer": coder_a,
                "coder_b_answer": coder_b,
                "coder_a_notes": notes_a or "",
                "coder_b_notes": notes_b or "",
                "outcome": outcome,
                "reason": reason,
                "decision_id": decision_id,
                "citations": citations.get(decision_id, []),
            }
        )
        if decision_id in merges:
            rows[-1]["merged"] = merges[decision_id]
    order = {ident: n for n, ident in enumerate(codebook.indicator_ids)}
    rows.sort(key=lambda r: (r["country_iso3"], r["round_name"], order[r["indicator_id"]]))
    return rows


def _decision_citations(
    connection: sa.Connection, ids: list[int], sources: dict[int, tuple], answers_a: dict[int, int | None]
) -> tuple[dict[int, list[tuple]], dict[int, dict[int, str | None]]]:
    """Return the citations standing behind each decision of the country-rounds `ids` (tuples of CITATION_FIELDS), and the merges.

    Citations of one decision with the same content (coding.citations.CITATION_CONTENT: an agreed value
    links both coders' citations, and both often type the same provision) are one, "cited_by" naming
    both slots; it stands where the first of them does (position, then id). A citation's slot is A when
    its answer is the decision's coder A answer (`answers_a`: decision id -> that answer's id), else B.
    The merges ({decision id: {citation id: cited_by of the one kept, None for each one merged into
    it}}, only where a merge happened) tell freeze_citations which rows to keep and how to mark them,
    so that it gives the same list without comparing excerpts in SQL.
    """
    statement = (
        select(
            DecisionCitation.decision_id,
            Citation.id,
            Citation.answer_id,
            Citation.source_id,
            Citation.pinpoint,
            Citation.url,
            Citation.excerpt,
            Citation.translation,
        )
        .join(Citation, Citation.id == DecisionCitation.citation_id)
        .join(Decision, Decision.id == DecisionCitation.decision_id)
        .where(Decision.country_round_id.in_(ids))  # type: ignore[attr-defined]
        # The order and the link rule of freeze_citations, which must give the same list.
        .order_by(DecisionCitation.decision_id, Citation.position, Citation.id)
    )
    citations: dict[int, list[tuple]] = {}
    merges: dict[int, dict[int, str | None]] = {}
    # One pass in decision order, one dict lookup per citation (this loop is a large share of a
    # world-scale build): `seen` holds the current decision's contents only.
    current, standing, answer_a, seen = None, [], None, {}
    for batch in driver_batches(connection, statement):
        for decision_id, citation_id, answer_id, source_id, pinpoint, url, excerpt, translation in batch:
            if decision_id != current:
                current, answer_a, seen = decision_id, answers_a.get(decision_id), {}
                standing = citations[decision_id] = []
            slot = "A" if answer_id == answer_a else "B"
            content = (source_id, pinpoint, url, excerpt, translation)
            first = seen.get(content)
            if first is None:
                seen[content] = (len(standing), citation_id)
                instrument_type, title, source_url, date_in_force, language = sources[source_id]
                standing.append((instrument_type, title, pinpoint, url or source_url, date_in_force, language, excerpt, translation, slot))
                continue
            index, kept = first
            decision_merges = merges.setdefault(decision_id, {})
            decision_merges[citation_id] = None
            row = standing[index]
            by = cited_by([*row[-1].split(";"), slot])
            standing[index] = (*row[:-1], by)
            decision_merges[kept] = by
    return citations, merges


def group_list(raw: str, cache: dict) -> list[str]:
    """Return the sorted migrant groups of a decision from its JSON text, parsing each distinct text once."""
    if raw not in cache:
        cache[raw] = sorted(json.loads(raw) or [])
    return list(cache[raw])


def driver_batches(connection: sa.Connection, statement) -> Iterator[list[tuple]]:
    """Yield the rows of `statement` as the driver's own tuples, a batch at a time, in the connection's transaction.

    No SQLAlchemy row or type processing (at world scale it was half the time of reading ~190,000
    citations): values come as the driver gives them. On PostgreSQL a server-side cursor streams them,
    so the ~100 MB of excerpts never sit in the driver's buffer at once. `statement` may only bind
    whole numbers (it is compiled with its values inline; anything else raises TypeError).
    """
    for value in statement.compile().params.values():
        if not all(isinstance(v, int) for v in (value if isinstance(value, (list, tuple)) else [value])):
            # Inline text would be rendered for the driver's parameter style ("%" doubled for psycopg).
            raise TypeError(f"driver_batches binds whole numbers only, not {value!r}")
    sql = str(statement.compile(dialect=connection.dialect, compile_kwargs={"literal_binds": True}))
    driver = connection.connection.driver_connection
    postgresql = connection.dialect.name == "postgresql"
    cursor = driver.cursor(name="rightsdb_snapshot") if postgresql else driver.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(sql)
        while batch := cursor.fetchmany(STREAM_ROWS):
            yield batch
    finally:
        cursor.close()


def snapshot_inputs(
    *, session: Session, release: Release, rows: list[dict], changes: list[tuple] | None = None, previous_version: str | None = None
) -> ReleaseInputs:
    """Turn snapshot rows into plain records plus the facts about their countries (one query), with the release's changes."""
    isos = sorted({r["country_iso3"] for r in rows})
    countries = {
        iso3: {"iso3": iso3, "iso2": iso2, "numeric": numeric or "", "name": name, "region": region, "synthetic": synthetic}
        for iso3, iso2, numeric, name, region, synthetic in (
            session.exec(
                select(Country.iso3, Country.iso2, Country.numeric, Country.name, Country.region, Country.synthetic).where(
                    Country.iso3.in_(isos)
                )
            ).all()  # type: ignore[attr-defined]
            if isos
            else []
        )
    }
    dates = {day: day.isoformat() for day in {r["reference_date"] for r in rows}}
    records = [
        {
            "iso3": r["country_iso3"],
            "round": r["round_name"],
            "reference_date": dates[r["reference_date"]],
            "category": r["category_id"],
            "indicator": r["indicator_id"],
            "answer": r["answer"],
            "groups": list(r["groups"]),
            "binary": r["binary"],
            "score": r["score"],
            "coder_a_answer": r["coder_a_answer"],
            "coder_b_answer": r["coder_b_answer"],
            "coder_a_notes": r["coder_a_notes"],
            "coder_b_notes": r["coder_b_notes"],
            "outcome": r["outcome"],
            "reason": r["reason"],
        }
        for r in rows
    ]
    return ReleaseInputs(
        release=release,
        records=records,
        countries=countries,
        citations=citation_columns(rows),
        changes=list(changes or []),
        previous_version=previous_version,
    )


def citation_columns(rows: list[dict]) -> pa.Table:
    """Return the citations of snapshot rows as one table: "record" (the row's index), then CITATION_FIELDS."""
    owners: list[int] = []
    flat: list[tuple] = []
    for n, row in enumerate(rows):
        if row["citations"]:
            owners.extend([n] * len(row["citations"]))
            flat.extend(row["citations"])
    values = list(zip(*flat)) if flat else [()] * len(CITATION_FIELDS)
    return pa.table(
        {
            "record": pa.array(owners, type=pa.int32()),
            **{name: pa.array(column, type=pa.string()) for name, column in zip(CITATION_FIELDS, values)},
        }
    )
