"""Races between a coder's saves and submits, and between the two coders' submits, with real concurrent requests.

Each trial releases two requests together (a threading.Barrier) against one application on SQLite or
PostgreSQL; each request has its own connection. The hooks below only widen the window in which an
unlocked writer would interleave (the first request pauses inside its transaction for a moment); they
never decide the outcome. What is asserted is the invariant: a submitted assignment is the one that
was compared, and a country-round whose two codings are both submitted has been compared exactly once.
"""

from __future__ import annotations

import threading

import pytest
from sqlmodel import Session, select

from rightsdb.coding import answers as coding_answers
from rightsdb.coding import submission
from rightsdb.errors import Forbidden
from rightsdb.models import Answer, Assignment, AuditEvent, CountryRound, Decision
from tests.conftest import login
from tests.factories.coding import fill_assignment, post_data
from tests.factories.concurrency import run_together
from tests.factories.rounds import make_pair

TRIALS = 6
#: How long the first request of a trial waits inside its transaction for the other to interleave.
WINDOW_SECONDS = 0.3


def _trial_pair(session, book, trial: int, *, submit_b: bool):
    coder_a, coder_b, country_round, a, b = make_pair(session, book, country_index=0, round_name=f"Race {trial}")
    fill_assignment(session, a, book)
    fill_assignment(session, b, book, submit=submit_b)
    session.commit()
    return coder_a, coder_b, country_round, a, b


def _comparisons(session, country_round_id: int) -> int:
    return len(
        session.exec(
            select(AuditEvent).where(AuditEvent.country_round_id == country_round_id, AuditEvent.action == "country_round.compare")
        ).all()
    )


@pytest.fixture
def widen_submit(monkeypatch):
    """Hold the save between its status check and its first write until the submit has compared.

    Unlocked, the save reads "in progress", then writes its change into the assignment the submit has
    just compared (the release would show a value neither coder agreed on). Locked, the submit cannot
    compare while the save holds the lock, and the save waits only WINDOW_SECONDS for it.
    """
    compared = threading.Event()
    original_check = coding_answers._check_inputs
    original_compare = submission.compare_country_round

    def check(**kwargs):
        compared.wait(timeout=WINDOW_SECONDS * 3)
        return original_check(**kwargs)

    def compare(**kwargs):
        result = original_compare(**kwargs)
        compared.set()
        return result

    monkeypatch.setattr(coding_answers, "_check_inputs", check)
    monkeypatch.setattr(submission, "compare_country_round", compare)
    return compared


def test_a_save_racing_a_submit_never_lands_after_the_comparison(tiny_app, tiny_session, book, widen_submit):
    """Issue #14, item 2: two tabs send Submit and Save at once; the released value is the compared one."""
    session = tiny_session
    indicator = book.indicators[0].id
    for trial in range(TRIALS):
        widen_submit.clear()
        coder_a, _coder_b, country_round, a, _b = _trial_pair(session, book, trial, submit_b=True)
        versions = {answer.indicator_id: answer.version for answer in a.answers}
        submit_tab = login(tiny_app.test_client(), coder_a)
        save_tab = login(tiny_app.test_client(), coder_a)
        change = post_data(book, versions, {indicator: {"value": "not_provided", "notes": "Repealed."}}, indicator_ids=[indicator])
        submitted, saved = run_together(
            lambda: submit_tab.post(f"/coder/assignments/{a.id}/submit"),  # noqa: B023 - called inside the loop
            lambda: save_tab.post(f"/coder/assignments/{a.id}/save", data=change),  # noqa: B023
        )
        assert submitted.status_code == 303 and saved.status_code in (303, 409), (submitted.status_code, saved.status_code)
        session.expire_all()
        stored = session.exec(select(Answer).where(Answer.assignment_id == a.id, Answer.indicator_id == indicator)).one()
        assignment = session.get(Assignment, a.id)
        assert assignment.status == "submitted"
        assert _comparisons(session, country_round.id) == 1
        decision = session.exec(
            select(Decision).where(Decision.country_round_id == country_round.id, Decision.indicator_id == indicator)
        ).first()
        if stored.value == "not_provided":
            # The save came first: the comparison saw it, so this indicator is a disagreement, not agreed.
            assert decision is None, f"trial {trial}: agreed on {decision.value} while A's submitted answer is not_provided"
            assert stored.updated_at <= assignment.submitted_at
        else:
            # The submit came first: the save was refused and wrote nothing.
            assert stored.value == "provided" and decision is not None and decision.value == "provided"
            assert save_tab.get(f"/coder/assignments/{a.id}").status_code == 200


def test_simultaneous_submits_compare_exactly_once(tiny_app, tiny_session, book, monkeypatch):
    """Issue #14, item 3: whichever of two simultaneous submits commits last compares the country-round."""
    session = tiny_session
    original = submission.submission_problems
    both_checked = threading.Barrier(2)

    def problems(**kwargs):
        found = original(**kwargs)
        try:
            both_checked.wait(timeout=WINDOW_SECONDS)  # unlocked, both submits would meet here
        except threading.BrokenBarrierError:
            pass  # the other submit waits for the lock: it checks after this one commits
        return found

    monkeypatch.setattr(submission, "submission_problems", problems)
    for trial in range(TRIALS):
        both_checked.reset()
        coder_a, coder_b, country_round, a, b = _trial_pair(session, book, trial, submit_b=False)
        client_a, client_b = login(tiny_app.test_client(), coder_a), login(tiny_app.test_client(), coder_b)
        responses = run_together(
            lambda: client_a.post(f"/coder/assignments/{a.id}/submit"),  # noqa: B023 - called inside the loop
            lambda: client_b.post(f"/coder/assignments/{b.id}/submit"),  # noqa: B023
        )
        assert [r.status_code for r in responses] == [303, 303]
        session.expire_all()
        assert {s.status for s in session.exec(select(Assignment).where(Assignment.country_round_id == country_round.id))} == {"submitted"}
        assert session.get(CountryRound, country_round.id).compared_at is not None, f"trial {trial}: both submitted, never compared"
        assert _comparisons(session, country_round.id) == 1
        # Every indicator was agreed (both coded the same), so the country-round is final and nothing is stuck.
        decided = session.exec(select(Decision).where(Decision.country_round_id == country_round.id)).all()
        assert len(decided) == len(book.indicators)


def test_a_save_after_a_committed_submit_is_refused(tiny_session, book):
    """The status is read under the lock, not from the object loaded before it: a stale object cannot write."""
    session = tiny_session
    coder_a, _b, _cr, a, _other = _trial_pair(session, book, 0, submit_b=True)
    with Session(session.get_bind(), expire_on_commit=False) as stale:
        loaded = coding_answers.load_assignment(session=stale, assignment_id=a.id, coder_id=coder_a.id)
        assert loaded.status == "in_progress"
        submission.submit_assignment(session=session, codebook=book, assignment=session.get(Assignment, a.id), user_id=coder_a.id)
        session.commit()
        posted = coding_answers.AnswerInput(indicator_id=book.indicators[0].id, version=1, value="not_provided", notes="late")
        with pytest.raises(Forbidden):
            coding_answers.save_answers(session=stale, codebook=book, assignment=loaded, user_id=coder_a.id, inputs=[posted], payload={})
        stale.rollback()
    session.expire_all()
    assert session.exec(select(Answer).where(Answer.assignment_id == a.id, Answer.value == "not_provided")).first() is None


def test_an_import_racing_a_submit_never_writes_into_the_compared_assignment(tiny_app, tiny_session, book, monkeypatch, tmp_path):
    """An import into a coder's assignment takes the same lock: it cannot land after the comparison."""
    from rightsdb.importing import importer

    session = tiny_session
    indicator = book.indicators[0].id
    compared = threading.Event()
    original_check, original_compare = importer._check_submission, submission.compare_country_round

    def check(*args, **kwargs):
        found = original_check(*args, **kwargs)
        compared.wait(timeout=WINDOW_SECONDS * 3)  # unlocked, the submit compares and commits meanwhile
        return found

    def compare(**kwargs):
        result = original_compare(**kwargs)
        compared.set()
        return result

    monkeypatch.setattr(importer, "_check_submission", check)
    monkeypatch.setattr(submission, "compare_country_round", compare)
    for trial in range(TRIALS):
        compared.clear()
        coder_a, _coder_b, country_round, a, _b = _trial_pair(session, book, trial, submit_b=True)
        path = tmp_path / f"import-{trial}.csv"
        path.write_text(f"country_iso3,indicator_id,answer,notes\n{country_round.country_iso3},{indicator},not_provided,Repealed.\n")
        client = login(tiny_app.test_client(), coder_a)

        def run_import(path=path, round_name=f"Race {trial}", email=coder_a.email):
            with Session(tiny_app.extensions["rightsdb.engine"]) as own:
                try:
                    importer.import_codings(
                        session=own, codebook=book, path=path, round_name=round_name, mode="submission", user_email=email
                    )
                    own.commit()
                    return "imported"
                except importer.ImportRefused:
                    return "refused"

        submitted, imported = run_together(lambda: client.post(f"/coder/assignments/{a.id}/submit"), run_import)  # noqa: B023
        assert submitted.status_code == 303 and imported in ("imported", "refused")
        session.expire_all()
        stored = session.exec(select(Answer).where(Answer.assignment_id == a.id, Answer.indicator_id == indicator)).one()
        decision = session.exec(
            select(Decision).where(Decision.country_round_id == country_round.id, Decision.indicator_id == indicator)
        ).first()
        assert _comparisons(session, country_round.id) == 1
        if imported == "imported":
            assert stored.value == "not_provided" and decision is None, f"trial {trial}: agreed on a value the import replaced"
        else:
            assert stored.value == "provided" and decision is not None and decision.value == "provided"
