"""Submitting an assignment (coding.submission): each rule names the indicator, the audit, the comparison once both codings are in, progress."""

from __future__ import annotations

import pytest
from sqlmodel import select

from rightsdb.coding import answers as coding
from rightsdb.coding import submission
from rightsdb.coding.answers import AnswerInput
from rightsdb.errors import InvalidInput
from rightsdb.models import AuditEvent, Citation
from tests.factories.coding import fill_assignment, make_source
from tests.factories.rounds import make_pair


def _load(session, assignment, coder_id=None):
    session.expire_all()
    return coding.load_assignment(session=session, assignment_id=assignment.id, coder_id=coder_id or assignment.coder_id)


def _problems(session, codebook, assignment):
    return submission.submission_problems(codebook=codebook, assignment=_load(session, assignment))


def test_complete_assignment_submits_and_is_audited(session, codebook):
    _a_user, _b_user, cr, a, _b = make_pair(session, codebook)
    fill_assignment(session, a, codebook, {codebook.indicator_ids[0]: "conditional"})
    session.commit()
    record = _load(session, a)
    assert submission.submission_problems(codebook=codebook, assignment=record) == []
    submission.submit_assignment(session=session, codebook=codebook, assignment=record, user_id=a.coder_id)
    session.commit()
    assert record.status == "submitted" and record.submitted_at is not None
    events = session.exec(select(AuditEvent).where(AuditEvent.action == "assignment.submitted")).all()
    assert [(e.entity_id, e.country_round_id) for e in events] == [(str(a.id), cr.id)]
    assert cr.compared_at is None  # only one of the two codings is in


@pytest.mark.parametrize(
    "value, change, expected",
    [
        (None, None, "not answered"),
        ("provided", "drop_citations", "needs at least one citation"),
        ("conditional", "drop_citations", "needs at least one citation"),
        ("conditional", "drop_groups", "conditional answer needs at least one migrant group"),
        ("not_provided", "drop_citations", "needs a citation or a note saying what was searched"),
        ("not_applicable", "drop_notes", "needs the reason it is not applicable in the notes"),
        ("provided", "carry", "carried forward from an earlier round: confirm or change it"),
    ],
)
def test_each_submission_rule_names_the_indicator(session, codebook, value, change, expected):
    _a_user, _b_user, _cr, a, _b = make_pair(session, codebook)
    target = codebook.indicators[3]
    answers = fill_assignment(session, a, codebook, {target.id: value or "provided"})
    answer = next(x for x in answers if x.indicator_id == target.id)
    if value is None:
        answer.value = None
    if change == "drop_citations":
        for citation in session.exec(select(Citation).where(Citation.answer_id == answer.id)).all():
            session.delete(citation)
    elif change == "drop_groups":
        answer.groups = []
    elif change == "drop_notes":
        answer.notes = "  "
    elif change == "carry":
        answer.carried_forward = True
    session.add(answer)
    session.commit()
    problems = _problems(session, codebook, a)
    assert problems == [(target.id, f"{target.id} ({target.short_label}): {expected}")]
    with pytest.raises(InvalidInput) as raised:
        submission.submit_assignment(session=session, codebook=codebook, assignment=_load(session, a), user_id=a.coder_id)
    assert raised.value.problems == problems
    session.rollback()
    assert _load(session, a).status == "in_progress"


def test_not_provided_with_a_note_and_no_citation_is_acceptable(session, codebook):
    _a_user, _b_user, _cr, a, _b = make_pair(session, codebook)
    target = codebook.indicator_ids[0]
    answers = fill_assignment(session, a, codebook, {target: "not_provided"})
    answer = next(x for x in answers if x.indicator_id == target)
    for citation in session.exec(select(Citation).where(Citation.answer_id == answer.id)).all():
        session.delete(citation)
    answer.notes = "Searched the Aliens Act, the Constitution and the Supreme Court database: nothing."
    session.add(answer)
    session.commit()
    assert _problems(session, codebook, a) == []


def test_both_submissions_trigger_the_comparison(session, codebook):
    _a_user, _b_user, cr, a, b = make_pair(session, codebook)
    source = make_source(session, cr.country)
    fill_assignment(session, a, codebook, source=source)
    fill_assignment(session, b, codebook, source=source, submit=True)
    session.commit()
    submission.submit_assignment(session=session, codebook=codebook, assignment=_load(session, a), user_id=a.coder_id)
    session.commit()
    session.expire_all()
    assert session.get(type(cr), cr.id).compared_at is not None


def test_measure_progress_counts_answers_and_missing_citations(session, codebook):
    _a_user, _b_user, _cr, a, _b = make_pair(session, codebook)
    first, second = codebook.indicator_ids[:2]
    coding.save_answers(
        session=session,
        codebook=codebook,
        assignment=_load(session, a),
        user_id=a.coder_id,
        payload={},
        inputs=[AnswerInput(first, 0, "provided"), AnswerInput(second, 0, "not_applicable", notes="No such body.")],
    )
    session.commit()
    progress = submission.measure_progress(codebook=codebook, assignment=_load(session, a))
    assert (progress.answered, progress.total, progress.missing_citation) == (2, len(codebook.indicators), 1)
    category = codebook.indicators[0].category
    assert progress.by_category[category][0] == 2
    assert len(progress.problems) == len(codebook.indicators) - 1
