"""Rounds, assigning and reassigning coders, and sending an assignment back (review.assignments)."""

from __future__ import annotations

from datetime import date

import pytest
from sqlmodel import select

from rightsdb.errors import Conflict, InvalidInput
from rightsdb.models import Answer, Assignment, AuditEvent, CountryRound, Decision, DecisionCitation
from rightsdb.review import assignments
from rightsdb.review.reconciliation import compare_country_round, resolve
from tests.factories.countries import make_country
from tests.factories.people import make_user
from tests.factories.rounds import make_round
from tests.factories.supervision import make_double_coding


def test_open_round_uses_current_codebook_and_refuses_duplicate_names(session, codebook):
    supervisor = make_user(session, "supervisor")
    round_ = assignments.open_round(
        session=session, codebook=codebook, name=" 2026 ", reference_date=date(2026, 1, 1), notes="Pilot", actor_id=supervisor.id
    )
    session.commit()
    assert (round_.name, round_.codebook_version, round_.created_by_id) == ("2026", codebook.version, supervisor.id)
    assert session.exec(select(AuditEvent).where(AuditEvent.action == "round.open")).one().new["name"] == "2026"
    with pytest.raises(Conflict):
        assignments.open_round(
            session=session, codebook=codebook, name="2026", reference_date=date(2027, 1, 1), notes="", actor_id=supervisor.id
        )


def test_assign_two_different_active_coders(session, codebook):
    supervisor = make_user(session, "supervisor")
    alice, bob = make_user(session, "coder"), make_user(session, "coder")
    round_ = make_round(session, codebook)
    make_country(session, 0), make_country(session, 1)
    created = assignments.assign_countries(
        session=session, round_id=round_.id, country_iso3s=["XBB", "XAA"], coder_a_id=alice.id, coder_b_id=bob.id, actor_id=supervisor.id
    )
    session.commit()
    assert [cr.country_iso3 for cr in created] == ["XAA", "XBB"]
    rows = session.exec(
        select(Assignment.slot, Assignment.coder_id).where(Assignment.country_round_id == created[0].id).order_by(Assignment.slot)
    ).all()
    assert rows == [("A", alice.id), ("B", bob.id)]
    assert len(session.exec(select(AuditEvent).where(AuditEvent.action == "assignment.create")).all()) == 4
    with pytest.raises(Conflict):
        assignments.assign_countries(
            session=session, round_id=round_.id, country_iso3s=["XAA"], coder_a_id=alice.id, coder_b_id=bob.id, actor_id=supervisor.id
        )


def test_assigning_the_same_coder_twice_is_refused(session, codebook):
    supervisor, alice = make_user(session, "supervisor"), make_user(session, "coder")
    round_ = make_round(session, codebook)
    make_country(session, 0)
    with pytest.raises(InvalidInput) as info:
        assignments.assign_countries(
            session=session, round_id=round_.id, country_iso3s=["XAA"], coder_a_id=alice.id, coder_b_id=alice.id, actor_id=supervisor.id
        )
    assert info.value.problems[0][0] == "coder_b"
    assert session.exec(select(CountryRound)).all() == []


def test_deactivated_or_non_coders_cannot_be_assigned(session, codebook):
    supervisor, alice = make_user(session, "supervisor"), make_user(session, "coder")
    gone = make_user(session, "coder", active=False)
    round_ = make_round(session, codebook)
    make_country(session, 0)
    for other in (gone, supervisor):
        with pytest.raises(InvalidInput):
            assignments.assign_countries(
                session=session, round_id=round_.id, country_iso3s=["XAA"], coder_a_id=alice.id, coder_b_id=other.id, actor_id=supervisor.id
            )
    assert gone not in assignments.active_coders(session=session)
    assert alice in assignments.active_coders(session=session)


def test_reassign_keeps_the_answers_and_their_attribution(session, codebook):
    supervisor = make_user(session, "supervisor")
    round_ = make_round(session, codebook)
    cr, a, b = make_double_coding(session, codebook, round_, submit_a=False, submit_b=False)
    leaving = a.coder_id
    newcomer = make_user(session, "coder", name="Newcomer")
    with pytest.raises(InvalidInput):  # the other slot's coder would break independence
        assignments.reassign(session=session, assignment_id=a.id, coder_id=b.coder_id, actor_id=supervisor.id)
    assignments.reassign(session=session, assignment_id=a.id, coder_id=newcomer.id, actor_id=supervisor.id)
    session.commit()
    assert session.get(Assignment, a.id).coder_id == newcomer.id
    answers = session.exec(select(Answer).where(Answer.assignment_id == a.id)).all()
    assert len(answers) == len(codebook.indicator_ids)
    assert {x.updated_by_id for x in answers} == {leaving}
    event = session.exec(select(AuditEvent).where(AuditEvent.action == "assignment.reassign")).one()
    assert event.old["coder_id"] == leaving and event.new["coder_id"] == newcomer.id and event.country_round_id == cr.id


def test_send_back_withdraws_agreed_decisions_and_reopens(session, codebook):
    supervisor = make_user(session, "supervisor")
    round_ = make_round(session, codebook)
    first = codebook.indicator_ids[0]
    cr, a, b = make_double_coding(session, codebook, round_, values_b={first: "not_provided"})
    compare_country_round(session=session, codebook=codebook, country_round=cr)
    session.commit()
    assert session.exec(select(Decision)).all()
    with pytest.raises(InvalidInput) as info:
        assignments.send_back(session=session, assignment_id=b.id, message="", actor_id=supervisor.id)
    assert info.value.problems == [("message", "required")]
    assignments.send_back(session=session, assignment_id=b.id, message="Check the 2025 amendment.", actor_id=supervisor.id)
    session.commit()
    fresh = session.get(Assignment, b.id)
    assert (fresh.status, fresh.message, fresh.submitted_at) == ("in_progress", "Check the 2025 amendment.", None)
    assert session.get(CountryRound, cr.id).compared_at is None
    assert session.exec(select(Decision)).all() == [] and session.exec(select(DecisionCitation)).all() == []
    actions = session.exec(select(AuditEvent.action).where(AuditEvent.country_round_id == cr.id)).all()
    assert "decision.withdraw" in actions and "assignment.send_back" in actions
    with pytest.raises(InvalidInput):  # no longer submitted
        assignments.send_back(session=session, assignment_id=b.id, message="again", actor_id=supervisor.id)
    # Once the coder submits again, the comparison runs afresh.
    fresh.status = "submitted"
    result = compare_country_round(session=session, codebook=codebook, country_round=session.get(CountryRound, cr.id))
    assert result.compared and result.disagreements == [first]
    assert len(session.exec(select(Decision)).all()) == len(codebook.indicator_ids) - 1


def test_send_back_refused_once_a_disagreement_was_reconciled(session, codebook):
    supervisor = make_user(session, "supervisor")
    round_ = make_round(session, codebook)
    first, second = codebook.indicator_ids[:2]
    cr, a, b = make_double_coding(session, codebook, round_, values_b={first: "not_provided", second: "not_provided"})
    compare_country_round(session=session, codebook=codebook, country_round=cr)
    resolve(
        session=session,
        codebook=codebook,
        country_round_id=cr.id,
        indicator_id=first,
        choice="B",
        citation_ids=[],
        reason="Repealed.",
        actor_id=supervisor.id,
    )
    session.commit()
    with pytest.raises(InvalidInput, match="correct the value"):
        assignments.send_back(session=session, assignment_id=a.id, message="Look again", actor_id=supervisor.id)
    assert session.get(Assignment, a.id).status == "submitted"
