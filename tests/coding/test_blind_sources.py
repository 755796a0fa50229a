"""Blind legal sources: a coder sees the country's register and their own assignment's sources, nothing of the other coder's.

A source a coder enters is private to the assignment until every coding of the country-round is
submitted; then it joins the register, which coders cite but never change (rightsdb.coding.citations).
"""

from __future__ import annotations

import threading
import time
from datetime import date

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func
from sqlmodel import Session, select

from rightsdb.coding.answers import AnswerInput, save_answers
from rightsdb.coding.carry_forward import carry_forward
from rightsdb.coding.citations import (
    CHOOSE_SOURCE,
    NO_SUCH_SOURCE,
    CitationInput,
    SourceInput,
    add_citation,
    citation_counts,
    create_source,
    edit_source,
    list_sources,
    register_sources,
    visible_source,
)
from rightsdb.coding.evidence import FROZEN_SOURCE
from rightsdb.coding.submission import hold_assignment, submit_assignment
from rightsdb.db import begin_sqlite_write
from rightsdb.errors import Forbidden, InvalidInput, NotFound
from rightsdb.importing.importer import import_codings
from rightsdb.models import Answer, Assignment, AuditEvent, Citation, CountryRound, Decision, DecisionCitation, LegalSource, ReleaseCitation
from rightsdb.publishing.publish import publish_release
from rightsdb.review.assignments import send_back
from tests.conftest import login
from tests.factories.coding import fill_assignment, make_source
from tests.factories.concurrency import run_together
from tests.factories.countries import make_country
from tests.factories.people import make_user
from tests.factories.releases import make_final
from tests.factories.rounds import make_assignments, make_pair, make_round

ACT = SourceInput("statute", "Aliens Act 2026", "https://example.org/aliens-2026")


@pytest.fixture
def book(tiny_app):
    return tiny_app.extensions["rightsdb.codebook"]


@pytest.fixture
def session(tiny_session):
    return tiny_session


@pytest.fixture
def client_for(tiny_app):
    return lambda user: login(tiny_app.test_client(), user)


def _pair(session: Session, book):
    """Two coders of one country-round, a register source of the country and one of another country."""
    coder_a, coder_b, cr, a, b = make_pair(session, book)
    register = make_source(session, cr.country, title="Register act")
    make_source(session, make_country(session, 1), title="Foreign act")
    return coder_a, coder_b, cr, a, b, register


def test_a_coder_sees_the_current_register_and_their_own_sources_only(session, book):
    coder_a, coder_b, cr, a, b, register = _pair(session, book)
    own_a = create_source(session=session, codebook=book, assignment=a, source=ACT, user_id=coder_a.id)
    own_b = create_source(session=session, codebook=book, assignment=b, source=SourceInput("constitution", "B's order"), user_id=coder_b.id)
    replaced = make_source(session, cr.country, title="Register act, first version")
    replaced.replaced_by_id = register.id
    session.add(replaced)
    session.flush()
    assert own_a.assignment_id == a.id and own_b.assignment_id == b.id  # private to the assignment that entered it
    assert [s.id for s in list_sources(session=session, assignment=a)] == [own_a.id, register.id]  # by title
    assert [s.id for s in list_sources(session=session, assignment=b)] == [own_b.id, register.id]
    assert [s.id for s in register_sources(session=session, country_iso3=cr.country_iso3)] == [register.id]
    with pytest.raises(NotFound) as hidden:
        visible_source(session=session, assignment=a, source_id=own_b.id)
    with pytest.raises(NotFound) as missing:
        visible_source(session=session, assignment=a, source_id=own_b.id + 1000)
    assert str(hidden.value) == str(missing.value) == NO_SUCH_SOURCE  # a guessed id confirms nothing
    with pytest.raises(NotFound):
        visible_source(session=session, assignment=a, source_id=replaced.id)  # history: offered to nobody
    created = session.exec(select(AuditEvent).where(AuditEvent.action == "source.created", AuditEvent.entity_id == str(own_a.id))).one()
    assert created.country_round_id == cr.id and created.new["private_to_assignment"] == a.id


def test_a_citation_naming_the_other_coders_source_is_refused_and_writes_nothing(session, book):
    coder_a, coder_b, _cr, a, b, register = _pair(session, book)
    own_b = create_source(session=session, codebook=book, assignment=b, source=ACT, user_id=coder_b.id)
    session.commit()
    before = (session.exec(select(func.count()).select_from(Citation)).one(), session.exec(select(func.count()).select_from(Answer)).one())
    indicator = book.indicator_ids[0]
    forged = AnswerInput(indicator, 0, "provided", new_citation=CitationInput(source_id=own_b.id, new_source=None, pinpoint="Art. 1"))
    with pytest.raises(InvalidInput) as refused:
        save_answers(session=session, codebook=book, assignment=a, user_id=coder_a.id, inputs=[forged], payload={})
    session.rollback()
    assert any(CHOOSE_SOURCE in message for _field, message in refused.value.problems)
    after = (session.exec(select(func.count()).select_from(Citation)).one(), session.exec(select(func.count()).select_from(Answer)).one())
    assert after == before
    # The register and the coder's own inline source are accepted; the inline one is private.
    allowed = AnswerInput(indicator, 0, "provided", new_citation=CitationInput(source_id=register.id, new_source=None, pinpoint="Art. 2"))
    inline = AnswerInput(
        book.indicator_ids[1], 0, "provided", new_citation=CitationInput(source_id=None, new_source=SourceInput("statute", "Inline act"))
    )
    save_answers(session=session, codebook=book, assignment=a, user_id=coder_a.id, inputs=[allowed, inline], payload={})
    session.commit()
    inline_row = session.exec(select(LegalSource).where(LegalSource.title == "Inline act")).one()
    assert inline_row.assignment_id == a.id
    assert citation_counts(session=session, assignment=a) == {register.id: 1, inline_row.id: 1}


def test_private_sources_join_the_register_when_the_second_coding_is_submitted(session, book):
    coder_a, coder_b, cr, a, b, register = _pair(session, book)
    supervisor = make_user(session, "supervisor")
    own_a = create_source(session=session, codebook=book, assignment=a, source=ACT, user_id=coder_a.id)
    own_b = create_source(session=session, codebook=book, assignment=b, source=SourceInput("statute", "B's act"), user_id=coder_b.id)
    fill_assignment(session, a, book, source=own_a)
    fill_assignment(session, b, book, {book.indicator_ids[0]: "not_provided"}, source=own_b)  # a disagreement: not final yet
    submit_assignment(session=session, codebook=book, assignment=a, user_id=coder_a.id)
    session.commit()
    assert (session.get(LegalSource, own_a.id).assignment_id, session.get(LegalSource, own_b.id).assignment_id) == (a.id, b.id)
    assert own_a.id not in {s.id for s in list_sources(session=session, assignment=b)}  # A submitted, B still blind
    submit_assignment(session=session, codebook=book, assignment=b, user_id=coder_b.id)
    session.commit()
    session.expire_all()
    assert {s.id for s in register_sources(session=session, country_iso3=cr.country_iso3)} == {register.id, own_a.id, own_b.id}
    event = session.exec(select(AuditEvent).where(AuditEvent.action == "sources.registered")).one()
    assert (event.entity, event.entity_id, event.country_round_id, event.user_id) == ("country_round", str(cr.id), cr.id, coder_b.id)
    assert sorted((e["source_id"], e["slot"]) for e in event.old["private"]) == [(own_a.id, "A"), (own_b.id, "B")]
    # Sent back, A's sources stay in the register; a source A enters now is private again until A resubmits.
    send_back(session=session, assignment_id=a.id, message="Look at article 3 again.", actor_id=supervisor.id)
    session.commit()
    assert session.get(LegalSource, own_a.id).assignment_id is None
    later = create_source(session=session, codebook=book, assignment=a, source=SourceInput("statute", "Later act"), user_id=coder_a.id)
    assert later.assignment_id == a.id and later.id not in {s.id for s in list_sources(session=session, assignment=b)}
    submit_assignment(session=session, codebook=book, assignment=a, user_id=coder_a.id)
    session.commit()
    assert session.get(LegalSource, later.id).assignment_id is None
    assert len(session.exec(select(AuditEvent).where(AuditEvent.action == "sources.registered")).all()) == 2


def test_a_country_round_with_one_assignment_unblinds_at_its_submission(session, book):
    coder = make_user(session, "coder")
    cr = CountryRound(round_id=make_round(session, book).id, country_iso3=make_country(session, 0).iso3)
    session.add(cr)
    session.flush()
    only = Assignment(country_round_id=cr.id, slot="A", coder_id=coder.id)
    session.add(only)
    session.flush()
    own = create_source(session=session, codebook=book, assignment=only, source=ACT, user_id=coder.id)
    fill_assignment(session, only, book, source=own)
    submit_assignment(session=session, codebook=book, assignment=only, user_id=coder.id)
    session.commit()
    assert session.get(LegalSource, own.id).assignment_id is None


def test_a_coder_edits_only_their_own_private_sources(session, book):
    coder_a, coder_b, cr, a, b, register = _pair(session, book)
    own_a = create_source(session=session, codebook=book, assignment=a, source=ACT, user_id=coder_a.id)
    own_b = create_source(session=session, codebook=book, assignment=b, source=SourceInput("statute", "B's act"), user_id=coder_b.id)
    session.commit()

    def edit(source_id, assignment=a, title="Renamed"):
        return edit_source(
            session=session,
            codebook=book,
            assignment=assignment,
            source_id=source_id,
            source=SourceInput("statute", title),
            user_id=coder_a.id,
        )

    edit(own_a.id, title="Aliens Act 2026 (consolidated)")  # free, audited
    event = session.exec(select(AuditEvent).where(AuditEvent.action == "source.edited")).one()
    assert event.country_round_id == cr.id and event.new["title"] == "Aliens Act 2026 (consolidated)"
    with pytest.raises(Forbidden, match="register"):
        edit(register.id)
    with pytest.raises(NotFound) as other:
        edit(own_b.id)
    assert str(other.value) == NO_SUCH_SOURCE
    session.rollback()
    assert (session.get(LegalSource, register.id).title, session.get(LegalSource, own_b.id).title) == ("Register act", "B's act")
    # Defence in depth: a private source behind a final value (never the case in the workflow) is refused too.
    answer = fill_assignment(session, a, book, source=own_a)[0]
    citation = session.exec(select(Citation).where(Citation.answer_id == answer.id)).one()
    decision = Decision(country_round_id=cr.id, indicator_id=answer.indicator_id, value="provided", groups=[], outcome="agreed")
    session.add(decision)
    session.flush()
    session.add(DecisionCitation(decision_id=decision.id, citation_id=citation.id))
    session.flush()
    with pytest.raises(InvalidInput, match="cannot be changed in place") as frozen:
        edit(own_a.id)
    assert str(frozen.value) == FROZEN_SOURCE
    session.rollback()
    a_row = session.get(Assignment, a.id)
    a_row.status = "submitted"
    session.add(a_row)
    session.commit()
    with pytest.raises(Forbidden, match="read-only"):
        edit(own_a.id, assignment=a_row)


def test_the_sources_page_lists_own_sources_and_the_register_with_this_assignments_citations(session, book, client_for):
    coder_a, coder_b, _cr, a, b, register = _pair(session, book)
    own_a = create_source(session=session, codebook=book, assignment=a, source=ACT, user_id=coder_a.id)
    fill_assignment(session, a, book, source=register)
    session.commit()
    client = client_for(coder_a)
    page = client.get(f"/coder/assignments/{a.id}/sources").get_data(as_text=True)
    own_part, register_part = page.split('id="register-sources"')
    assert "Aliens Act 2026" in own_part and "Register act" not in own_part
    assert "Register act" in register_part and "in the register" in register_part and "supervisor corrects" in register_part
    assert f"<td>{len(book.indicator_ids)}</td>" in register_part  # every indicator cites the register act once
    assert "Foreign act" not in page
    form = client.get(f"/coder/assignments/{a.id}").get_data(as_text=True)
    own_group = form.index('<optgroup label="Your sources')
    register_group = form.index('<optgroup label="Register')
    assert own_group < form.index(f'<option value="{own_a.id}">Aliens Act 2026</option>') < register_group
    assert register_group < form.index(f'<option value="{register.id}">Register act</option>')
    # The register source: shown read-only, an edit refused with the reason, nothing changed.
    assert "coders cite it but do not change it" in client.get(f"/coder/assignments/{a.id}/sources/{register.id}").get_data(as_text=True)
    refused = client.post(
        f"/coder/assignments/{a.id}/sources/{register.id}", data={"instrument_type": "statute", "title": "Hijacked"}, follow_redirects=True
    )
    assert refused.status_code == 200 and "which coders cite but do not change" in refused.get_data(as_text=True)
    session.expire_all()
    assert session.get(LegalSource, register.id).title == "Register act"


def test_a_coders_edit_cannot_change_the_evidence_of_a_final_value(tiny_app, session, book, client_for):
    """The register source behind an earlier round's final values: every route refuses, the row and the next release keep the old title."""
    country = make_country(session, 0)
    make_final(session, book, country, round_name="2025", source_title="Aliens Act 1999 (as in force in 2025)")
    frozen = session.exec(select(LegalSource).where(LegalSource.country_iso3 == country.iso3)).one()
    coder = make_user(session, "coder")
    _cr, new, _b = make_assignments(
        session, make_round(session, book, name="2027", reference_date=date(2027, 1, 1)), country, coder, make_user(session)
    )
    session.commit()
    before = (
        frozen.title,
        frozen.url,
        frozen.instrument_type,
        frozen.date_in_force,
        frozen.language,
        frozen.version,
        frozen.replaced_by_id,
    )
    client: FlaskClient = client_for(coder)
    body = {"instrument_type": "constitution", "title": "Rewritten", "url": "https://rewritten.example/", "language": "xx"}
    for i in book.indicator_ids:
        body |= {f"{i}-version": "0", f"{i}-value": "provided", f"{i}-source": str(frozen.id), f"{i}-pinpoint": "Art. 1"}
    for rule in tiny_app.url_map.iter_rules():
        if not rule.endpoint.startswith("coder.") or "POST" not in rule.methods:
            continue
        url = rule.rule.replace("<int:assignment_id>", str(new.id)).replace("<int:source_id>", str(frozen.id))
        assert client.post(url, data=body).status_code < 500, url
    with pytest.raises(Forbidden):
        edit_source(
            session=session,
            codebook=book,
            assignment=new,
            source_id=frozen.id,
            source=SourceInput("statute", "Rewritten"),
            user_id=coder.id,
        )
    session.rollback()
    session.expire_all()
    row = session.get(LegalSource, frozen.id)
    assert (row.title, row.url, row.instrument_type, row.date_in_force, row.language, row.version, row.replaced_by_id) == before
    assert session.exec(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "source.edited")).one() == 0
    release = publish_release(
        session=session,
        codebook=book,
        exports_dir=tiny_app.config["EXPORTS_DIR"],
        version="9.0.0",
        release_date=date(2027, 6, 1),
        synthetic=True,
    )
    session.commit()
    titles = set(session.exec(select(ReleaseCitation.title).where(ReleaseCitation.release_id == release.id)))
    assert titles == {"Aliens Act 1999 (as in force in 2025)"}


def test_carry_forward_cites_the_current_version_of_a_corrected_source(session, book):
    country = make_country(session, 0)
    make_final(session, book, country, round_name="2025")
    old = session.exec(select(LegalSource).where(LegalSource.country_iso3 == country.iso3)).one()
    new_version = make_source(session, country, title="Aliens Act (corrected title)")
    new_version.version, old.replaced_by_id = 2, new_version.id
    session.add_all([new_version, old])
    coder = make_user(session, "coder")
    _cr, a, _b = make_assignments(
        session, make_round(session, book, name="2027", reference_date=date(2027, 1, 1)), country, coder, make_user(session)
    )
    session.flush()
    assert carry_forward(session=session, codebook=book, assignment=a, user_id=coder.id) == len(book.indicator_ids)
    cited = set(session.exec(select(Citation.source_id).join(Answer, Answer.id == Citation.answer_id).where(Answer.assignment_id == a.id)))
    assert cited == {new_version.id}


def _write_csv(path, rows: list[str]):
    header = "country_iso3,indicator_id,answer,instrument_type,source_title,source_url,pinpoint"
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def test_a_submission_import_keeps_its_new_sources_private_and_never_reuses_the_other_coders(session, book, tmp_path):
    coder_a = make_user(session, "coder", email="ana@example.org")
    coder_b = make_user(session, "coder", email="ben@example.org")
    supervisor = make_user(session, "supervisor", email="sue@example.org")
    round_ = make_round(session, book)
    cr, a, b = make_assignments(session, round_, make_country(session, 0), coder_a, coder_b)
    make_source(session, cr.country, title="Register act")
    theirs = create_source(session=session, codebook=book, assignment=b, source=SourceInput("statute", "Shared title"), user_id=coder_b.id)
    session.commit()
    rows = [f"XAA,{i},provided,statute,Shared title,https://example.org/a,Art. {n}" for n, i in enumerate(book.indicator_ids)]
    rows.append(f"XAA,{book.indicator_ids[0]},provided,statute,Register act,,Art. 9")
    summary = import_codings(
        session=session,
        codebook=book,
        path=_write_csv(tmp_path / "a.csv", rows),
        round_name="2026",
        mode="submission",
        user_email=coder_a.email,
    )
    session.commit()
    assert (summary.sources_created, summary.sources_reused) == (1, 1)
    mine = session.exec(select(LegalSource).where(LegalSource.title == "Shared title", LegalSource.id != theirs.id)).one()
    assert mine.assignment_id == a.id  # private to the imported coding, blind for B
    assert mine.id not in {s.id for s in list_sources(session=session, assignment=b)}
    cited = set(session.exec(select(Citation.source_id).join(Answer, Answer.id == Citation.answer_id).where(Answer.assignment_id == a.id)))
    assert theirs.id not in cited
    fill_assignment(session, b, book, source=theirs)
    for assignment, user in ((a, coder_a), (b, coder_b)):
        submit_assignment(session=session, codebook=book, assignment=assignment, user_id=user.id)
    session.commit()
    assert {session.get(LegalSource, s).assignment_id for s in (mine.id, theirs.id)} == {None}
    # A final import (finished work, no double coding) writes to the register.
    final_rows = [f"XBB,{i},provided,statute,Final act,,Art. {n}" for n, i in enumerate(book.indicator_ids)]
    make_country(session, 1)
    session.commit()
    import_codings(
        session=session,
        codebook=book,
        path=_write_csv(tmp_path / "final.csv", final_rows),
        round_name="2026",
        mode="final",
        user_email=supervisor.email,
        reason="Coded before the system existed.",
    )
    session.commit()
    assert session.exec(select(LegalSource).where(LegalSource.title == "Final act")).one().assignment_id is None


def test_the_demo_follows_the_rule_earlier_rounds_in_the_register_blind_phase_sources_private(app):
    from rightsdb.ops.demo import SYNTHETIC, load_demo

    codebook = app.extensions["rightsdb.codebook"]
    with Session(app.extensions["rightsdb.engine"], expire_on_commit=False) as session:
        assert SYNTHETIC in load_demo(session=session, codebook=codebook, app_config=app.config).summary()
        session.commit()
        assignments = session.exec(select(Assignment)).all()
        by_round = {}
        for assignment in assignments:
            by_round.setdefault(assignment.country_round_id, []).append(assignment)
        blind = {x.id for group in by_round.values() if any(y.status != "submitted" for y in group) for x in group if x.answers}
        private = session.exec(select(LegalSource).where(LegalSource.assignment_id.is_not(None))).all()
        assert {s.assignment_id for s in private} == blind and len(private) == len(blind) == 3  # XBB 2026 (A), XCC 2026 (A, B)
        for source in private:
            assert "(synthetic)" in source.title
            citing = set(
                session.exec(
                    select(Answer.assignment_id).join(Citation, Citation.answer_id == Answer.id).where(Citation.source_id == source.id)
                )
            )
            assert citing == {source.assignment_id}
            others = [x for x in by_round[session.get(Assignment, source.assignment_id).country_round_id] if x.id != source.assignment_id]
            assert all(source.id not in {s.id for s in list_sources(session=session, assignment=o)} for o in others)
        finished = {x.id for group in by_round.values() if all(y.status == "submitted" for y in group) for x in group}
        behind_finished = set(
            session.exec(select(Citation.source_id).join(Answer, Answer.id == Citation.answer_id).where(Answer.assignment_id.in_(finished)))
        )
        assert behind_finished and all(session.get(LegalSource, s).assignment_id is None for s in behind_finished)


def _replace(session: Session, old: LegalSource) -> LegalSource:
    """Write a new version of `old` and point the old row at it, as a correction does (review/evidence.py)."""
    new = LegalSource(
        country_iso3=old.country_iso3, instrument_type=old.instrument_type, title=old.title + " (corrected)", version=old.version + 1
    )
    session.add(new)
    session.flush()
    old.replaced_by_id = new.id
    session.add(old)
    session.flush()
    return new


def _answer(session: Session, book, assignment: Assignment) -> Answer:
    answer = Answer(assignment_id=assignment.id, indicator_id=book.indicator_ids[0], codebook_version=book.version)
    session.add(answer)
    session.flush()
    return answer


def test_a_citation_of_a_source_replaced_since_the_form_was_read_cites_its_current_version(session, book):
    coder = make_user(session, "coder")
    cr, a, _b = make_assignments(session, make_round(session, book), make_country(session, 0), coder, make_user(session))
    old = make_source(session, cr.country, title="Aliens Act")
    stale_ids = {s.id for s in list_sources(session=session, assignment=a)}  # read before the correction
    new = _replace(session, old)
    row = add_citation(
        session=session,
        codebook=book,
        assignment=a,
        answer=_answer(session, book, a),
        citation=CitationInput(source_id=old.id, new_source=None, pinpoint="Art. 1"),
        source_ids=stale_ids,
        user_id=coder.id,
    )
    assert row.source_id == new.id


def test_a_citation_saved_while_its_source_is_being_corrected_waits_and_cites_the_new_version(tiny_app, session, book):
    """The correction holds the source (PostgreSQL: its row; SQLite: the write lock); the save waits, then cites the new version."""
    engine = tiny_app.extensions["rightsdb.engine"]
    coder = make_user(session, "coder")
    cr, a, _b = make_assignments(session, make_round(session, book), make_country(session, 0), coder, make_user(session))
    old = make_source(session, cr.country, title="Aliens Act")
    session.commit()
    locked, done = threading.Event(), {}

    def correct():
        with Session(engine) as correcting:
            if engine.dialect.name == "sqlite":
                begin_sqlite_write(correcting.connection())  # as review/evidence.py does
            row = correcting.exec(select(LegalSource).where(LegalSource.id == old.id).with_for_update(key_share=True)).one()
            locked.set()
            done["new"] = _replace(correcting, row).id
            time.sleep(0.5)  # the coder's save arrives while the correction is still open
            correcting.commit()

    def cite():
        assert locked.wait(10)
        with Session(engine) as saving:
            assignment = saving.get(Assignment, a.id)
            hold_assignment(saving, assignment)  # what every save does first (coding/answers.py)
            citation = add_citation(
                session=saving,
                codebook=book,
                assignment=assignment,
                answer=_answer(saving, book, assignment),
                citation=CitationInput(source_id=old.id, new_source=None, pinpoint="Art. 1"),
                source_ids={old.id},
                user_id=coder.id,
            )
            saving.commit()
            done["cited"] = citation.source_id

    run_together(correct, cite)
    assert done["cited"] == done["new"]
