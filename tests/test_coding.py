"""Domain tests of the coder's workflow: saving, conflicts, submission rules, carry-forward, sources."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import Session, select

from rightsdb.coding import answers as coding
from rightsdb.coding import carry_forward, submission
from rightsdb.coding.citations import CitationInput, SourceInput, create_source, edit_source
from rightsdb.codebook.rules import url_problem
from rightsdb.coding.answers import AnswerInput
from rightsdb.errors import Forbidden, InvalidInput, NotFound
from rightsdb.models import Answer, AuditEvent, Citation, ConflictCopy, Decision, DecisionCitation, LegalSource
from tests.factories import fill_assignment, make_country, make_source
from tests.factories_coding import make_final_round, make_pair


def _load(session, assignment, coder_id=None):
    session.expire_all()
    return coding.load_assignment(session=session, assignment_id=assignment.id, coder_id=coder_id or assignment.coder_id)


def _problems(session, codebook, assignment):
    return submission.submission_problems(codebook=codebook, assignment=_load(session, assignment))


def test_load_assignment_refuses_another_coders_assignment(session, codebook):
    coder_a, coder_b, _cr, a, _b = make_pair(session, codebook)
    session.commit()
    assert coding.load_assignment(session=session, assignment_id=a.id, coder_id=coder_a.id).id == a.id
    with pytest.raises(NotFound):
        coding.load_assignment(session=session, assignment_id=a.id, coder_id=coder_b.id)


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


def test_save_creates_answers_and_audits_old_and_new(session, codebook):
    _a_user, _b_user, cr, a, _b = make_pair(session, codebook)
    source = make_source(session, cr.country)
    session.commit()
    first, second = codebook.indicator_ids[:2]
    inputs = [
        AnswerInput(first, 0, "conditional", ("permanent_residents",), "Only for residents.",
                    new_citation=CitationInput(source_id=source.id, new_source=None, pinpoint="Art. 3", excerpt="Text")),
        AnswerInput(second, 0, None),
    ]
    outcome = coding.save_answers(session=session, codebook=codebook, assignment=_load(session, a), user_id=a.coder_id,
                                  inputs=inputs, payload={})
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
    coding.save_answers(session=session, codebook=codebook, assignment=record, user_id=a.coder_id, payload={},
                        inputs=[AnswerInput(first, 1, "provided", (), "All migrants.", remove_citation_ids=frozenset({citation_id}))])
    session.commit()
    session.expire_all()
    answer = session.get(Answer, answer.id)
    assert (answer.value, answer.version, answer.citations) == ("provided", 2, [])
    removed = session.exec(select(AuditEvent).where(AuditEvent.action == "citation.removed")).one()
    assert removed.old["excerpt"] == "Text" and removed.country_round_id == cr.id


def test_outdated_save_that_changes_content_writes_nothing_and_keeps_a_copy(session, codebook):
    _a_user, _b_user, cr, a, _b = make_pair(session, codebook)
    first, second = codebook.indicator_ids[:2]
    coding.save_answers(session=session, codebook=codebook, assignment=_load(session, a), user_id=a.coder_id, payload={},
                        inputs=[AnswerInput(first, 0, "provided", notes="tab one")])
    session.commit()
    payload = {f"{first}-notes": ["tab two"]}
    outcome = coding.save_answers(
        session=session, codebook=codebook, assignment=_load(session, a), user_id=a.coder_id, payload=payload,
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
    coding.save_answers(session=session, codebook=codebook, assignment=_load(session, a), user_id=a.coder_id, payload={},
                        inputs=[AnswerInput(first, 0, "provided", notes="saved elsewhere")])
    session.commit()
    outcome = coding.save_answers(
        session=session, codebook=codebook, assignment=_load(session, a), user_id=a.coder_id, payload={},
        inputs=[AnswerInput(first, 0, "provided", notes="saved elsewhere"), AnswerInput(second, 0, "not_provided", notes="searched")],
    )
    session.commit()
    assert outcome.conflicts == [] and outcome.changed == [second]


def test_concurrent_write_raises_stale_data(app, session, codebook):
    _a_user, _b_user, _cr, a, _b = make_pair(session, codebook)
    first = codebook.indicator_ids[0]
    coding.save_answers(session=session, codebook=codebook, assignment=_load(session, a), user_id=a.coder_id, payload={},
                        inputs=[AnswerInput(first, 0, "provided")])
    session.commit()
    record = _load(session, a)  # this request has read version 1 ...
    with Session(app.extensions["rightsdb.engine"]) as other:  # ... and another request saves first
        row = other.exec(select(Answer).where(Answer.assignment_id == a.id)).one()
        row.notes = "other request"
        other.add(row)
        other.commit()
    with pytest.raises(StaleDataError):
        coding.save_answers(session=session, codebook=codebook, assignment=record, user_id=a.coder_id, payload={},
                            inputs=[AnswerInput(first, 1, "provided", notes="this request")])
    session.rollback()


def test_submitted_assignment_is_read_only(session, codebook):
    _a_user, _b_user, _cr, a, _b = make_pair(session, codebook)
    fill_assignment(session, a, codebook, submit=True)
    session.commit()
    with pytest.raises(Forbidden):
        coding.save_answers(session=session, codebook=codebook, assignment=_load(session, a), user_id=a.coder_id, payload={},
                            inputs=[AnswerInput(codebook.indicator_ids[0], 1, "not_provided")])


def test_invalid_citation_row_refuses_the_whole_save(session, codebook):
    _a_user, _b_user, _cr, a, _b = make_pair(session, codebook)
    first, second = codebook.indicator_ids[:2]
    session.commit()
    with pytest.raises(InvalidInput) as raised:
        coding.save_answers(session=session, codebook=codebook, assignment=_load(session, a), user_id=a.coder_id, payload={},
                            inputs=[AnswerInput(first, 0, "provided"),
                                    AnswerInput(second, 0, "provided", new_citation=CitationInput(None, None, pinpoint="Art. 1"))])
    assert raised.value.problems[0][0] == second and "Choose the legal source" in raised.value.problems[0][1]
    session.rollback()
    assert session.exec(select(Answer)).all() == []


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


def test_carry_forward_copies_final_values_into_unanswered_indicators(session, codebook):
    _a_user, _b_user, old_cr, _old_a, _old_b = make_pair(session, codebook, round_name="2020", reference_date=date(2020, 1, 1))
    first, second, third = codebook.indicator_ids[:3]
    standing = make_final_round(session, codebook, old_cr, {first: "provided", second: "conditional", third: "not_provided"},
                                groups={second: ["refugees_asylum_seekers"]})
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
        standing[first].source_id, standing[first].pinpoint, standing[first].excerpt, "Old translation")
    assert copied.id != standing[first].id
    events = session.exec(select(AuditEvent).where(AuditEvent.action == "answer.carried_forward")).all()
    assert len(events) == 2 and {e.country_round_id for e in events} == {cr.id}
    problems = dict(submission.submission_problems(codebook=codebook, assignment=record))
    assert "confirm or change it" in problems[first]

    # Confirming clears the flag; changing the value clears it too.
    coding.save_answers(session=session, codebook=codebook, assignment=record, user_id=a.coder_id, payload={}, inputs=[
        AnswerInput(first, answers[first].version, "provided", confirm=True),
        AnswerInput(second, answers[second].version, "provided"),
    ])
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
    twin = Citation(answer_id=twin_answer.id, source_id=original.source_id, pinpoint=original.pinpoint, excerpt=original.excerpt,
                    translation=original.translation)
    other = Citation(answer_id=twin_answer.id, source_id=original.source_id, pinpoint="Art. 99", excerpt="Another provision")
    session.add_all([twin, other])
    session.flush()
    decision = session.exec(select(Decision).where(Decision.country_round_id == old_cr.id)).one()
    session.add_all([DecisionCitation(decision_id=decision.id, citation_id=twin.id), DecisionCitation(decision_id=decision.id, citation_id=other.id)])
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


def test_measure_progress_counts_answers_and_missing_citations(session, codebook):
    _a_user, _b_user, _cr, a, _b = make_pair(session, codebook)
    first, second = codebook.indicator_ids[:2]
    coding.save_answers(session=session, codebook=codebook, assignment=_load(session, a), user_id=a.coder_id, payload={},
                        inputs=[AnswerInput(first, 0, "provided"), AnswerInput(second, 0, "not_applicable", notes="No such body.")])
    session.commit()
    progress = submission.measure_progress(codebook=codebook, assignment=_load(session, a))
    assert (progress.answered, progress.total, progress.missing_citation) == (2, len(codebook.indicators), 1)
    category = codebook.indicators[0].category
    assert progress.by_category[category][0] == 2
    assert len(progress.problems) == len(codebook.indicators) - 1


@pytest.mark.parametrize("url, ok", [("", True), ("https://example.org/a?b=1", True), ("http://x.test", True),
                                     ("ftp://example.org", False), ("javascript:alert(1)", False), ("example.org", False),
                                     ("https://exa mple.org", False)])
def test_url_rule(url, ok):
    assert (url_problem(url) is None) is ok


def test_sources_are_validated_audited_and_scoped_to_the_country(session, codebook):
    user_a, _b_user, cr, _a, _b = make_pair(session, codebook)
    other_country = make_country(session, 1)
    with pytest.raises(InvalidInput) as raised:
        create_source(session=session, codebook=codebook, country_iso3=cr.country_iso3, user_id=user_a.id, country_round_id=cr.id,
                      source=SourceInput(instrument_type="poem", title="", url="ftp://x"))
    assert {field for field, _ in raised.value.problems} == {"instrument_type", "title", "url"}
    source = create_source(session=session, codebook=codebook, country_iso3=cr.country_iso3, user_id=user_a.id, country_round_id=cr.id,
                           source=SourceInput("statute", "Aufenthaltsgesetz", "https://www.gesetze-im-internet.de/aufenthg_2004/",
                                              date(2005, 1, 1), "de"))
    edit_source(session=session, codebook=codebook, country_iso3=cr.country_iso3, source_id=source.id, user_id=user_a.id,
                country_round_id=cr.id, source=SourceInput("statute", "Aufenthaltsgesetz (AufenthG)", source.url, date(2005, 1, 1), "de"))
    with pytest.raises(NotFound):
        edit_source(session=session, codebook=codebook, country_iso3=other_country.iso3, source_id=source.id, user_id=user_a.id,
                    country_round_id=cr.id, source=SourceInput("statute", "Hijacked", ""))
    session.commit()
    assert session.get(LegalSource, source.id).title == "Aufenthaltsgesetz (AufenthG)"
    events = session.exec(select(AuditEvent).where(AuditEvent.entity == "legal_source").order_by(AuditEvent.id)).all()
    assert [e.action for e in events] == ["source.created", "source.edited"]
    assert events[1].old["title"] == "Aufenthaltsgesetz" and events[1].new["title"] == "Aufenthaltsgesetz (AufenthG)"
