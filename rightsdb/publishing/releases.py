"""Releases: snapshot the final data into an immutable Release, with its changelog and files.

A release holds every final country-round (CountryRound.finalized_at set) of one kind only: real
countries, or (synthetic=True) fictional demonstration countries, never both. Publication writes one
ReleaseAnswer row per (country, round, indicator) and one ReleaseCitation row per citation standing
behind it (copied by the database itself); files are built from those rows alone, so a later
correction of a Decision changes nothing in a published release and only shows in the next one's
changelog. Files are written to a temporary sibling folder and renamed into place at the end, so a
failed build leaves no partial release (and the caller, which has not committed, leaves no row).
"""

from __future__ import annotations

import functools
import gc
import hashlib
import json
import os
import re
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.orm import aliased
from sqlmodel import Session, select

from rightsdb.publishing import scoring
from rightsdb.accounts.audit import record_event
from rightsdb.codebook import Codebook
from rightsdb.db import SQLITE_BUSY_MS
from rightsdb.gc_policy import with_collector_paused
from rightsdb.errors import Conflict, InvalidInput, NotFound
from rightsdb.models import Answer, Assignment, Citation, Country, CountryRound, Decision, DecisionCitation, LegalSource, Release, ReleaseAnswer, ReleaseCitation, Round

VERSION_PATTERN = re.compile(r"^\d+\.\d+\.\d+(-[0-9A-Za-z.]+)?$")
SYNTHETIC_TEXT = "synthetic demonstration data"


@dataclass(frozen=True)
class ReleaseInputs:
    """Everything the export layer needs to build a release's files (plain values and one Arrow table).

    `records` are the values (dicts, without their citations); `citations` has one row per standing
    citation: "record" (the index of its value in `records`), then CITATION_FIELDS, in record order and
    within a record in citation order. At world scale (~190,000 citations, ~100 MB of excerpts) columns
    cost a fraction of a dict per citation, and the files are made from columns anyway.
    """

    release: Release
    records: list[dict]
    countries: dict[str, dict]
    citations: pa.Table


#: Rows per batch when streaming the large result sets (snapshot citations) from the database.
STREAM_ROWS = 10_000
#: The columns of a snapshot row (release_answers), as collect_final returns them.
SNAPSHOT_COLUMNS = (
    "country_iso3", "round_name", "reference_date", "indicator_id", "category_id", "answer", "groups", "binary",
    "score", "coder_a_answer", "coder_b_answer", "outcome", "reason", "decision_id",
)
#: The fields of a frozen citation: release_citations, the rows' "citations" tuples and the last columns of citations.csv.
CITATION_FIELDS = ("instrument_type", "title", "pinpoint", "url", "date_in_force", "language", "excerpt", "translation")


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
        select(Decision.id, Decision.country_round_id, Decision.indicator_id, Decision.value,
               sa.cast(Decision.groups, sa.Text), Decision.outcome, Decision.reason, answer_a.value, answer_b.value)
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
            select(LegalSource.id, LegalSource.instrument_type, LegalSource.title, LegalSource.url, LegalSource.date_in_force, LegalSource.language)
            .where(LegalSource.id.in_(  # type: ignore[union-attr]
                select(Citation.source_id).join(DecisionCitation, DecisionCitation.citation_id == Citation.id)
                .join(Decision, Decision.id == DecisionCitation.decision_id).where(Decision.country_round_id.in_(ids))  # type: ignore[attr-defined]
            ))
        )
    }
    citations: dict[int, list[tuple]] = defaultdict(list)
    statement = (
        select(DecisionCitation.decision_id, Citation.source_id, Citation.pinpoint, Citation.url, Citation.excerpt, Citation.translation)
        .join(Citation, Citation.id == DecisionCitation.citation_id)
        .join(Decision, Decision.id == DecisionCitation.decision_id)
        .where(Decision.country_round_id.in_(ids))  # type: ignore[attr-defined]
        # The order and the link rule of freeze_citations, which must give the same list.
        .order_by(DecisionCitation.decision_id, Citation.position, Citation.id)
    )
    for batch in _driver_batches(connection, statement):
        for decision_id, source_id, pinpoint, url, excerpt, translation in batch:
            instrument_type, title, source_url, date_in_force, language = sources[source_id]
            citations[decision_id].append((instrument_type, title, pinpoint, url or source_url, date_in_force, language, excerpt, translation))
    indicators = codebook.indicators_by_id
    # The groups come as JSON text, cast in SQL (psycopg would parse every one): parsed once per distinct text.
    group_lists: dict = {}
    values: dict[str | None, tuple[int | None, float | None]] = {}
    rows = []
    for decision_id, cr_id, indicator_id, value, groups, outcome, reason, coder_a, coder_b in decisions:
        indicator = indicators.get(indicator_id)
        if indicator is None:
            raise InvalidInput(f"Indicator {indicator_id} of a final country-round is not in codebook {codebook.version}.")
        iso3, round_name, reference_date = by_id[cr_id]
        if value not in values:
            values[value] = (scoring.binary_value(value), scoring.indicator_score(value, scheme))
        binary, score = values[value]
        rows.append(
            {
                "country_iso3": iso3,
                "round_name": round_name,
                "reference_date": reference_date,
                "indicator_id": indicator_id,
                "category_id": indicator.category,
                "answer": value,
                "groups": _group_list(groups, group_lists),
                "binary": binary,
                "score": score,
                "coder_a_answer": coder_a,
                "coder_b_answer": coder_b,
                "outcome": outcome,
                "reason": reason,
                "decision_id": decision_id,
                "citations": citations.get(decision_id, []),
            }
        )
    order = {ident: n for n, ident in enumerate(codebook.indicator_ids)}
    rows.sort(key=lambda r: (r["country_iso3"], r["round_name"], order[r["indicator_id"]]))
    return rows


def freeze_citations(connection: sa.Connection, *, release_id: int) -> int:
    """Copy the citations standing behind every value of release `release_id` into release_citations; return the count.

    One INSERT ... SELECT, run by the database itself: the ~100 MB of excerpts of a world-scale release
    never pass through Python. Each value's citations keep the order they were entered in (position,
    then id), numbered from 1; a citation without its own link takes its source's.
    """
    answers, links = ReleaseAnswer.__table__, DecisionCitation.__table__  # type: ignore[attr-defined]
    cited, sources = Citation.__table__, LegalSource.__table__  # type: ignore[attr-defined]
    # Numbered on narrow rows first, then joined to the text: sorting the wide rows (excerpts and all)
    # for the window spilled to disk on PostgreSQL and took 4.4 s at world scale.
    numbered = (
        select(answers.c.id.label("answer_id"), cited.c.id.label("citation_id"),
               sa.func.row_number().over(partition_by=answers.c.id, order_by=(cited.c.position, cited.c.id)).label("position"))
        .join(links, links.c.decision_id == answers.c.decision_id)
        .join(cited, cited.c.id == links.c.citation_id)
        .where(answers.c.release_id == release_id)
        .subquery("numbered")
    )
    rows = (
        select(sa.literal(release_id, sa.Integer), numbered.c.answer_id, numbered.c.position, sources.c.instrument_type, sources.c.title,
               cited.c.pinpoint, sa.func.coalesce(sa.func.nullif(cited.c.url, ""), sources.c.url), sources.c.date_in_force,
               sources.c.language, cited.c.excerpt, cited.c.translation)
        .join(cited, cited.c.id == numbered.c.citation_id)
        .join(sources, sources.c.id == cited.c.source_id)
    )
    target = ReleaseCitation.__table__  # type: ignore[attr-defined]
    names = ["release_id", "release_answer_id", "position", *CITATION_FIELDS]
    return connection.execute(sa.insert(target).from_select(names, rows).execution_options(preserve_rowcount=True)).rowcount


def _group_list(raw: str, cache: dict) -> list[str]:
    """Return the sorted migrant groups of a decision from its JSON text, parsing each distinct text once."""
    if raw not in cache:
        cache[raw] = sorted(json.loads(raw) or [])
    return list(cache[raw])


def describe_changes(previous: list[dict] | None, current: list[dict], *, previous_version: str | None) -> str:
    """Write the changelog: country-rounds added or removed and values changed since the previous release."""
    if previous is None:
        return "First release."

    def keyed(rows):
        return {(r["country_iso3"], r["round_name"], r["indicator_id"]): r for r in rows}

    old, new = keyed(previous), keyed(current)
    old_crs = {(k[0], k[1]) for k in old}
    new_crs = {(k[0], k[1]) for k in new}
    added = sorted(new_crs - old_crs)
    removed = sorted(old_crs - new_crs)
    changed = [
        f"  - {k[0]} {k[1]} {k[2]}: {old[k]['answer']}{_groups(old[k])} -> {new[k]['answer']}{_groups(new[k])}"
        for k in sorted(set(old) & set(new))
        if (old[k]["answer"], list(old[k]["groups"])) != (new[k]["answer"], list(new[k]["groups"]))
    ]
    lines = [f"Changes since {previous_version}:"]
    lines.append("- Country-rounds added: " + (", ".join(f"{i} {r}" for i, r in added) if added else "none"))
    lines.append("- Country-rounds removed: " + (", ".join(f"{i} {r}" for i, r in removed) if removed else "none"))
    lines.append(f"- Values changed: {len(changed) or 'none'}")
    lines.extend(changed)
    return "\n".join(lines)


def _groups(row: dict) -> str:
    return f" ({';'.join(row['groups'])})" if row["groups"] else ""


def list_releases(*, session: Session) -> list[Release]:
    """Return every release, newest first."""
    return list(session.exec(select(Release).order_by(Release.published_at.desc(), Release.id.desc())).all())  # type: ignore[attr-defined]


def default_release(releases: list[Release]) -> Release | None:
    """Pick the latest real release, or the latest synthetic one when no real release exists."""
    real = [r for r in releases if not r.synthetic]
    return (real or releases or [None])[0]


def get_release(*, session: Session, version: str) -> Release:
    """Return the release with this version, or raise NotFound."""
    release = session.exec(select(Release).where(Release.version == version)).first()
    if release is None:
        raise NotFound(f"There is no release {version}.")
    return release


def snapshot_rows(*, session: Session, release: Release) -> list[dict]:
    """Return the snapshot rows of a release as collect_final does (their "citations" as tuples), in id order (two queries)."""
    # The groups as JSON text, parsed once per distinct text (nearly all are "[]"), and Core rows on the
    # session's connection: the ORM's row processing cost ~0.3 s at world scale.
    connection = session.connection()
    columns = [sa.cast(ReleaseAnswer.groups, sa.Text) if name == "groups" else getattr(ReleaseAnswer, name) for name in SNAPSHOT_COLUMNS]
    result = connection.execute(
        select(ReleaseAnswer.id, *columns).where(ReleaseAnswer.release_id == release.id).order_by(ReleaseAnswer.id)  # type: ignore[arg-type]
    )
    group_lists: dict = {}
    rows = []
    by_id: dict[int, list[tuple]] = {}
    for answer_id, *values in result:
        row = dict(zip(SNAPSHOT_COLUMNS, values))
        row["groups"] = _group_list(row["groups"], group_lists)
        row["citations"] = by_id[answer_id] = []
        rows.append(row)
    statement = (
        select(ReleaseCitation.release_answer_id, *(getattr(ReleaseCitation, name) for name in CITATION_FIELDS))  # type: ignore[arg-type]
        .where(ReleaseCitation.release_id == release.id)
        .order_by(ReleaseCitation.release_answer_id, ReleaseCitation.position)
    )
    days: dict = {None: ""}
    for batch in _driver_batches(connection, statement):
        for answer_id, instrument_type, title, pinpoint, url, day, language, excerpt, translation in batch:
            if day not in days:  # SQLite gives the stored ISO text, PostgreSQL a date
                days[day] = day if isinstance(day, str) else day.isoformat()
            owner = by_id.get(answer_id)
            if owner is not None:  # a stray row (its value lost) belongs to no value: verify_release then finds the files differ
                owner.append((instrument_type, title, pinpoint, url, days[day], language, excerpt, translation))
    return rows


def _driver_batches(connection: sa.Connection, statement) -> Iterator[list[tuple]]:
    """Yield the rows of `statement` as the driver's own tuples, a batch at a time, in the connection's transaction.

    No SQLAlchemy row or type processing (at world scale it was half the time of reading ~190,000
    citations): values come as the driver gives them. On PostgreSQL a server-side cursor streams them,
    so the ~100 MB of excerpts never sit in the driver's buffer at once. `statement` may only bind
    whole numbers (it is compiled with its values inline; anything else raises TypeError).
    """
    for value in statement.compile().params.values():
        if not all(isinstance(v, int) for v in (value if isinstance(value, (list, tuple)) else [value])):
            # Inline text would be rendered for the driver's parameter style ("%" doubled for psycopg).
            raise TypeError(f"_driver_batches binds whole numbers only, not {value!r}")
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


def _ranks(values) -> dict:
    """Number distinct values in the order they first appear."""
    return {value: n for n, value in enumerate(dict.fromkeys(values))}


def freeze_answers(connection: sa.Connection, *, release_id: int, rows: list[dict], synthetic: bool, codebook: Codebook) -> int:
    """Copy the final values behind collect_final's `rows` into release_answers; return the count.

    One INSERT ... SELECT of the same decisions (every final country-round of the kind), run by the
    database itself. What Python derived (category, binary value, score) comes as CASE expressions
    made from the rows, and the rows' order (country, round, codebook order) is kept in the ids, the
    order the snapshot's readers see.
    """
    if not rows:
        return 0

    def mapped(column, pairs: dict, kind):
        whens = {key: sa.literal(value, kind) for key, value in pairs.items() if key is not None and value is not None}
        return sa.case(whens, value=column, else_=sa.null()) if whens else sa.null()

    slot_a, slot_b = aliased(Assignment), aliased(Assignment)
    answer_a, answer_b = aliased(Answer), aliased(Answer)
    values = (
        sa.literal(release_id, sa.Integer), CountryRound.country_iso3, Round.name, Round.reference_date, Decision.indicator_id,
        mapped(Decision.indicator_id, {r["indicator_id"]: r["category_id"] for r in rows}, sa.String),
        Decision.value, Decision.groups,
        mapped(Decision.value, {r["answer"]: r["binary"] for r in rows}, sa.Integer),
        mapped(Decision.value, {r["answer"]: r["score"] for r in rows}, sa.Float),
        answer_a.value, answer_b.value, Decision.outcome, Decision.reason, Decision.id,
    )
    order = (
        mapped(CountryRound.country_iso3, _ranks(r["country_iso3"] for r in rows), sa.Integer),
        mapped(Round.name, _ranks(sorted({r["round_name"] for r in rows})), sa.Integer),
        mapped(Decision.indicator_id, _ranks(codebook.indicator_ids), sa.Integer),
    )
    decisions = (
        select(*values)
        .join(CountryRound, CountryRound.id == Decision.country_round_id)
        .join(Round, Round.id == CountryRound.round_id)
        .join(Country, Country.iso3 == CountryRound.country_iso3)
        .outerjoin(slot_a, sa.and_(slot_a.country_round_id == Decision.country_round_id, slot_a.slot == "A"))
        .outerjoin(answer_a, sa.and_(answer_a.assignment_id == slot_a.id, answer_a.indicator_id == Decision.indicator_id))
        .outerjoin(slot_b, sa.and_(slot_b.country_round_id == Decision.country_round_id, slot_b.slot == "B"))
        .outerjoin(answer_b, sa.and_(answer_b.assignment_id == slot_b.id, answer_b.indicator_id == Decision.indicator_id))
        # The rule of collect_final.
        .where(CountryRound.finalized_at.is_not(None), Country.synthetic == synthetic)  # type: ignore[union-attr]
        .order_by(*order)
    )
    names = ["release_id", *SNAPSHOT_COLUMNS]
    # preserve_rowcount: SQLAlchemy otherwise reports a count only for UPDATE and DELETE.
    statement = sa.insert(ReleaseAnswer.__table__).from_select(names, decisions).execution_options(preserve_rowcount=True)  # type: ignore[attr-defined]
    return connection.execute(statement).rowcount


def load_snapshot(connection: sa.Connection, *, release_id: int, rows: list[dict], synthetic: bool, codebook: Codebook) -> tuple[int, int]:
    """Store the snapshot of collect_final's `rows` as release `release_id`'s; return the counts of values and citations.

    The database copies both (`freeze_answers`, `freeze_citations`): no value passes through Python.
    Raises if the database did not freeze exactly the values and citations the rows hold.
    """
    answers = freeze_answers(connection, release_id=release_id, rows=rows, synthetic=synthetic, codebook=codebook)
    citations = freeze_citations(connection, release_id=release_id)
    expected = (len(rows), sum(len(row["citations"]) for row in rows))
    if (answers, citations) != expected:
        raise RuntimeError(f"The snapshot froze {answers} values and {citations} citations where the files hold {expected[0]} and {expected[1]}.")
    return answers, citations


def snapshot_answers(*, session: Session, release: Release) -> list[dict]:
    """Return what the changelog compares of a release's snapshot rows: the keys, the answer and the groups.

    The groups sorted, as collect_final gives them (the snapshot keeps the decision's own order).
    """
    columns = ("country_iso3", "round_name", "indicator_id", "answer", "groups")
    result = session.connection().execute(
        select(*(sa.cast(ReleaseAnswer.groups, sa.Text) if name == "groups" else getattr(ReleaseAnswer, name) for name in columns))  # type: ignore[arg-type]
        .where(ReleaseAnswer.release_id == release.id)
    )
    group_lists: dict = {}
    return [dict(zip(columns, (*row[:-1], _group_list(row[-1], group_lists)))) for row in result]


def snapshot_inputs(*, session: Session, release: Release, rows: list[dict]) -> ReleaseInputs:
    """Turn snapshot rows into plain records plus the facts about their countries (one query)."""
    isos = sorted({r["country_iso3"] for r in rows})
    countries = {
        iso3: {"iso3": iso3, "iso2": iso2, "numeric": numeric or "", "name": name, "region": region, "synthetic": synthetic}
        for iso3, iso2, numeric, name, region, synthetic in (
            session.exec(select(Country.iso3, Country.iso2, Country.numeric, Country.name, Country.region, Country.synthetic).where(Country.iso3.in_(isos))).all()  # type: ignore[attr-defined]
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
            "outcome": r["outcome"],
            "reason": r["reason"],
        }
        for r in rows
    ]
    return ReleaseInputs(release=release, records=records, countries=countries, citations=citation_columns(rows))


def citation_columns(rows: list[dict]) -> pa.Table:
    """Return the citations of snapshot rows as one table: "record" (the row's index), then CITATION_FIELDS."""
    owners: list[int] = []
    flat: list[tuple] = []
    for n, row in enumerate(rows):
        if row["citations"]:
            owners.extend([n] * len(row["citations"]))
            flat.extend(row["citations"])
    values = list(zip(*flat)) if flat else [()] * len(CITATION_FIELDS)
    return pa.table({
        "record": pa.array(owners, type=pa.int32()),
        **{name: pa.array(column, type=pa.string()) for name, column in zip(CITATION_FIELDS, values)},
    })


def release_inputs(*, session: Session, release: Release) -> ReleaseInputs:
    """Load a release's snapshot as plain records plus the facts about its countries (two queries)."""
    return snapshot_inputs(session=session, release=release, rows=snapshot_rows(session=session, release=release))


def _pause_for_crash_test(temporary: Path) -> None:
    """Test hook: with RIGHTSDB_RELEASE_PAUSE=1, wait (to be killed) once the files are in the temporary folder.

    tests/test_crash_release.py kills the build here, mid-transaction and before the rename, to show
    that a crash leaves no release row, no snapshot rows and no release folder behind.
    """
    if os.environ.get("RIGHTSDB_RELEASE_PAUSE") == "1":
        print(f"paused with the files in {temporary} (RIGHTSDB_RELEASE_PAUSE)", file=sys.stderr, flush=True)
        time.sleep(3600)


def _write_atomically(folder: Path, inputs: ReleaseInputs, codebook: Codebook, progress: Callable[[str], None]) -> None:
    """Build the files in a temporary sibling folder and rename it into place at the end."""
    from rightsdb.publishing.files import write_release_files

    folder.parent.mkdir(parents=True, exist_ok=True)
    temporary = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".partial", dir=folder.parent))
    try:
        write_release_files(temporary, inputs=inputs, codebook=codebook, progress=progress)
        _pause_for_crash_test(temporary)
        temporary.rename(folder)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise


#: How verify_release's report of a damaged snapshot (not a file) starts.
SNAPSHOT_PROBLEM = "snapshot: "
#: PostgreSQL's memory for each sort of a publication (see `hold_sources`).
PUBLICATION_WORK_MEM = "256MB"
#: What a release reads. While one is being published nobody may change them (see `hold_sources`).
SOURCE_TABLES = (Country, Round, CountryRound, Assignment, Answer, Decision, DecisionCitation, Citation, LegalSource)
#: How long a publication waits for saves in progress to finish before it gives up with a Conflict.
HOLD_WAIT_SECONDS = 5.0
HOLD_RETRY_SECONDS = 0.1
BUSY = "Coders or an import are saving right now; try publishing again in a moment."
#: PostgreSQL's SQLSTATE for a lock that NOWAIT could not take.
LOCK_NOT_AVAILABLE = "55P03"


def hold_sources(session: Session) -> None:
    """Keep what a release reads from changing until the publication commits or rolls back.

    The files are written from the rows collect_final reads while the database copies the same
    citations into the snapshot (freeze_citations): both must see one state of the data.

    - PostgreSQL: the source tables are locked in SHARE mode (others read on; a save waits until the
      publication ends). The locks are taken with NOWAIT, all or none, and tried again for up to
      HOLD_WAIT_SECONDS while saves are in progress: waiting for a table while holding the others
      could deadlock with a save that writes them in another order.
    - SQLite: the write lock is taken now (BEGIN IMMEDIATE), so every later read is in the same
      transaction; it waits up to HOLD_WAIT_SECONDS for a writer to finish.

    Raises Conflict when the data does not come free in time (a long import, say): nothing is written.
    """
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        quote = connection.dialect.identifier_preparer.quote
        names = ", ".join(quote(model.__tablename__) for model in SOURCE_TABLES)  # type: ignore[attr-defined]
        deadline = time.monotonic() + HOLD_WAIT_SECONDS
        while True:
            attempt = connection.begin_nested()  # a failed LOCK only undoes this savepoint and its locks
            try:
                connection.exec_driver_sql(f"LOCK TABLE {names} IN SHARE MODE NOWAIT")
            except sa.exc.OperationalError as exc:
                attempt.rollback()
                if getattr(exc.orig, "sqlstate", None) != LOCK_NOT_AVAILABLE:
                    raise
                if time.monotonic() >= deadline:
                    raise Conflict(BUSY) from None
                time.sleep(HOLD_RETRY_SECONDS)
                continue
            attempt.commit()
            break
        # For this transaction only: the citations (~100 MB at world scale) are sorted in memory, not
        # in temporary files (the default 4 MB made each sort an external merge on disk).
        connection.exec_driver_sql(f"SET LOCAL work_mem = '{PUBLICATION_WORK_MEM}'")
        return
    driver = connection.connection.driver_connection
    if driver.in_transaction:  # type: ignore[union-attr]
        return  # the sqlite3 module opens a transaction only at the first write: this one holds the lock
    connection.exec_driver_sql(f"PRAGMA busy_timeout = {int(HOLD_WAIT_SECONDS * 1000)}")
    try:
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    except sa.exc.OperationalError as exc:
        if "locked" in str(exc.orig):
            raise Conflict(BUSY) from None
        raise
    finally:
        connection.exec_driver_sql(f"PRAGMA busy_timeout = {SQLITE_BUSY_MS}")


@with_collector_paused
def publish_release(
    *,
    session: Session,
    codebook: Codebook,
    exports_dir: str | Path,
    version: str,
    title: str = "",
    notes: str = "",
    release_date: date,
    synthetic: bool = False,
    user_id: int | None = None,
    scheme_id: str | None = None,
    aggregation: str | None = None,
    progress: Callable[[str], None] = lambda _m: None,
) -> Release:
    """Snapshot every final country-round of one kind into a new release and write its files.

    The caller commits; if it does not (an error), it should call `discard_release_files`. `progress`
    receives one line per file written ("[3/17] data/scores.csv").
    """
    version = version.strip()
    if not VERSION_PATTERN.match(version):
        raise InvalidInput(f"{version!r} is not a semantic version such as 1.0.0.")
    scheme = codebook.scheme(scheme_id) if (scheme_id is None or scheme_id in codebook.schemes_by_id) else None
    if scheme is None:
        raise InvalidInput(f"Unknown scoring scheme {scheme_id!r}.")
    aggregation = aggregation or codebook.scoring.default_aggregation
    if aggregation not in scoring.AGGREGATIONS:
        raise InvalidInput(f"Unknown aggregation {aggregation!r}.")
    exists = f"Release {version} already exists; releases are immutable, publish a new version."
    hold_sources(session)
    if session.exec(select(Release.id).where(Release.version == version)).first() is not None:
        raise Conflict(exists)
    rows = collect_final(session=session, codebook=codebook, synthetic=synthetic, scheme_id=scheme.id)
    if not rows:
        kind = "synthetic" if synthetic else "real"
        raise InvalidInput(f"There are no final {kind} country-rounds to release.")
    previous = next((r for r in list_releases(session=session) if r.synthetic == synthetic), None)
    previous_rows = snapshot_answers(session=session, release=previous) if previous else None
    release = Release(
        version=version,
        title=title.strip() or f"Release {version}",
        notes=notes.strip(),
        release_date=release_date,
        published_by_id=user_id,
        codebook_version=codebook.version,
        scheme=scheme.id,
        aggregation=aggregation,
        synthetic=synthetic,
        changelog=describe_changes(previous_rows, rows, previous_version=previous.version if previous else None),
    )
    session.add(release)
    try:
        # Two publications of one version: the unique version makes the second wait here, then fail.
        session.flush()
    except sa.exc.IntegrityError:
        raise Conflict(exists) from None
    folder = Path(exports_dir) / version
    # This transaction now owns the version, so a folder or temporary folder under its name can only
    # be left by a build that was killed before its transaction committed: never published, never
    # served. Remove it so that the same version can be built again.
    discard_release_files(exports_dir=exports_dir, version=version)
    count = len(rows)
    inputs = snapshot_inputs(session=session, release=release, rows=rows)
    del previous_rows
    connection = session.connection()
    # The database writes the snapshot (SQLite's C code and the PostgreSQL server run without the GIL)
    # while this thread writes the files from the same rows; neither touches what the other uses.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="rightsdb-snapshot") as pool:
        snapshot = pool.submit(load_snapshot, connection, release_id=release.id, rows=rows, synthetic=synthetic, codebook=codebook)
        # Leaving this block waits for the snapshot, also after an error here.
        _write_atomically(folder, inputs, codebook, progress)
    try:
        snapshot.result()  # the snapshot's own error, if it failed
    except BaseException:
        discard_release_files(exports_dir=exports_dir, version=version)
        raise
    del rows
    release.sha256 = hashlib.sha256((folder / "SHA256SUMS").read_bytes()).hexdigest()
    session.add(release)
    record_event(
        session=session,
        user_id=user_id,
        action="release.publish",
        entity="release",
        entity_id=version,
        new={"version": version, "synthetic": synthetic, "rows": count, "scheme": scheme.id, "aggregation": aggregation},
    )
    session.flush()
    return release


def discard_release_files(*, exports_dir: str | Path, version: str) -> None:
    """Remove the folder (and any temporary folders) of a release whose transaction did not commit."""
    shutil.rmtree(Path(exports_dir) / version, ignore_errors=True)
    for leftover in Path(exports_dir).glob(f".{version}.*.partial"):
        shutil.rmtree(leftover, ignore_errors=True)


@with_collector_paused
def verify_release(*, session: Session, codebook: Codebook, exports_dir: str | Path, release: Release) -> list[str]:
    """Rebuild a release from its snapshot and return the files whose checksum differs from SHA256SUMS.

    The Excel workbook is skipped: its bytes change on every save, and it holds the same data as the
    verified CSV files. Snapshot citations that belong to no value of the release (they have no foreign
    key) are reported too, as one entry starting with SNAPSHOT_PROBLEM.
    """
    from rightsdb.publishing.files import NOT_REPRODUCIBLE, read_sums, sha256_file, write_release_files

    folder = Path(exports_dir) / release.version
    sums_path = folder / "SHA256SUMS"
    if not sums_path.exists():
        raise NotFound(f"The files of release {release.version} are missing ({sums_path}).")
    stored = read_sums(sums_path)
    problems = []
    values = select(ReleaseAnswer.id).where(ReleaseAnswer.release_id == release.id)
    stray = session.exec(
        select(sa.func.count()).select_from(ReleaseCitation)
        .where(ReleaseCitation.release_id == release.id, ReleaseCitation.release_answer_id.not_in(values))  # type: ignore[attr-defined]
    ).one()
    if stray:
        words = "citation belongs" if stray == 1 else "citations belong"
        problems.append(f"{SNAPSHOT_PROBLEM}{stray} {words} to no value of the release (release_citations)")
    if hashlib.sha256(sums_path.read_bytes()).hexdigest() != release.sha256:
        problems.append("SHA256SUMS")
    with tempfile.TemporaryDirectory(prefix=f".verify-{release.version}.") as temporary:
        rebuilt = Path(temporary)
        write_release_files(rebuilt, inputs=release_inputs(session=session, release=release), codebook=codebook)
        expected = read_sums(rebuilt / "SHA256SUMS")
        for name in sorted(set(stored) | set(expected)):
            if name in NOT_REPRODUCIBLE:
                continue
            path = folder / name
            actual = sha256_file(path) if path.exists() else None
            if stored.get(name) != expected.get(name) or actual != stored.get(name):
                problems.append(name)
    return problems


def release_files(*, exports_dir: str | Path, release: Release) -> list[tuple[str, int, str]]:
    """Return (relative path, size, sha256) of every published file of a release, from SHA256SUMS."""
    from rightsdb.publishing.files import read_sums

    folder = Path(exports_dir) / release.version
    sums_path = folder / "SHA256SUMS"
    if not sums_path.exists():
        return []
    return [(name, (folder / name).stat().st_size if (folder / name).exists() else 0, digest) for name, digest in read_sums(sums_path).items()]
