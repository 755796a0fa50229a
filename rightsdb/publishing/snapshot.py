"""The immutable snapshot of a release: frozen by the database itself, read back for the catalog and verify.

A published release keeps one ReleaseAnswer row per value and one ReleaseCitation row per citation
standing behind it, copied with INSERT ... SELECT (no value passes through Python). While a release is
published, `hold_sources` keeps what it reads from changing, so the files and the snapshot see one
state of the data.
"""

from __future__ import annotations

import time

import sqlalchemy as sa
from sqlalchemy.orm import aliased
from sqlmodel import Session, select

from rightsdb.codebook import Codebook
from rightsdb.db import SQLITE_BUSY_MS, begin_sqlite_write
from rightsdb.errors import Conflict
from rightsdb.models import (
    Answer,
    Assignment,
    Citation,
    Country,
    CountryRound,
    Decision,
    DecisionCitation,
    LegalSource,
    Release,
    ReleaseAnswer,
    ReleaseCitation,
    Round,
)
from rightsdb.publishing.changelog import compute_changes, correction_reasons, previous_release
from rightsdb.publishing.collect import CITATION_FIELDS, SNAPSHOT_COLUMNS, ReleaseInputs, driver_batches, group_list, snapshot_inputs

#: A temporary table of the citations collect_final merged (see `freeze_citations`); one per connection.
MERGES = sa.Table(
    "rightsdb_citation_merges",
    sa.MetaData(),
    sa.Column("citation_id", sa.Integer, primary_key=True),
    sa.Column("cited_by", sa.String(10), nullable=True),
    prefixes=["TEMPORARY"],
)


def _load_merges(connection: sa.Connection, merges: dict[int, str | None]) -> None:
    """Fill the temporary MERGES table with collect_final's merges (emptied first: it lives as long as the connection)."""
    MERGES.create(connection, checkfirst=True)
    connection.execute(MERGES.delete())
    connection.execute(MERGES.insert(), [{"citation_id": cid, "cited_by": by} for cid, by in merges.items()])


def freeze_citations(connection: sa.Connection, *, release_id: int, merges: dict[int, str | None] | None = None) -> int:
    """Copy the citations standing behind every value of release `release_id` into release_citations; return the count.

    One INSERT ... SELECT, run by the database itself: the ~100 MB of excerpts of a world-scale release
    never pass through Python. Each value's citations keep the order they were entered in (position,
    then id), numbered from 1; a citation without its own link takes its source's; "cited_by" is the
    slot of the coder whose answer it is. Citations of one value with the same content
    (coding.citations.CITATION_CONTENT) are one row: collect_final finds them (it reads the excerpts
    anyway; comparing them in SQL doubled this statement's time at world scale) and `merges` says, for
    those citations only, the cited_by of the one kept ("A;B") and None for each one merged into it.
    """
    answers, links = ReleaseAnswer.__table__, DecisionCitation.__table__  # type: ignore[attr-defined]
    cited, sources = Citation.__table__, LegalSource.__table__  # type: ignore[attr-defined]
    coded, assigned = Answer.__table__, Assignment.__table__  # type: ignore[attr-defined]
    # Numbered on narrow rows first, then joined to the text: sorting the wide rows (excerpts and all)
    # for the window spilled to disk on PostgreSQL at world scale.
    by = assigned.c.slot
    narrow = (
        select(answers.c.id.label("answer_id"), cited.c.id.label("citation_id"))
        .join(links, links.c.decision_id == answers.c.decision_id)
        .join(cited, cited.c.id == links.c.citation_id)
        .join(coded, coded.c.id == cited.c.answer_id)
        .join(assigned, assigned.c.id == coded.c.assignment_id)
        .where(answers.c.release_id == release_id)
    )
    if merges:
        _load_merges(connection, merges)
        narrow = narrow.outerjoin(MERGES, MERGES.c.citation_id == cited.c.id).where(
            sa.or_(MERGES.c.citation_id.is_(None), MERGES.c.cited_by.is_not(None))
        )
        by = sa.func.coalesce(MERGES.c.cited_by, assigned.c.slot)
    numbered = narrow.add_columns(
        sa.func.row_number().over(partition_by=answers.c.id, order_by=(cited.c.position, cited.c.id)).label("position"),
        by.label("cited_by"),
    ).subquery("numbered")
    rows = (
        select(
            sa.literal(release_id, sa.Integer),
            numbered.c.answer_id,
            numbered.c.position,
            sources.c.instrument_type,
            sources.c.title,
            cited.c.pinpoint,
            sa.func.coalesce(sa.func.nullif(cited.c.url, ""), sources.c.url),
            sources.c.date_in_force,
            sources.c.language,
            cited.c.excerpt,
            cited.c.translation,
            numbered.c.cited_by,
        )
        .join(cited, cited.c.id == numbered.c.citation_id)
        .join(sources, sources.c.id == cited.c.source_id)
    )
    target = ReleaseCitation.__table__  # type: ignore[attr-defined]
    names = ["release_id", "release_answer_id", "position", *CITATION_FIELDS]
    return connection.execute(sa.insert(target).from_select(names, rows).execution_options(preserve_rowcount=True)).rowcount


def snapshot_rows(*, session: Session, release: Release) -> list[dict]:
    """Return the snapshot rows of a release as collect_final does (their "citations" as tuples), in id order (two queries)."""
    # The groups as JSON text, parsed once per distinct text (nearly all are "[]"), and Core rows on the
    # session's connection: the ORM's row processing was a large share of reading a world-scale snapshot.
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
        row["groups"] = group_list(row["groups"], group_lists)
        row["citations"] = by_id[answer_id] = []
        rows.append(row)
    statement = (
        select(ReleaseCitation.release_answer_id, *(getattr(ReleaseCitation, name) for name in CITATION_FIELDS))  # type: ignore[arg-type]
        .where(ReleaseCitation.release_id == release.id)
        .order_by(ReleaseCitation.release_answer_id, ReleaseCitation.position)
    )
    days: dict = {None: ""}
    for batch in driver_batches(connection, statement):
        for answer_id, instrument_type, title, pinpoint, url, day, language, excerpt, translation, by in batch:
            if day not in days:  # SQLite gives the stored ISO text, PostgreSQL a date
                days[day] = day if isinstance(day, str) else day.isoformat()
            owner = by_id.get(answer_id)
            if owner is not None:  # a stray row (its value lost) belongs to no value: verify_release then finds the files differ
                owner.append((instrument_type, title, pinpoint, url, days[day], language, excerpt, translation, by))
    return rows


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
        sa.literal(release_id, sa.Integer),
        CountryRound.country_iso3,
        Round.name,
        Round.reference_date,
        Decision.indicator_id,
        mapped(Decision.indicator_id, {r["indicator_id"]: r["category_id"] for r in rows}, sa.String),
        Decision.value,
        Decision.groups,
        mapped(Decision.value, {r["answer"]: r["binary"] for r in rows}, sa.Integer),
        mapped(Decision.value, {r["answer"]: r["score"] for r in rows}, sa.Float),
        answer_a.value,
        answer_b.value,
        sa.func.coalesce(answer_a.notes, ""),
        sa.func.coalesce(answer_b.notes, ""),
        Decision.outcome,
        Decision.reason,
        Decision.id,
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
    merges = {cid: by for row in rows for cid, by in row.get("merged", {}).items()}
    citations = freeze_citations(connection, release_id=release_id, merges=merges)
    expected = (len(rows), sum(len(row["citations"]) for row in rows))
    if (answers, citations) != expected:
        raise RuntimeError(
            f"The snapshot froze {answers} values and {citations} citations where the files hold {expected[0]} and {expected[1]}."
        )
    return answers, citations


def release_changes(*, session: Session, codebook: Codebook, release: Release, rows: list[dict]) -> tuple[list[tuple], Release | None]:
    """Return the changes of a release whose snapshot rows are `rows` since the previous release of its kind, and that release.

    Computed from the two snapshots and the evidence corrections between them (publishing.changelog),
    never from the coding tables: a release's changes.csv is rebuilt byte for byte.
    """
    previous = previous_release(session=session, release=release)
    if previous is None:
        return [], None
    changes = compute_changes(
        previous=previous,
        previous_rows=snapshot_rows(session=session, release=previous),
        release=release,
        rows=rows,
        reasons=correction_reasons(session=session, previous=previous, release=release),
        indicator_order=codebook.indicator_ids,
    )
    return changes, previous


def release_inputs(*, session: Session, release: Release, codebook: Codebook | None = None) -> ReleaseInputs:
    """Load a release's snapshot as plain records plus the facts about its countries (two queries).

    With the `codebook` the release's files are built with, also its changes since the previous release
    (changes.csv, the README's "What changed"; reading the previous snapshot too): what a rebuild
    needs. Without it (a public page's data) the inputs carry no changes.
    """
    rows = snapshot_rows(session=session, release=release)
    if codebook is None:
        return snapshot_inputs(session=session, release=release, rows=rows)
    changes, previous = release_changes(session=session, codebook=codebook, release=release, rows=rows)
    return snapshot_inputs(
        session=session, release=release, rows=rows, changes=changes, previous_version=previous.version if previous else None
    )


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
    connection.exec_driver_sql(f"PRAGMA busy_timeout = {int(HOLD_WAIT_SECONDS * 1000)}")
    try:
        begin_sqlite_write(connection)
    except sa.exc.OperationalError as exc:
        if "locked" in str(exc.orig):
            raise Conflict(BUSY) from None
        raise
    finally:
        connection.exec_driver_sql(f"PRAGMA busy_timeout = {SQLITE_BUSY_MS}")
