"""Comparison, the disagreement queue, reconciliation, finalization, corrections and codebook flags."""

from __future__ import annotations

import dataclasses

import pytest
from sqlmodel import Session, select

from rightsdb.errors import Conflict, InvalidInput
from rightsdb.models import Answer, AuditEvent, Citation, CodebookFlag, CountryRound, Decision, DecisionCitation
from rightsdb.review import flags, reconciliation
from rightsdb.review.reconciliation import compare_country_round, correct, resolve
from tests.factories.people import make_user
from tests.factories.rounds import make_round
from tests.factories.supervision import make_double_coding


def _ids(codebook):
    return codebook.indicator_ids


def _citations(session, assignment, indicator_id):
    answer = session.exec(select(Answer).where(Answer.assignment_id == assignment.id, Answer.indicator_id == indicator_id)).one()
    return [c.id for c in session.exec(select(Citation).where(Citation.answer_id == answer.id)).all()]


def _snapshot(session, assignments):
    rows = session.exec(select(Answer).where(Answer.assignment_id.in_([a.id for a in assignments])).order_by(Answer.id)).all()
    return [(r.id, r.value, list(r.groups), r.notes, r.version, r.updated_by_id) for r in rows]


@pytest.fixture
def disagreeing(session, codebook):
    """A country-round where the coders disagree on the first two indicators."""
    first, second = _ids(codebook)[:2]
    round_ = make_round(session, codebook)
    cr, a, b = make_double_coding(
        session,
        codebook,
        round_,
        values_a={first: "provided", second: "conditional"},
        values_b={first: "not_provided", second: "conditional"},
        groups_b={second: ["irregular_migrants"]},
    )
    session.commit()
    return cr, a, b


def test_compare_waits_for_both_submissions(session, codebook):
    round_ = make_round(session, codebook)
    cr, a, b = make_double_coding(session, codebook, round_, submit_b=False)
    result = compare_country_round(session=session, codebook=codebook, country_round=cr)
    assert result.compared is False
    assert cr.compared_at is None
    assert session.exec(select(Decision)).all() == []


def test_agreed_indicators_are_accepted_with_both_coders_citations(session, codebook, disagreeing):
    cr, a, b = disagreeing
    result = compare_country_round(session=session, codebook=codebook, country_round=cr)
    session.commit()
    first, second, third = _ids(codebook)[:3]
    # Different groups on a conditional answer is a disagreement, like a different value.
    assert result.disagreements == [first, second]
    assert len(result.agreed) == len(_ids(codebook)) - 2
    assert cr.compared_at is not None and cr.finalized_at is None
    decision = session.exec(select(Decision).where(Decision.country_round_id == cr.id, Decision.indicator_id == third)).one()
    assert decision.outcome == "agreed" and decision.decided_by_id is None and decision.value == "provided"
    kept = set(session.exec(select(DecisionCitation.citation_id).where(DecisionCitation.decision_id == decision.id)).all())
    assert kept == set(_citations(session, a, third)) | set(_citations(session, b, third))
    assert len(kept) == 2
    actions = session.exec(select(AuditEvent.action).where(AuditEvent.country_round_id == cr.id)).all()
    assert actions.count("decision.agreed") == len(result.agreed)
    assert "country_round.compare" in actions
    assert reconciliation.disagreement_queue(session=session, codebook=codebook, country_round=cr) == [first, second]


def test_compare_is_idempotent(session, codebook, disagreeing):
    cr, _a, _b = disagreeing
    compare_country_round(session=session, codebook=codebook, country_round=cr)
    session.commit()
    events = len(session.exec(select(AuditEvent)).all())
    decisions = len(session.exec(select(Decision)).all())
    again = compare_country_round(session=session, codebook=codebook, country_round=cr)
    session.commit()
    assert len(session.exec(select(AuditEvent)).all()) == events
    assert len(session.exec(select(Decision)).all()) == decisions
    assert again.compared and len(again.disagreements) == 2


def test_full_agreement_finalizes_at_once(session, codebook):
    round_ = make_round(session, codebook)
    cr, _a, _b = make_double_coding(session, codebook, round_)
    result = compare_country_round(session=session, codebook=codebook, country_round=cr)
    assert result.finalized and result.disagreements == []
    assert cr.finalized_at is not None
    assert session.exec(select(AuditEvent).where(AuditEvent.action == "country_round.finalize")).one()


def test_reason_is_required_and_nothing_is_written(session, codebook, disagreeing):
    cr, a, _b = disagreeing
    compare_country_round(session=session, codebook=codebook, country_round=cr)
    session.commit()
    first = _ids(codebook)[0]
    supervisor = make_user(session, "supervisor")
    with pytest.raises(InvalidInput) as info:
        resolve(
            session=session,
            codebook=codebook,
            country_round_id=cr.id,
            indicator_id=first,
            choice="A",
            citation_ids=_citations(session, a, first),
            reason="  ",
            actor_id=supervisor.id,
        )
    assert ("reason", "Write the reason for this decision.") in info.value.problems
    assert session.exec(select(Decision).where(Decision.indicator_id == first)).first() is None


def test_provided_needs_a_citation_and_conditional_needs_groups(session, codebook, disagreeing):
    cr, _a, _b = disagreeing
    compare_country_round(session=session, codebook=codebook, country_round=cr)
    supervisor = make_user(session, "supervisor")
    first = _ids(codebook)[0]
    with pytest.raises(InvalidInput) as info:
        resolve(
            session=session,
            codebook=codebook,
            country_round_id=cr.id,
            indicator_id=first,
            choice="A",
            citation_ids=[],
            reason="Art. 3 applies",
            actor_id=supervisor.id,
        )
    assert [name for name, _ in info.value.problems] == ["citations"]
    with pytest.raises(InvalidInput) as info:
        resolve(
            session=session,
            codebook=codebook,
            country_round_id=cr.id,
            indicator_id=first,
            choice="other",
            value="conditional",
            groups=[],
            citation_ids=[],
            reason="r",
            actor_id=supervisor.id,
        )
    assert "groups" in [name for name, _ in info.value.problems]


def test_reconciling_every_disagreement_finalizes_and_leaves_answers_untouched(session, codebook, disagreeing):
    cr, a, b = disagreeing
    compare_country_round(session=session, codebook=codebook, country_round=cr)
    session.commit()
    before = _snapshot(session, [a, b])
    supervisor = make_user(session, "supervisor")
    first, second = _ids(codebook)[:2]
    d1 = resolve(
        session=session,
        codebook=codebook,
        country_round_id=cr.id,
        indicator_id=first,
        choice="B",
        citation_ids=_citations(session, b, first),
        reason="The statute was repealed.",
        actor_id=supervisor.id,
    )
    assert cr.finalized_at is None
    d2 = resolve(
        session=session,
        codebook=codebook,
        country_round_id=cr.id,
        indicator_id=second,
        choice="other",
        value="conditional",
        groups=["permanent_residents", "irregular_migrants"],
        citation_ids=_citations(session, a, second),
        reason="Both groups are covered.",
        actor_id=supervisor.id,
    )
    session.commit()
    assert (d1.value, d1.chosen, d1.outcome, d1.decided_by_id) == ("not_provided", "B", "reconciled", supervisor.id)
    assert d2.groups == ["irregular_migrants", "permanent_residents"]
    assert session.get(CountryRound, cr.id).finalized_at is not None
    assert _snapshot(session, [a, b]) == before
    event = session.exec(select(AuditEvent).where(AuditEvent.action == "decision.reconcile", AuditEvent.entity_id == first)).one()
    assert event.user_id == supervisor.id and event.new["reason"] == "The statute was repealed."
    # A correction afterwards also leaves the coders' answers alone.
    correct(
        session=session,
        codebook=codebook,
        decision_id=d1.id,
        expected_version=d1.version,
        choice="A",
        citation_ids=_citations(session, a, first),
        reason="Misread the date.",
        actor_id=supervisor.id,
    )
    session.commit()
    assert _snapshot(session, [a, b]) == before


def test_correction_needs_reason_checks_version_and_audits_old_value(session, codebook, disagreeing):
    cr, a, b = disagreeing
    compare_country_round(session=session, codebook=codebook, country_round=cr)
    supervisor = make_user(session, "supervisor")
    first, second = _ids(codebook)[:2]
    resolve(
        session=session,
        codebook=codebook,
        country_round_id=cr.id,
        indicator_id=first,
        choice="A",
        citation_ids=_citations(session, a, first),
        reason="r1",
        actor_id=supervisor.id,
    )
    resolve(
        session=session,
        codebook=codebook,
        country_round_id=cr.id,
        indicator_id=second,
        choice="A",
        citation_ids=_citations(session, a, second),
        reason="r2",
        actor_id=supervisor.id,
    )
    session.commit()
    assert cr.finalized_at is not None
    third = _ids(codebook)[2]
    decision = session.exec(select(Decision).where(Decision.country_round_id == cr.id, Decision.indicator_id == third)).one()
    with pytest.raises(InvalidInput):
        correct(
            session=session,
            codebook=codebook,
            decision_id=decision.id,
            expected_version=decision.version,
            choice="other",
            value="not_provided",
            citation_ids=[],
            reason="",
            actor_id=supervisor.id,
        )
    with pytest.raises(Conflict):
        correct(
            session=session,
            codebook=codebook,
            decision_id=decision.id,
            expected_version=decision.version + 1,
            choice="other",
            value="not_provided",
            citation_ids=[],
            reason="Repealed in 2025.",
            actor_id=supervisor.id,
        )
    old_version = decision.version
    correct(
        session=session,
        codebook=codebook,
        decision_id=decision.id,
        expected_version=old_version,
        choice="other",
        value="not_provided",
        citation_ids=[],
        reason="Repealed in 2025.",
        actor_id=supervisor.id,
    )
    session.commit()
    fresh = session.get(Decision, decision.id)
    assert fresh.value == "not_provided" and fresh.corrected and fresh.version == old_version + 1
    event = session.exec(select(AuditEvent).where(AuditEvent.action == "decision.correct")).one()
    assert event.old["value"] == "provided" and event.new["value"] == "not_provided"
    assert event.new["reason"] == "Repealed in 2025." and event.user_id == supervisor.id


def test_two_supervisors_deciding_at_once_one_wins(app, codebook, disagreeing, monkeypatch):
    cr, a, b = disagreeing
    engine = app.extensions["rightsdb.engine"]
    first = _ids(codebook)[0]
    with Session(engine, expire_on_commit=False) as setup:
        compare_country_round(session=setup, codebook=codebook, country_round=setup.get(CountryRound, cr.id))
        alice, bob = make_user(setup, "supervisor", name="Alice"), make_user(setup, "supervisor", name="Bob")
        cite_a, cite_b = _citations(setup, a, first), _citations(setup, b, first)
        setup.commit()
    with Session(engine, expire_on_commit=False) as s1, Session(engine, expire_on_commit=False) as s2:
        resolve(
            session=s1,
            codebook=codebook,
            country_round_id=cr.id,
            indicator_id=first,
            choice="A",
            citation_ids=cite_a,
            reason="Alice's reason",
            actor_id=alice.id,
        )
        s1.commit()
        # Bob loaded the indicator before Alice committed: his check saw no decision.
        real_review = reconciliation.review_indicator
        monkeypatch.setattr(reconciliation, "review_indicator", lambda **kw: dataclasses.replace(real_review(**kw), decision=None))
        with pytest.raises(Conflict, match="already decided by Alice"):
            resolve(
                session=s2,
                codebook=codebook,
                country_round_id=cr.id,
                indicator_id=first,
                choice="B",
                citation_ids=cite_b,
                reason="Bob's reason",
                actor_id=bob.id,
            )
        s2.commit()
    monkeypatch.undo()
    with Session(engine) as check:
        decisions = check.exec(select(Decision).where(Decision.country_round_id == cr.id, Decision.indicator_id == first)).all()
        assert [(d.decided_by_id, d.reason) for d in decisions] == [(alice.id, "Alice's reason")]
        kept = set(check.exec(select(DecisionCitation.citation_id).where(DecisionCitation.decision_id == decisions[0].id)).all())
        assert kept == set(cite_a)
        events = check.exec(select(AuditEvent).where(AuditEvent.action == "decision.reconcile")).all()
        assert [e.user_id for e in events] == [alice.id]


def test_second_supervisor_gets_a_clear_message(session, codebook, disagreeing):
    cr, a, _b = disagreeing
    compare_country_round(session=session, codebook=codebook, country_round=cr)
    alice, bob = make_user(session, "supervisor", name="Alice"), make_user(session, "supervisor", name="Bob")
    first = _ids(codebook)[0]
    resolve(
        session=session,
        codebook=codebook,
        country_round_id=cr.id,
        indicator_id=first,
        choice="A",
        citation_ids=_citations(session, a, first),
        reason="r",
        actor_id=alice.id,
    )
    session.commit()
    with pytest.raises(Conflict, match="already decided by Alice"):
        resolve(
            session=session,
            codebook=codebook,
            country_round_id=cr.id,
            indicator_id=first,
            choice="B",
            citation_ids=[],
            reason="r",
            actor_id=bob.id,
        )


def test_flag_indicator_as_unclear(session, codebook, disagreeing):
    cr, _a, _b = disagreeing
    supervisor = make_user(session, "supervisor")
    first = _ids(codebook)[0]
    with pytest.raises(InvalidInput):
        flags.flag_indicator(session=session, codebook=codebook, indicator_id=first, note=" ", actor_id=supervisor.id)
    flag = flags.flag_indicator(
        session=session,
        codebook=codebook,
        indicator_id=first,
        note="“Authorised official” is undefined.",
        actor_id=supervisor.id,
        country_round_id=cr.id,
    )
    session.commit()
    assert flag.codebook_version == codebook.version
    assert [(f.id, u.id) for f, u in flags.open_flags(session=session)] == [(flag.id, supervisor.id)]
    assert session.exec(select(AuditEvent).where(AuditEvent.action == "codebook.flag")).one().new["indicator"] == first
    flags.close_flag(session=session, flag_id=flag.id, actor_id=supervisor.id)
    session.commit()
    assert flags.open_flags(session=session) == []
    assert session.get(CodebookFlag, flag.id).resolved


def test_concurrent_corrections_one_wins(app, codebook, disagreeing):
    cr, a, b = disagreeing
    engine = app.extensions["rightsdb.engine"]
    third = _ids(codebook)[2]
    with Session(engine, expire_on_commit=False) as setup:
        compare_country_round(session=setup, codebook=codebook, country_round=setup.get(CountryRound, cr.id))
        alice, bob = make_user(setup, "supervisor", name="Alice"), make_user(setup, "supervisor", name="Bob")
        setup.commit()
    with Session(engine, expire_on_commit=False) as s1, Session(engine, expire_on_commit=False) as s2:
        # Both opened the page at version 1.
        d1 = s1.exec(select(Decision).where(Decision.indicator_id == third)).one()
        d2 = s2.exec(select(Decision).where(Decision.indicator_id == third)).one()
        s2.commit()  # end s2's read so its next statement sees Alice's commit
        correct(
            session=s1,
            codebook=codebook,
            decision_id=d1.id,
            expected_version=1,
            choice="other",
            value="not_provided",
            citation_ids=[],
            reason="Alice",
            actor_id=alice.id,
        )
        s1.commit()
        with pytest.raises(Conflict):
            correct(
                session=s2,
                codebook=codebook,
                decision_id=d2.id,
                expected_version=1,
                choice="other",
                value="not_applicable",
                citation_ids=[],
                reason="Bob",
                actor_id=bob.id,
            )
    with Session(engine) as check:
        decision = check.exec(select(Decision).where(Decision.indicator_id == third)).one()
        assert (decision.value, decision.reason, decision.version) == ("not_provided", "Alice", 2)
        assert [e.user_id for e in check.exec(select(AuditEvent).where(AuditEvent.action == "decision.correct")).all()] == [alice.id]
