"""Saving a coder's answers (coding.answers): the audit of old and new, stale tabs, concurrent writes, read-only submissions, all-or-nothing saves."""

from __future__ import annotations

import pytest
from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import Session, select

from rightsdb.coding import answers as coding
from rightsdb.coding.answers import AnswerInput
from rightsdb.coding.citations import CitationInput
from rightsdb.errors import Forbidden, InvalidInput, NotFound
from rightsdb.models import Answer, AuditEvent, ConflictCopy
from tests.factories.coding import fill_assignment, make_source
from tests.factories.rounds import make_pair


def _load(session, assignment, coder_id=None):
    session.expire_all()
    return coding.load_assignment(session=session, assignment_id=assignment.id, coder_id=coder_id or assignment.coder_id)


def test_load_assignment_refuses_another_coders_assignment(session, codebook):
    coder_a, coder_b, _cr, a, _b = make_pair(session, codebook)
    session.commit()
    assert coding.load_assignment(session=session, assignment_id=a.id, coder_id=coder_a.id).id == a.id
    with pytest.raises(NotFound):
        coding.load_assignment(session=session, assignment_id=a.id, coder_id=coder_b.id)


def test_save_creates_answers_and_audits_old_and_new(session, codebook):
    _a_user, _b_user, cr, a, _b = make_pair(session, codebook)
    source = make_source(session, cr.country)
    session.commit()
    first, second = codebook.indicator_ids[:2]
    inputs = [
        AnswerInput(
            first,
            0,
            "conditional",
            ("permanent_residents",),
            "Only for residents.",
            new_citation=CitationInput(source_id=source.id, new_source=None, pinpoint="Art. 3", excerpt="Text"),
        ),
        AnswerInput(second, 0, None),
    ]
    outcome = coding.save_answers(
        session=session, codebook=codebook, assignment=_load(session, a), user_id=a.coder_id, inputs=inputs, payload={}
    )
    session.commit()
    assert outcome.changed == [first] and outcome.conflicts == []
    answer = session.exec(select(Answer).where(Answer.assignment_id == a.id)).one()
    assert (answer.indicator_id, answer.value, answer.groups, answer.version) == (first, "conditional", ["permanent_residents"], 1)
    assert [c.pinpoint for c in answer.citations] == ["Art. 3"]
    events = {e.action: e for e in session.exec(select(AuditEvent)).all()}
    assert events["answer.changed"].old["value"] is None and events["answer.changed"].new["value"] == "conditional"
    assert events["citation.added"].new["pinpoint"] == "Art. 3"
    assert {e.country_round_id for e in events.values()} == {cr.id}

    # A second save that changes the value bumps the version; removing the citation is audited too.
    record = _load(session, a)
    citation_id = record.answers[0].citations[0].id
    coding.save_answers(
        session=session,
        codebook=codebook,
        assignment=record,
        user_id=a.coder_id,
        payload={},
        inputs=[AnswerInput(first, 1, "provided", (), "All migrants.", remove_citation_ids=frozenset({citation_id}))],
    )
    session.commit()
    session.expire_all()
    answer = session.get(Answer, answer.id)
    assert (answer.value, answer.version, answer.citations) == ("provided", 2, [])
    removed = session.exec(select(AuditEvent).where(AuditEvent.action == "citation.removed")).one()
    assert removed.old["excerpt"] == "Text" and removed.country_round_id == cr.id


def test_outdated_save_that_changes_content_writes_nothing_and_keeps_a_copy(session, codebook):
    _a_user, _b_user, cr, a, _b = make_pair(session, codebook)
    first, second = codebook.indicator_ids[:2]
    coding.save_answers(
        session=session,
        codebook=codebook,
        assignment=_load(session, a),
        user_id=a.coder_id,
        payload={},
        inputs=[AnswerInput(first, 0, "provided", notes="tab one")],
    )
    session.commit()
    payload = {f"{first}-notes": ["tab two"]}
    outcome = coding.save_answers(
        session=session,
        codebook=codebook,
        assignment=_load(session, a),
        user_id=a.coder_id,
        payload=payload,
        inputs=[AnswerInput(first, 0, "provided", notes="tab two"), AnswerInput(second, 0, "not_provided", notes="searched")],
    )
    session.commit()
    assert outcome.conflicts == [first] and outcome.changed == []
    rows = session.exec(select(Answer).where(Answer.assignment_id == a.id)).all()
    assert [(r.indicator_id, r.notes) for r in rows] == [(first, "tab one")]  # the second indicator was not written either
    copy = session.get(ConflictCopy, outcome.conflict_copy_id)
    assert copy.payload == payload and copy.assignment_id == a.id


def test_outdated_version_with_unchanged_content_is_not_a_conflict(session, codebook):
    _a_user, _b_user, _cr, a, _b = make_pair(session, codebook)
    first, second = codebook.indicator_ids[:2]
    coding.save_answers(
        session=session,
        codebook=codebook,
        assignment=_load(session, a),
        user_id=a.coder_id,
        payload={},
        inputs=[AnswerInput(first, 0, "provided", notes="saved elsewhere")],
    )
    session.commit()
    outcome = coding.save_answers(
        session=session,
        codebook=codebook,
        assignment=_load(session, a),
        user_id=a.coder_id,
        payload={},
        inputs=[AnswerInput(first, 0, "provided", notes="saved elsewhere"), AnswerInput(second, 0, "not_provided", notes="searched")],
    )
    session.commit()
    assert outcome.conflicts == [] and outcome.changed == [second]


def test_concurrent_write_raises_stale_data(app, session, codebook):
    _a_user, _b_user, _cr, a, _b = make_pair(session, codebook)
    first = codebook.indicator_ids[0]
    coding.save_answers(
        session=session,
        codebook=codebook,
        assignment=_load(session, a),
        user_id=a.coder_id,
        payload={},
        inputs=[AnswerInput(first, 0, "provided")],
    )
    session.commit()
    record = _load(session, a)  # this request has read version 1 ...
    with Session(app.extensions["rightsdb.engine"]) as other:  # ... and another request saves first
        row = other.exec(select(Answer).where(Answer.assignment_id == a.id)).one()
        row.notes = "other request"
        other.add(row)
        other.commit()
    with pytest.raises(StaleDataError):
        coding.save_answers(
            session=session,
            codebook=codebook,
            assignment=record,
            user_id=a.coder_id,
            payload={},
            inputs=[AnswerInput(first, 1, "provided", notes="this request")],
        )
    session.rollback()


def test_submitted_assignment_is_read_only(session, codebook):
    _a_user, _b_user, _cr, a, _b = make_pair(session, codebook)
    fill_assignment(session, a, codebook, submit=True)
    session.commit()
    with pytest.raises(Forbidden):
        coding.save_answers(
            session=session,
            codebook=codebook,
            assignment=_load(session, a),
            user_id=a.coder_id,
            payload={},
            inputs=[AnswerInput(codebook.indicator_ids[0], 1, "not_provided")],
        )


def test_invalid_citation_row_refuses_the_whole_save(session, codebook):
    _a_user, _b_user, _cr, a, _b = make_pair(session, codebook)
    first, second = codebook.indicator_ids[:2]
    session.commit()
    with pytest.raises(InvalidInput) as raised:
        coding.save_answers(
            session=session,
            codebook=codebook,
            assignment=_load(session, a),
            user_id=a.coder_id,
            payload={},
            inputs=[
                AnswerInput(first, 0, "provided"),
                AnswerInput(second, 0, "provided", new_citation=CitationInput(None, None, pinpoint="Art. 1")),
            ],
        )
    assert raised.value.problems[0][0] == second and "Choose the legal source" in raised.value.problems[0][1]
    session.rollback()
    assert session.exec(select(Answer)).all() == []
