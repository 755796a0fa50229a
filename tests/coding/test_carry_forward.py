"""Carry-forward (coding.carry_forward): an earlier round's final values and citations fill the indicators not answered yet."""

from __future__ import annotations

from datetime import date

import pytest
from sqlmodel import select

from rightsdb.coding import answers as coding
from rightsdb.coding import carry_forward, submission
from rightsdb.coding.answers import AnswerInput
from rightsdb.errors import NotFound
from rightsdb.models import Answer, AuditEvent, Citation, Decision, DecisionCitation
from tests.factories.coding import make_final_round
from tests.factories.rounds import make_pair


def _load(session, assignment, coder_id=None):
    session.expire_all()
    return coding.load_assignment(session=session, assignment_id=assignment.id, coder_id=coder_id or assignment.coder_id)


def test_carry_forward_copies_final_values_into_unanswered_indicators(session, codebook):
    _a_user, _b_user, old_cr, _old_a, _old_b = make_pair(session, codebook, round_name="2020", reference_date=date(2020, 1, 1))
    first, second, third = codebook.indicator_ids[:3]
    standing = make_final_round(
        session,
        codebook,
        old_cr,
        {first: "provided", second: "conditional", third: "not_provided"},
        groups={second: ["refugees_asylum_seekers"]},
    )
    _c, _d, cr, a, _b = make_pair(session, codebook, round_name="2026")
    session.add(Answer(assignment_id=a.id, indicator_id=third, value="provided", codebook_version=codebook.version))
    session.commit()
    record = _load(session, a)
    assert carry_forward.find_previous_final(session=session, assignment=record).id == old_cr.id
    filled = carry_forward.carry_forward(session=session, codebook=codebook, assignment=record, user_id=a.coder_id)
    session.commit()
    assert filled == 2
    record = _load(session, a)
    answers = {x.indicator_id: x for x in record.answers}
    assert (answers[first].value, answers[first].carried_forward) == ("provided", True)
    assert (answers[second].groups, answers[second].carried_forward) == (["refugees_asylum_seekers"], True)
    assert (answers[third].value, answers[third].carried_forward) == ("provided", False)  # already answered: untouched
    copied = answers[first].citations[0]
    assert (copied.source_id, copied.pinpoint, copied.excerpt, copied.translation) == (
        standing[first].source_id,
        standing[first].pinpoint,
        standing[first].excerpt,
        "Old translation",
    )
    assert copied.id != standing[first].id
    events = session.exec(select(AuditEvent).where(AuditEvent.action == "answer.carried_forward")).all()
    assert len(events) == 2 and {e.country_round_id for e in events} == {cr.id}
    problems = dict(submission.submission_problems(codebook=codebook, assignment=record))
    assert "confirm or change it" in problems[first]

    # Confirming clears the flag; changing the value clears it too.
    coding.save_answers(
        session=session,
        codebook=codebook,
        assignment=record,
        user_id=a.coder_id,
        payload={},
        inputs=[
            AnswerInput(first, answers[first].version, "provided", confirm=True),
            AnswerInput(second, answers[second].version, "provided"),
        ],
    )
    session.commit()
    answers = {x.indicator_id: x for x in _load(session, a).answers}
    assert not answers[first].carried_forward and not answers[second].carried_forward


def test_carry_forward_copies_a_citation_both_coders_gave_only_once(session, codebook):
    """An agreed value keeps both coders' citations; identical ones are carried into the next round once."""
    _a_user, _b_user, old_cr, _old_a, old_b = make_pair(session, codebook, round_name="2020", reference_date=date(2020, 1, 1))
    first = codebook.indicator_ids[0]
    standing = make_final_round(session, codebook, old_cr, {first: "provided"})
    twin_answer = Answer(assignment_id=old_b.id, indicator_id=first, value="provided", codebook_version=codebook.version)
    session.add(twin_answer)
    session.flush()
    original = standing[first]
    twin = Citation(
        answer_id=twin_answer.id,
        source_id=original.source_id,
        pinpoint=original.pinpoint,
        excerpt=original.excerpt,
        translation=original.translation,
    )
    other = Citation(answer_id=twin_answer.id, source_id=original.source_id, pinpoint="Art. 99", excerpt="Another provision")
    session.add_all([twin, other])
    session.flush()
    decision = session.exec(select(Decision).where(Decision.country_round_id == old_cr.id)).one()
    session.add_all(
        [DecisionCitation(decision_id=decision.id, citation_id=twin.id), DecisionCitation(decision_id=decision.id, citation_id=other.id)]
    )
    _c, _d, _cr, a, _b = make_pair(session, codebook, round_name="2026")
    session.commit()
    carry_forward.carry_forward(session=session, codebook=codebook, assignment=_load(session, a), user_id=a.coder_id)
    session.commit()
    carried = {x.indicator_id: x for x in _load(session, a).answers}[first].citations
    assert sorted(c.pinpoint for c in carried) == sorted([original.pinpoint, "Art. 99"])


def test_carry_forward_needs_an_earlier_final_round(session, codebook):
    _a_user, _b_user, old_cr, _x, _y = make_pair(session, codebook, round_name="2030", reference_date=date(2030, 1, 1))
    make_final_round(session, codebook, old_cr, {codebook.indicator_ids[0]: "provided"})  # later round: not a source
    _c, _d, _cr, a, _b = make_pair(session, codebook, round_name="2026")
    session.commit()
    record = _load(session, a)
    assert carry_forward.find_previous_final(session=session, assignment=record) is None
    with pytest.raises(NotFound):
        carry_forward.carry_forward(session=session, codebook=codebook, assignment=record, user_id=a.coder_id)
