"""The release snapshot made by the database (INSERT ... SELECT), on both engines.

The files are written from the rows collect_final reads while the database copies the same values
and citations into release_answers and release_citations: these tests pin that both hold the same
thing, in the same order, and that nobody can change the data in between.
"""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from sqlmodel import select

from rightsdb import process
from rightsdb.errors import Conflict
from rightsdb.models import Citation, CountryRound, Decision, DecisionCitation, LegalSource, Release, ReleaseAnswer, ReleaseCitation
from rightsdb.ops.cli import main
from rightsdb.publishing import collect, snapshot
from rightsdb.publishing import publish as publication
from rightsdb.publishing.collect import CITATION_FIELDS
from rightsdb.publishing.publish import publish_release
from rightsdb.publishing.snapshot import release_inputs
from rightsdb.publishing.verify import verify_release
from tests.conftest import TINY_CODEBOOK
from tests.factories.countries import make_country
from tests.factories.releases import make_final

DAY = date(2026, 3, 1)


def publish(session, book, exports_dir, version="1.0.0", **kwargs):
    release = publish_release(
        session=session, codebook=book, exports_dir=exports_dir, version=version, release_date=DAY, synthetic=True, **kwargs
    )
    session.commit()
    return release


def _awkward_world(session, book):
    """Two countries; rounds whose names sort differently by code point and by a locale's collation;
    one value with three citations entered out of id order, one citing a source without a date and
    without its own link, and groups stored out of order."""
    first_indicator = book.indicator_ids[0]
    for index in (1, 0):  # created in reverse, so ids do not follow the published order
        country = make_country(session, index)
        for round_name in ("alpha 2026", "Zeta 2026"):
            _cr, decisions = make_final(
                session,
                book,
                country,
                round_name=round_name,
                final={first_indicator: "conditional"},
                groups={first_indicator: ["zeta_group", "alpha_group"]},
            )
            decision = next(d for d in decisions if d.indicator_id == first_indicator)
            cited = session.exec(
                select(Citation)
                .join(DecisionCitation, DecisionCitation.citation_id == Citation.id)
                .where(DecisionCitation.decision_id == decision.id)
            ).one()
            bare = LegalSource(
                country_iso3=country.iso3,
                instrument_type="judgment",
                title="Bare source",
                url="https://example.org/bare",
                date_in_force=None,
                language="fr",
            )
            session.add(bare)
            session.flush()
            # Positions 2 and 1 entered in that order (ids ascending), then a tie on position 2 broken by id.
            late = Citation(answer_id=cited.answer_id, source_id=bare.id, pinpoint="§ 9", url="", excerpt="deuxième", position=2)
            early = Citation(
                answer_id=cited.answer_id, source_id=bare.id, pinpoint="§ 1", url="https://example.org/own", excerpt="première", position=1
            )
            tie = Citation(answer_id=cited.answer_id, source_id=bare.id, pinpoint="§ 10", url="", excerpt="troisième", position=2)
            session.add_all([late, early])
            session.flush()
            session.add(tie)
            session.flush()
            session.add_all([DecisionCitation(decision_id=decision.id, citation_id=c.id) for c in (late, early, tie)])
    session.commit()
    return first_indicator


def test_snapshot_citations_match_the_published_file_row_for_row(tiny_session, book, exports_dir):
    first_indicator = _awkward_world(tiny_session, book)
    release = publish(tiny_session, book, exports_dir)
    stored = tiny_session.exec(
        select(
            ReleaseAnswer.country_iso3,
            ReleaseAnswer.round_name,
            ReleaseAnswer.indicator_id,
            ReleaseCitation.position,
            *(getattr(ReleaseCitation, name) for name in CITATION_FIELDS),
        )
        .join(ReleaseAnswer, ReleaseAnswer.id == ReleaseCitation.release_answer_id)
        .where(ReleaseCitation.release_id == release.id)
        .order_by(ReleaseAnswer.id, ReleaseCitation.position)
    ).all()
    text = (exports_dir / "1.0.0" / "data" / "citations.csv").read_text(encoding="utf-8")
    published = list(csv.DictReader(io.StringIO(text)))
    as_text = [
        [iso3, round_name, indicator, str(position), *("" if v is None else (v.isoformat() if isinstance(v, date) else v) for v in values)]
        for iso3, round_name, indicator, position, *values in stored
    ]
    columns = ["iso3", "round", "indicator", "position", *CITATION_FIELDS]
    assert as_text == [[row[c] for c in columns] for row in published]
    # The value with four citations: ordered by position then id, numbered 1..4, the source's link and
    # an empty date where the citation has neither.
    four = [row for row in published if (row["iso3"], row["round"], row["indicator"]) == ("XAA", "Zeta 2026", first_indicator)]
    assert [(r["position"], r["excerpt"]) for r in four][1:] == [("2", "première"), ("3", "deuxième"), ("4", "troisième")]
    assert [r["url"] for r in four][1:] == ["https://example.org/own", "https://example.org/bare", "https://example.org/bare"]
    assert four[2]["date_in_force"] == "" and four[2]["title"] == "Bare source"
    assert verify_release(session=tiny_session, codebook=book, exports_dir=exports_dir, release=release) == []


def test_snapshot_ids_follow_the_long_table_order_and_groups_read_back_sorted(tiny_session, book, exports_dir):
    first_indicator = _awkward_world(tiny_session, book)
    release = publish(tiny_session, book, exports_dir)
    keys = tiny_session.exec(
        select(ReleaseAnswer.country_iso3, ReleaseAnswer.round_name, ReleaseAnswer.indicator_id)
        .where(ReleaseAnswer.release_id == release.id)
        .order_by(ReleaseAnswer.id)
    ).all()
    position = {ident: n for n, ident in enumerate(book.indicator_ids)}
    # Python's order (code points: "Zeta 2026" before "alpha 2026"), whatever the database's collation says.
    assert [tuple(k) for k in keys] == sorted((tuple(k) for k in keys), key=lambda k: (k[0], k[1], position[k[2]]))
    assert keys[0][:2] == ("XAA", "Zeta 2026")
    stored = tiny_session.exec(select(Decision.groups).where(Decision.indicator_id == first_indicator)).first()
    assert stored == ["zeta_group", "alpha_group"]  # the decision keeps its own order
    records = release_inputs(session=tiny_session, release=release).records
    assert {tuple(r["groups"]) for r in records if r["indicator"] == first_indicator} == {("alpha_group", "zeta_group")}
    long = (exports_dir / "1.0.0" / "data" / "long.csv").read_text(encoding="utf-8")
    assert "alpha_group;zeta_group" in long and "zeta_group;alpha_group" not in long


def test_snapshot_values_carry_the_decision_that_settled_them(tiny_session, book, exports_dir):
    _awkward_world(tiny_session, book)
    release = publish(tiny_session, book, exports_dir)
    pairs = tiny_session.exec(
        select(ReleaseAnswer.answer, Decision.value, ReleaseAnswer.indicator_id, Decision.indicator_id)
        .join(Decision, Decision.id == ReleaseAnswer.decision_id)
        .where(ReleaseAnswer.release_id == release.id)
    ).all()
    assert len(pairs) == 4 * len(book.indicator_ids)
    assert all(answer == value and left == right for answer, value, left, right in pairs)


def test_a_snapshot_that_disagrees_with_the_files_fails_and_leaves_nothing(tiny_session, book, exports_dir, monkeypatch):
    _awkward_world(tiny_session, book)
    monkeypatch.setattr(snapshot, "freeze_citations", lambda connection, *, release_id, merges=None: 0)
    with pytest.raises(RuntimeError, match="citations where the files hold"):
        publish_release(session=tiny_session, codebook=book, exports_dir=exports_dir, version="1.0.0", release_date=DAY, synthetic=True)
    tiny_session.rollback()
    assert not (exports_dir / "1.0.0").exists()
    assert not list(exports_dir.glob(".1.0.0.*"))


def test_nobody_can_change_the_sources_while_a_release_is_published(tiny_app, tiny_session, book, exports_dir, monkeypatch):
    """Right after the rows for the files are read (the window before the database copies the same
    data into the snapshot) and again mid-build, another connection's write waits, then gives up."""
    _awkward_world(tiny_session, book)
    url = tiny_app.config["DATABASE_URL"]
    outcomes = []

    def try_to_write() -> None:
        if url.startswith("sqlite"):
            other = sa.create_engine(url, connect_args={"timeout": 0.2})
        else:
            other = sa.create_engine(url, connect_args={"options": "-c lock_timeout=200"})
        try:
            with other.begin() as connection:
                connection.execute(sa.update(Citation.__table__).values(excerpt="changed mid-build"))
            outcomes.append("written")
        except sa.exc.OperationalError as exc:
            outcomes.append("locked" if ("locked" in str(exc) or "lock timeout" in str(exc)) else str(exc))
        finally:
            other.dispose()

    collect = publication.collect_final

    def collect_then_write(**kwargs):
        rows = collect(**kwargs)
        try_to_write()
        return rows

    monkeypatch.setattr(publication, "collect_final", collect_then_write)
    release = publish(tiny_session, book, exports_dir, progress=lambda message: message.startswith("[1/") and try_to_write())
    assert outcomes == ["locked", "locked"]
    assert "changed mid-build" not in (exports_dir / "1.0.0" / "data" / "citations.csv").read_text(encoding="utf-8")
    assert verify_release(session=tiny_session, codebook=book, exports_dir=exports_dir, release=release) == []


def test_release_build_pauses_the_cyclic_collector_and_restores_it():
    import gc

    seen = []

    @process.with_collector_paused
    def build():
        seen.append(gc.isenabled())
        raise RuntimeError("failed build")

    assert gc.isenabled()
    try:
        build()
    except RuntimeError:
        pass
    assert seen == [False] and gc.isenabled()
    gc.disable()
    try:
        process.with_collector_paused(lambda: None)()
        assert not gc.isenabled()  # a caller that had it off keeps it off
    finally:
        gc.enable()


def test_the_export_layer_and_the_snapshot_name_the_citation_fields_alike():
    from rightsdb.publishing.tables import CITATION_COLUMNS
    from rightsdb.publishing.tables import CITATION_FIELDS as EXPORTED

    assert EXPORTED == CITATION_FIELDS == CITATION_COLUMNS[4:]


def test_verify_finds_a_lost_or_a_stray_snapshot_citation(tiny_app, tiny_session, book, exports_dir, monkeypatch):
    """release_citations has no foreign keys: a lost row, or one whose value is gone, shows as files that differ."""
    _awkward_world(tiny_session, book)
    release = publish(tiny_session, book, exports_dir)
    assert verify_release(session=tiny_session, codebook=book, exports_dir=exports_dir, release=release) == []
    first = tiny_session.exec(select(ReleaseCitation).where(ReleaseCitation.release_id == release.id).order_by(ReleaseCitation.id)).first()
    kept = {name: getattr(first, name) for name in ("release_id", "release_answer_id", "position", *CITATION_FIELDS)}
    tiny_session.delete(first)
    tiny_session.commit()
    lost = verify_release(session=tiny_session, codebook=book, exports_dir=exports_dir, release=release)
    assert "data/citations.csv" in lost and "data/long.csv" in lost
    tiny_session.add(ReleaseCitation(**kept))  # the lost row back
    tiny_session.commit()
    assert verify_release(session=tiny_session, codebook=book, exports_dir=exports_dir, release=release) == []
    tiny_session.add(ReleaseCitation(**{**kept, "release_answer_id": -1}))  # a row whose value does not exist
    tiny_session.commit()
    assert verify_release(session=tiny_session, codebook=book, exports_dir=exports_dir, release=release) == [
        "snapshot: 1 citation belongs to no value of the release (release_citations)"
    ]
    for name, value in {
        "DATABASE_URL": tiny_app.config["DATABASE_URL"],
        "EXPORTS_DIR": str(exports_dir),
        "CODEBOOK_PATH": str(TINY_CODEBOOK),
    }.items():
        monkeypatch.setenv(f"RIGHTSDB_{name}", value)
    result = CliRunner().invoke(main, ["release", "verify", "1.0.0"])
    assert result.exit_code == 1 and "snapshot: 1 citation belongs to no value" in result.output


def _other_writer(url: str):
    """A second connection that holds a write on `decisions` open (a save in progress)."""
    other = sa.create_engine(url, connect_args={"timeout": 0.2} if url.startswith("sqlite") else {"options": "-c lock_timeout=500"})
    connection = other.connect()
    if url.startswith("sqlite"):
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    connection.execute(sa.update(Decision.__table__).where(sa.false()).values(reason="x"))
    return other, connection


def test_a_save_in_progress_makes_publication_give_up_cleanly_not_deadlock(tiny_app, tiny_session, book, exports_dir, monkeypatch):
    """A writer holds decisions and will next write country_rounds (the second coder's submit does).
    The publication must neither wait while holding locks (a deadlock) nor publish: Conflict, nothing
    written, and the writer goes on."""
    _awkward_world(tiny_session, book)
    monkeypatch.setattr(snapshot, "HOLD_WAIT_SECONDS", 0.4)
    url = tiny_app.config["DATABASE_URL"]
    other, connection = _other_writer(url)
    try:
        with pytest.raises(Conflict, match="saving right now"):
            publish_release(session=tiny_session, codebook=book, exports_dir=exports_dir, version="1.0.0", release_date=DAY, synthetic=True)
        tiny_session.rollback()
        # The publication holds nothing now: the writer's next table is free.
        connection.execute(sa.update(CountryRound.__table__).where(sa.false()).values(finalized_at=None))
        connection.commit()
    finally:
        connection.close()
        other.dispose()
    assert tiny_session.exec(select(Release)).all() == []
    assert not (exports_dir / "1.0.0").exists()
    assert publish(tiny_session, book, exports_dir).version == "1.0.0"  # free again: it publishes


def test_driver_batches_refuses_text_it_would_render_inline(tiny_session):
    statement = select(ReleaseCitation.id).where(ReleaseCitation.pinpoint == "Art. 5 %")
    with pytest.raises(TypeError, match="whole numbers only"):
        next(collect.driver_batches(tiny_session.connection(), statement))
