"""Evidence behind final values is frozen: corrections of sources and citations, merges, in-place edits, refusals, races."""

from __future__ import annotations

from datetime import date

import pytest
from sqlmodel import Session, select

from rightsdb.coding.citations import SourceInput
from rightsdb.errors import Conflict, InvalidInput, NotFound
from rightsdb.models import Answer, AuditEvent, Citation, DecisionCitation, EvidenceCorrection, LegalSource, ReleaseCitation
from rightsdb.publishing.publish import publish_release
from rightsdb.review import evidence, source_register
from tests.factories.coding import make_source
from tests.factories.concurrency import run_together
from tests.factories.countries import make_country
from tests.factories.people import make_user
from tests.factories.releases import make_final
from tests.factories.rounds import make_assignments, make_round
from tests.factories.world import changed_tables, table_snapshot

TITLE = "Закон об иностранцах (ред. 2024) <b>&amp;</b> قانون"
REASON = "Официальное название — пересмотр 2024 г. «ред.»"


def _columns(row) -> dict:
    """Every column of a row as stored (the byte-for-byte comparison of old rows)."""
    return {column.key: getattr(row, column.key) for column in row.__table__.columns}


def _fresh(session: Session, model, ident):
    """Read a row again from the database."""
    session.expire_all()
    return session.get(model, ident)


class Scene:
    def __init__(self, **rows):
        self.__dict__.update(rows)


@pytest.fixture
def scene(tiny_session, book):
    """XAA final in round 2025 (every value on source `source`, indicator 1 on two citations of it),
    XAA being coded in round 2026 (a citation of `source` behind no decision), a private source, XBB's source."""
    session = tiny_session
    country = make_country(session, 0)
    country_round, decisions = make_final(session, book, country, round_name="2025", source_title="Aliens Act")
    links = session.exec(select(DecisionCitation).where(DecisionCitation.decision_id == decisions[0].id)).all()
    source = session.get(LegalSource, session.get(Citation, links[0].citation_id).source_id)
    # coder B cited the same article of the same source for the first indicator: both stand behind it
    answer_b = session.exec(
        select(Answer).where(
            Answer.indicator_id == decisions[0].indicator_id,
            Answer.assignment_id != session.get(Answer, session.get(Citation, links[0].citation_id).answer_id).assignment_id,
        )
    ).first()
    second = Citation(answer_id=answer_b.id, source_id=source.id, pinpoint="Art. 1 (B)", excerpt="B's excerpt")
    session.add(second)
    session.flush()
    session.add(DecisionCitation(decision_id=decisions[0].id, citation_id=second.id))
    round_ = make_round(session, book, name="2026")
    coding, slot_a, _slot_b = make_assignments(session, round_, country, make_user(session), make_user(session))
    answer = Answer(assignment_id=slot_a.id, indicator_id=book.indicator_ids[0], value="provided", codebook_version=book.version)
    session.add(answer)
    session.flush()
    loose = Citation(answer_id=answer.id, source_id=source.id, pinpoint="Art. 9", excerpt="Still being coded")
    private = make_source(session, country, title="Coder A's private find")
    private.assignment_id = slot_a.id
    spare = make_source(session, country, title="Constitution", instrument_type="constitution")
    foreign = make_source(session, make_country(session, 1), title="Borovian Act")
    session.add_all([loose, private])
    session.flush()
    supervisor = make_user(session, "supervisor")
    session.commit()
    return Scene(
        country=country,
        final=country_round,
        decisions=decisions,
        source=source,
        coding=coding,
        loose=loose,
        private=private,
        spare=spare,
        foreign=foreign,
        supervisor=supervisor,
    )


def _typed(source: LegalSource, **changes) -> SourceInput:
    fields = {name: getattr(source, name) for name in ("instrument_type", "title", "url", "date_in_force", "language")}
    return SourceInput(**{**fields, **changes})


def _correct(session, book, scene, source_id=None, reason=REASON, **changes):
    source = session.get(LegalSource, source_id or scene.source.id)
    new = evidence.correct_source(
        session=session,
        codebook=book,
        country_iso3=scene.country.iso3,
        source_id=source.id,
        source=_typed(source, **({"title": TITLE} | changes)),
        reason=reason,
        actor_id=scene.supervisor.id,
    )
    session.commit()
    return new


def test_a_source_correction_writes_a_version_keeps_the_old_rows_and_moves_the_links(tiny_session, book, scene):
    session = tiny_session
    old_source = _columns(scene.source)
    frozen = session.exec(select(Citation).join(DecisionCitation, DecisionCitation.citation_id == Citation.id).order_by(Citation.id)).all()
    old_citations = {c.id: _columns(c) for c in frozen}
    new = _correct(session, book, scene, date_in_force=date(2024, 5, 1))

    # The old source row: every column as it was but the pointer to its successor.
    stored = _columns(_fresh(session, LegalSource, scene.source.id))
    assert stored == {**old_source, "replaced_by_id": new.id}
    assert (new.version, new.title, new.country_iso3, new.assignment_id, new.replaced_by_id) == (2, TITLE, "XAA", None, None)
    assert new.date_in_force == date(2024, 5, 1)
    # Each frozen citation: kept as it was, replaced by a new version on the new source; the links moved.
    for citation_id, columns in old_citations.items():
        old = _columns(_fresh(session, Citation, citation_id))
        assert old == {**columns, "replaced_by_id": old["replaced_by_id"]} and old["replaced_by_id"] is not None
        successor = session.get(Citation, old["replaced_by_id"])
        assert (successor.answer_id, successor.position, successor.pinpoint, successor.excerpt, successor.source_id) == (
            columns["answer_id"],
            columns["position"],
            columns["pinpoint"],
            columns["excerpt"],
            new.id,
        )
        assert session.exec(select(DecisionCitation).where(DecisionCitation.citation_id == citation_id)).all() == []
        assert session.exec(select(DecisionCitation).where(DecisionCitation.citation_id == successor.id)).all()
    # The citation still being coded is repointed in place (free).
    loose = _fresh(session, Citation, scene.loose.id)
    assert (loose.source_id, loose.replaced_by_id) == (new.id, None)
    # An answer lists its current citations only.
    answer = session.get(Answer, frozen[0].answer_id)
    assert [c.source_id for c in answer.citations] == [new.id]


def test_a_source_correction_gives_one_reason_per_decision_and_an_audit_event_per_country_round(tiny_session, book, scene):
    session = tiny_session
    new = _correct(session, book, scene)
    rows = session.exec(select(EvidenceCorrection).order_by(EvidenceCorrection.decision_id)).all()
    # three final values, the first on two citations of the source: still one row for it
    assert [(r.kind, r.old_id, r.new_id, r.decision_id, r.indicator_id, r.country_round_id) for r in rows] == [
        ("source", scene.source.id, new.id, d.id, d.indicator_id, scene.final.id) for d in scene.decisions
    ]
    assert {r.reason for r in rows} == {REASON} and {r.user_id for r in rows} == {scene.supervisor.id}
    events = session.exec(select(AuditEvent).where(AuditEvent.action == "source.corrected").order_by(AuditEvent.country_round_id)).all()
    assert [e.country_round_id for e in events] == [scene.final.id, scene.coding.id]
    final, coding = events
    assert final.old["title"] == "Aliens Act" and final.new["title"] == TITLE and final.new["reason"] == REASON
    assert final.new["final_values_changed"] == sorted(book.indicator_ids)
    assert coding.new["indicators"] == [book.indicator_ids[0]] and coding.new["final_values_changed"] == []


def test_a_citation_correction_writes_a_version_with_its_reason(tiny_session, book, scene):
    session = tiny_session
    decision = scene.decisions[1]
    link = session.exec(select(DecisionCitation).where(DecisionCitation.decision_id == decision.id)).one()
    before = _columns(session.get(Citation, link.citation_id))
    change = evidence.CitationChange(
        source_id=scene.spare.id, pinpoint="Art. 2 ¶ ٣", url="https://example.org/ar", excerpt="لكل مهاجر", translation="Every migrant"
    )
    new = evidence.correct_citation(
        session=session,
        country_round_id=scene.final.id,
        indicator_id=decision.indicator_id,
        citation_id=link.citation_id,
        change=change,
        reason=REASON,
        actor_id=scene.supervisor.id,
    )
    session.commit()
    old = _columns(_fresh(session, Citation, link.citation_id))
    assert old == {**before, "replaced_by_id": new.id}
    assert (new.source_id, new.pinpoint, new.url, new.excerpt, new.translation) == (
        scene.spare.id,
        "Art. 2 ¶ ٣",
        "https://example.org/ar",
        "لكل مهاجر",
        "Every migrant",
    )
    assert [r.citation_id for r in session.exec(select(DecisionCitation).where(DecisionCitation.decision_id == decision.id))] == [new.id]
    rows = session.exec(select(EvidenceCorrection)).all()
    assert [(r.kind, r.old_id, r.new_id, r.decision_id, r.reason) for r in rows] == [
        ("citation", link.citation_id, new.id, decision.id, REASON)
    ]
    event = session.exec(select(AuditEvent).where(AuditEvent.action == "citation.corrected")).one()
    assert event.country_round_id == scene.final.id and event.old["excerpt"] == before["excerpt"] and event.new["excerpt"] == "لكل مهاجر"
    # the source the citation left is untouched and still in the register
    assert _fresh(session, LegalSource, scene.source.id).replaced_by_id is None


def test_merging_a_duplicate_moves_its_citations_with_the_reason(tiny_session, book, scene):
    session = tiny_session
    duplicate = scene.source
    before = _columns(duplicate)
    kept = evidence.merge_sources(
        session=session, country_iso3="XAA", source_id=duplicate.id, into_id=scene.spare.id, reason=REASON, actor_id=scene.supervisor.id
    )
    session.commit()
    assert kept.id == scene.spare.id and _columns(_fresh(session, LegalSource, duplicate.id)) == {**before, "replaced_by_id": kept.id}
    assert _fresh(session, LegalSource, scene.spare.id).version == 1  # the kept source is not a new version
    rows = session.exec(select(EvidenceCorrection).order_by(EvidenceCorrection.decision_id)).all()
    assert [(r.kind, r.old_id, r.new_id, r.decision_id, r.reason) for r in rows] == [
        ("merge", duplicate.id, kept.id, d.id, REASON) for d in scene.decisions
    ]
    standing = session.exec(select(Citation).join(DecisionCitation, DecisionCitation.citation_id == Citation.id)).all()
    assert standing and {c.source_id for c in standing} == {kept.id} and {c.replaced_by_id for c in standing} == {None}
    assert _fresh(session, Citation, scene.loose.id).source_id == kept.id  # repointed in place
    assert len(session.exec(select(AuditEvent).where(AuditEvent.action == "source.merged")).all()) == 2  # both country-rounds
    history = source_register.source_history(session=session, country_iso3="XAA", source_id=duplicate.id)
    assert [(h.source.id, h.kind) for h in history] == [(kept.id, "current"), (duplicate.id, "merged")]


def test_merging_what_stands_behind_nothing_needs_no_reason(tiny_session, book, scene):
    session = tiny_session
    other = make_source(session, scene.country, title="Constitution (duplicate)", instrument_type="constitution")
    session.commit()
    evidence.merge_sources(
        session=session, country_iso3="XAA", source_id=other.id, into_id=scene.spare.id, reason="", actor_id=scene.supervisor.id
    )
    session.commit()
    assert _fresh(session, LegalSource, other.id).replaced_by_id == scene.spare.id
    assert session.exec(select(EvidenceCorrection)).all() == []


def test_a_source_behind_nothing_is_edited_in_place_and_audited(tiny_session, book, scene):
    session = tiny_session
    row = evidence.edit_register_source(
        session=session,
        codebook=book,
        country_iso3="XAA",
        source_id=scene.spare.id,
        source=_typed(scene.spare, title="Constitution of Arvenia"),
        actor_id=scene.supervisor.id,
    )
    session.commit()
    assert (row.id, row.version, _fresh(session, LegalSource, scene.spare.id).title) == (scene.spare.id, 1, "Constitution of Arvenia")
    event = session.exec(select(AuditEvent).where(AuditEvent.action == "source.edited")).one()
    assert event.old["title"] == "Constitution" and event.new["title"] == "Constitution of Arvenia"
    assert session.exec(select(EvidenceCorrection)).all() == []


def test_register_lists_current_sources_with_what_stands_on_them(tiny_session, book, scene):
    session = tiny_session
    new = _correct(session, book, scene)
    entries = {e.source.id: e for e in source_register.list_register(session=session, country_iso3="XAA")}
    assert set(entries) == {new.id, scene.spare.id}  # neither the replaced version nor the private source
    assert (entries[new.id].final_values, entries[new.id].country_rounds, entries[new.id].frozen, entries[new.id].versions) == (
        3,
        1,
        True,
        2,
    )
    assert entries[new.id].citations == len(book.indicator_ids) + 2  # the two of indicator 1, and the one being coded
    assert (entries[scene.spare.id].frozen, entries[scene.spare.id].versions) == (False, 1)
    history = source_register.source_history(session=session, country_iso3="XAA", source_id=scene.source.id)
    assert [(h.source.version, h.kind) for h in history] == [(2, "current"), (1, "version")]
    assert [e.new["reason"] for e in history[1].events] == [REASON]  # one event, not one per country-round


REFUSALS = {
    "no reason": ({"reason": ""}, InvalidInput, "reason"),
    "control characters only": ({"reason": "\x0b\x0c \x00"}, InvalidInput, "reason"),
    "bad address": ({"url": "javascript:alert(1)"}, InvalidInput, "url"),
    "blank title": ({"title": "  "}, InvalidInput, "title"),
    "nothing changed": ({"title": "Aliens Act"}, InvalidInput, "title"),
}


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_a_refused_source_correction_changes_nothing(tiny_app, tiny_session, book, scene, case):
    changes, error, field = REFUSALS[case]
    engine = tiny_app.extensions["rightsdb.engine"]
    before = table_snapshot(engine)
    with pytest.raises(error) as refused:
        _correct(tiny_session, book, scene, **changes)
    tiny_session.rollback()
    assert field in [name for name, _ in refused.value.problems]
    assert changed_tables(before, table_snapshot(engine)) == []


def _refusal(session, book, scene, what):
    actor = scene.supervisor.id
    if what == "correct a private source":
        return evidence.correct_source(
            session=session,
            codebook=book,
            country_iso3="XAA",
            source_id=scene.private.id,
            source=_typed(scene.private, title="X"),
            reason=REASON,
            actor_id=actor,
        )
    if what == "correct another country's source":
        return evidence.correct_source(
            session=session,
            codebook=book,
            country_iso3="XAA",
            source_id=scene.foreign.id,
            source=_typed(scene.foreign, title="X"),
            reason=REASON,
            actor_id=actor,
        )
    if what == "edit a frozen source":
        return evidence.edit_register_source(
            session=session,
            codebook=book,
            country_iso3="XAA",
            source_id=scene.source.id,
            source=_typed(scene.source, title="X"),
            actor_id=actor,
        )
    merge = {"session": session, "country_iso3": "XAA", "reason": REASON, "actor_id": actor}
    if what == "merge onto itself":
        return evidence.merge_sources(source_id=scene.spare.id, into_id=scene.spare.id, **merge)
    if what == "merge across countries":
        return evidence.merge_sources(source_id=scene.spare.id, into_id=scene.foreign.id, **merge)
    if what == "merge a private source":
        return evidence.merge_sources(source_id=scene.private.id, into_id=scene.spare.id, **merge)
    if what == "merge into a private source":
        return evidence.merge_sources(source_id=scene.spare.id, into_id=scene.private.id, **merge)
    if what == "merge frozen evidence without a reason":
        return evidence.merge_sources(**{**merge, "reason": " "}, source_id=scene.source.id, into_id=scene.spare.id)
    if what == "merge onto a replaced source":
        replaced = session.exec(select(LegalSource).where(LegalSource.title == "Old")).one()
        return evidence.merge_sources(source_id=scene.source.id, into_id=replaced.id, **merge)
    citation = session.exec(select(DecisionCitation).where(DecisionCitation.decision_id == scene.decisions[1].id)).one().citation_id
    fix = {"session": session, "country_round_id": scene.final.id, "citation_id": citation, "reason": REASON, "actor_id": actor}
    indicator = scene.decisions[1].indicator_id
    if what == "cite a private source":
        return evidence.correct_citation(indicator_id=indicator, change=evidence.CitationChange(source_id=scene.private.id), **fix)
    if what == "cite another country's source":
        return evidence.correct_citation(indicator_id=indicator, change=evidence.CitationChange(source_id=scene.foreign.id), **fix)
    if what == "correct a citation without a reason":
        return evidence.correct_citation(
            indicator_id=indicator, change=evidence.CitationChange(source_id=scene.spare.id), **{**fix, "reason": ""}
        )
    if what == "correct a citation of another indicator":
        return evidence.correct_citation(
            indicator_id=scene.decisions[0].indicator_id, change=evidence.CitationChange(source_id=scene.spare.id), **fix
        )
    raise AssertionError(what)


@pytest.mark.parametrize(
    "what",
    [
        "correct a private source",
        "correct another country's source",
        "edit a frozen source",
        "merge onto itself",
        "merge across countries",
        "merge a private source",
        "merge into a private source",
        "merge frozen evidence without a reason",
        "merge onto a replaced source",
        "cite a private source",
        "cite another country's source",
        "correct a citation without a reason",
        "correct a citation of another indicator",
    ],
)
def test_every_refusal_says_why_and_changes_nothing(tiny_app, tiny_session, book, scene, what):
    engine = tiny_app.extensions["rightsdb.engine"]
    if what == "merge onto a replaced source":
        replaced = make_source(tiny_session, scene.country, title="Old")
        replaced.replaced_by_id = scene.spare.id
        tiny_session.commit()
    before = table_snapshot(engine)
    with pytest.raises((InvalidInput, NotFound, Conflict)) as refused:
        _refusal(tiny_session, book, scene, what)
    tiny_session.rollback()
    assert str(refused.value)
    assert changed_tables(before, table_snapshot(engine)) == []


def test_a_replaced_version_cannot_be_corrected_again(tiny_app, tiny_session, book, scene):
    _correct(tiny_session, book, scene)
    engine = tiny_app.extensions["rightsdb.engine"]
    before = table_snapshot(engine)
    with pytest.raises(Conflict, match="already corrected"):
        _correct(tiny_session, book, scene, source_id=scene.source.id, title="Another title")
    tiny_session.rollback()
    assert changed_tables(before, table_snapshot(engine)) == []


def test_two_supervisors_correcting_one_source_at_once_write_one_version(tiny_app, tiny_session, book, scene):
    engine = tiny_app.extensions["rightsdb.engine"]
    other = make_user(tiny_session, "supervisor")
    tiny_session.commit()

    def correct(title: str, actor_id: int):
        def call():
            with Session(engine) as session:
                source = session.get(LegalSource, scene.source.id)
                try:
                    evidence.correct_source(
                        session=session,
                        codebook=book,
                        country_iso3="XAA",
                        source_id=source.id,
                        source=_typed(source, title=title),
                        reason=REASON,
                        actor_id=actor_id,
                    )
                    session.commit()
                    return "corrected"
                except Conflict:
                    session.rollback()
                    return "refused"

        return call

    results = run_together(correct("First", scene.supervisor.id), correct("Second", other.id))
    assert sorted(results) == ["corrected", "refused"]
    tiny_session.expire_all()
    versions = tiny_session.exec(select(LegalSource).where(LegalSource.version == 2)).all()
    assert len(versions) == 1
    assert len(tiny_session.exec(select(EvidenceCorrection)).all()) == len(scene.decisions)


def _race(engine, call):
    """Run `call(session)` on its own session and commit; return "done", or "refused" on a Conflict or InvalidInput."""

    def run():
        with Session(engine) as session:
            try:
                call(session)
                session.commit()
                return "done"
            except (Conflict, InvalidInput):
                session.rollback()
                return "refused"

    return run


def test_two_supervisors_correcting_one_citation_at_once_write_one_version(tiny_app, tiny_session, scene):
    engine = tiny_app.extensions["rightsdb.engine"]
    decision = scene.decisions[1]
    citation_id = tiny_session.exec(select(DecisionCitation).where(DecisionCitation.decision_id == decision.id)).one().citation_id

    def correct(pinpoint):
        change = evidence.CitationChange(source_id=scene.source.id, pinpoint=pinpoint)
        return lambda session: evidence.correct_citation(
            session=session,
            country_round_id=scene.final.id,
            indicator_id=decision.indicator_id,
            citation_id=citation_id,
            change=change,
            reason=REASON,
            actor_id=scene.supervisor.id,
        )

    assert sorted(run_together(_race(engine, correct("Art. 7")), _race(engine, correct("Art. 8")))) == ["done", "refused"]
    tiny_session.expire_all()
    answer_id = tiny_session.get(Citation, citation_id).answer_id
    assert len(tiny_session.exec(select(Citation).where(Citation.answer_id == answer_id)).all()) == 2  # the old row and one new version
    links = tiny_session.exec(select(DecisionCitation).where(DecisionCitation.decision_id == decision.id)).all()
    assert len(links) == 1 and len(tiny_session.exec(select(EvidenceCorrection)).all()) == 1
    assert tiny_session.get(Citation, citation_id).replaced_by_id == links[0].citation_id


def test_two_supervisors_merging_two_sources_into_each_other_at_once_merge_once(tiny_app, tiny_session, scene):
    engine = tiny_app.extensions["rightsdb.engine"]

    def merge(source_id, into_id):
        return lambda session: evidence.merge_sources(
            session=session, country_iso3="XAA", source_id=source_id, into_id=into_id, reason=REASON, actor_id=scene.supervisor.id
        )

    results = run_together(_race(engine, merge(scene.source.id, scene.spare.id)), _race(engine, merge(scene.spare.id, scene.source.id)))
    assert sorted(results) == ["done", "refused"]
    tiny_session.expire_all()
    pair = [tiny_session.get(LegalSource, i) for i in (scene.source.id, scene.spare.id)]
    assert sorted(s.replaced_by_id is None for s in pair) == [False, True]  # one kept, never both replaced


def _release_citations(session, release_id):
    rows = session.exec(select(ReleaseCitation).where(ReleaseCitation.release_id == release_id).order_by(ReleaseCitation.id)).all()
    return [_columns(r) for r in rows]


def test_the_next_release_carries_the_correction_and_the_published_one_keeps_its_snapshot(tiny_session, book, exports_dir, scene):
    session = tiny_session

    def publish(version):
        release = publish_release(
            session=session, codebook=book, exports_dir=exports_dir, version=version, release_date=date(2026, 3, 1), synthetic=True
        )
        session.commit()
        return release

    first = publish("1.0.0")
    published = _release_citations(session, first.id)
    assert {r["title"] for r in published} == {"Aliens Act"}
    _correct(session, book, scene)
    second = publish("1.1.0")
    assert _release_citations(session, first.id) == published
    assert {r["title"] for r in _release_citations(session, second.id)} == {TITLE}
    assert len(_release_citations(session, second.id)) == len(published)
    text = (exports_dir / "1.1.0" / "data" / "citations.csv").read_text(encoding="utf-8")
    assert TITLE in text and "Aliens Act" not in text
    assert "Aliens Act" in (exports_dir / "1.0.0" / "data" / "citations.csv").read_text(encoding="utf-8")
