"""Supervisor pages through the web: access, the empty state, and the whole path from round to reliability."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import update as sa_update
from sqlmodel import select

from rightsdb.models import Answer, Assignment, AuditEvent, Citation, CodebookFlag, CountryRound, Decision, Round
from rightsdb.review.reconciliation import compare_country_round
from tests.conftest import login
from tests.factories.coding import fill_assignment
from tests.factories.countries import make_country
from tests.factories.people import make_user
from tests.factories.querycount import count_queries
from tests.factories.rounds import make_assignments, make_round
from tests.factories.supervision import make_double_coding

PAGES = ["/supervisor/", "/supervisor/rounds/new", "/supervisor/flags", "/supervisor/reliability", "/supervisor/reliability.csv"]


@pytest.mark.parametrize("path", PAGES)
def test_only_supervisors_and_admins_reach_supervisor_pages(app, session, client, path):
    coder, supervisor, admin = make_user(session, "coder"), make_user(session, "supervisor"), make_user(session, "admin")
    session.commit()
    anonymous = client.get(path)
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]
    assert app.test_client().post("/supervisor/rounds/new", data={"name": "x"}).status_code == 302
    assert login(app.test_client(), coder).get(path).status_code == 403
    assert login(app.test_client(), supervisor).get(path).status_code == 200
    assert login(app.test_client(), admin).get(path).status_code == 200


def test_coder_cannot_post_to_supervisor_actions(session, client_for, codebook):
    coder = make_user(session, "coder")
    round_ = make_round(session, codebook)
    cr, a, _b = make_double_coding(session, codebook, round_)
    session.commit()
    client = client_for(coder)
    assert client.post(f"/supervisor/assignments/{a.id}/send-back", data={"message": "x"}).status_code == 403
    assert client.post(f"/supervisor/country-rounds/{cr.id}/indicators/{codebook.indicator_ids[0]}/decide", data={}).status_code == 403
    assert session.get(Assignment, a.id).status == "submitted"


def test_empty_board_says_how_to_start(session, client_for):
    supervisor = make_user(session, "supervisor")
    session.commit()
    html = client_for(supervisor).get("/supervisor/").get_data(as_text=True)
    assert "No round yet" in html and "open one" in html


def test_board_page_query_count_does_not_grow(app, session, client_for, codebook):
    supervisor = make_user(session, "supervisor")
    coders = (make_user(session, "coder"), make_user(session, "coder"))
    round_ = make_round(session, codebook)
    make_double_coding(session, codebook, round_, country_index=0, coders=coders)
    session.commit()
    client = client_for(supervisor)
    engine = app.extensions["rightsdb.engine"]
    with count_queries(engine) as small:
        assert client.get("/supervisor/").status_code == 200
    for index in range(1, 5):
        make_double_coding(session, codebook, round_, country_index=index, coders=coders, submit_b=False)
    session.commit()
    with count_queries(engine) as large:
        html = client.get("/supervisor/").get_data(as_text=True)
    assert html.count("One submitted") >= 4
    assert small.count == large.count


def test_reason_is_required_on_the_form(session, client_for, codebook):
    supervisor = make_user(session, "supervisor")
    round_ = make_round(session, codebook)
    first = codebook.indicator_ids[0]
    cr, a, _b = make_double_coding(session, codebook, round_, values_b={first: "not_provided"})
    compare_country_round(session=session, codebook=codebook, country_round=cr)
    session.commit()
    citation = session.exec(select(Citation.id).join(Answer).where(Answer.assignment_id == a.id, Answer.indicator_id == first)).first()
    response = client_for(supervisor).post(
        f"/supervisor/country-rounds/{cr.id}/indicators/{first}/decide", data={"choice": "A", "citations": [str(citation)], "reason": ""}
    )
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert 'id="reason-error"' in html and "Write the reason for this decision." in html
    assert session.exec(select(Decision).where(Decision.indicator_id == first)).first() is None


def test_flag_and_send_back_through_the_web(session, client_for, codebook):
    supervisor = make_user(session, "supervisor")
    round_ = make_round(session, codebook)
    first = codebook.indicator_ids[0]
    cr, a, b = make_double_coding(session, codebook, round_, values_b={first: "not_provided"})
    compare_country_round(session=session, codebook=codebook, country_round=cr)
    session.commit()
    client = client_for(supervisor)
    page = client.get(f"/supervisor/country-rounds/{cr.id}/indicators/{first}").get_data(as_text=True)
    assert codebook.indicators_by_id[first].question in page
    assert 'dir="auto"' in page and f"Excerpt for {first}" in page
    client.post(f"/supervisor/country-rounds/{cr.id}/indicators/{first}/flag", data={"note": "Which official counts?"})
    assert session.exec(select(CodebookFlag)).one().note == "Which official counts?"
    assert "Which official counts?" in client.get("/supervisor/flags").get_data(as_text=True)
    response = client.post(f"/supervisor/assignments/{b.id}/send-back", data={"message": "Re-check Art. 12."}, follow_redirects=True)
    assert "sent back" in response.get_data(as_text=True)
    session.expire_all()
    assert session.get(Assignment, b.id).status == "in_progress"
    assert session.get(Assignment, b.id).message == "Re-check Art. 12."


def test_supervisor_walks_from_round_to_final_and_reliability(app, session, client_for, codebook):
    """Open a round, assign coders, reconcile every disagreement with reasons, see it final, read reliability."""
    supervisor = make_user(session, "supervisor", name="Sam Supervisor")
    ann, bea = make_user(session, "coder", name="Ann"), make_user(session, "coder", name="Bea")
    make_country(session, 0)
    session.commit()
    client = client_for(supervisor)

    response = client.post("/supervisor/rounds/new", data={"name": "2026", "reference_date": "2026-01-01", "notes": "Pilot"})
    assert response.status_code == 302
    round_ = session.exec(select(Round).where(Round.name == "2026")).one()
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Arvenia (XAA) · synthetic" in page and "Synthetic demonstration data" in page
    refused = client.post(f"/supervisor/rounds/{round_.id}/assign", data={"countries": ["XAA"], "coder_a": ann.id, "coder_b": ann.id})
    assert refused.status_code == 400 and "two different people" in refused.get_data(as_text=True)
    assert (
        client.post(f"/supervisor/rounds/{round_.id}/assign", data={"countries": ["XAA"], "coder_a": ann.id, "coder_b": bea.id}).status_code
        == 302
    )
    cr = session.exec(select(CountryRound).where(CountryRound.round_id == round_.id)).one()

    # The coders code and submit (the coder workflow's part), which triggers the comparison.
    ids = codebook.indicator_ids
    slots = {a.slot: a for a in session.exec(select(Assignment).where(Assignment.country_round_id == cr.id)).all()}
    fill_assignment(session, slots["A"], codebook, submit=True)
    fill_assignment(session, slots["B"], codebook, {ids[0]: "not_provided", ids[1]: "conditional", ids[2]: "not_applicable"}, submit=True)
    compare_country_round(session=session, codebook=codebook, country_round=cr)
    session.commit()
    board = client.get("/supervisor/").get_data(as_text=True)
    assert "In reconciliation" in board

    country_page = client.get(f"/supervisor/country-rounds/{cr.id}").get_data(as_text=True)
    queue = re.findall(rf"/supervisor/country-rounds/{cr.id}/indicators/([A-Z0-9-]+)\"", country_page.split("Decided values")[0])
    assert queue == list(ids[:3])
    for indicator_id in queue:
        page = client.get(f"/supervisor/country-rounds/{cr.id}/indicators/{indicator_id}").get_data(as_text=True)
        citations = re.findall(r'name="citations" value="(\d+)"', page)
        assert citations
        response = client.post(
            f"/supervisor/country-rounds/{cr.id}/indicators/{indicator_id}/decide",
            data={"choice": "A", "citations": citations[:1], "reason": f"Coder A cited the right provision for {indicator_id}."},
        )
        assert response.status_code == 302
    final_page = client.get(f"/supervisor/country-rounds/{cr.id}").get_data(as_text=True)
    assert "Final" in final_page and "No disagreement is left" in final_page
    session.expire_all()
    assert session.get(CountryRound, cr.id).finalized_at is not None
    assert "Final" in client.get("/supervisor/").get_data(as_text=True)

    audit = client.get(f"/supervisor/country-rounds/{cr.id}/audit").get_data(as_text=True)
    assert "decision.reconcile" in audit and "Sam Supervisor" in audit and "country_round.finalize" in audit

    # A correction after finalization: version in a hidden field, reason required, old value audited.
    decision = session.exec(select(Decision).where(Decision.country_round_id == cr.id, Decision.indicator_id == ids[0])).one()
    page = client.get(f"/supervisor/country-rounds/{cr.id}/indicators/{ids[0]}").get_data(as_text=True)
    assert f'name="version" value="{decision.version}"' in page
    stale = client.post(
        f"/supervisor/country-rounds/{cr.id}/indicators/{ids[0]}/correct",
        data={"choice": "B", "reason": "x", "version": str(decision.version + 1)},
        follow_redirects=True,
    )
    assert "reload the page" in stale.get_data(as_text=True)
    client.post(
        f"/supervisor/country-rounds/{cr.id}/indicators/{ids[0]}/correct",
        data={"choice": "B", "reason": "Repealed in 2025.", "version": str(decision.version)},
    )
    session.expire_all()
    assert session.get(Decision, decision.id).value == "not_provided" and session.get(Decision, decision.id).corrected
    event = session.exec(select(AuditEvent).where(AuditEvent.action == "decision.correct")).one()
    assert event.old["value"] == "provided"

    reliability = client.get(f"/supervisor/reliability?round={round_.id}").get_data(as_text=True)
    assert "Round 2026" in reliability and "Ann" in reliability and "Bea" in reliability
    assert re.search(r'<tr class="rate-(red|amber|green|undefined)">', reliability)


def test_filter_countries_and_reassign_through_the_web(session, client_for, codebook):
    supervisor = make_user(session, "supervisor")
    round_ = make_round(session, codebook)
    make_country(session, 1), make_country(session, 2)
    cr, a, _b = make_double_coding(session, codebook, round_, submit_a=False, submit_b=False)
    newcomer = make_user(session, "coder", name="Newcomer")
    session.commit()
    client = client_for(supervisor)
    html = client.get(f"/supervisor/rounds/{round_.id}?q=borov").get_data(as_text=True)
    assert "Borovia (XBB)" in html and "Caldera (XCC)" not in html
    response = client.post(f"/supervisor/assignments/{a.id}/reassign", data={"coder": str(newcomer.id)}, follow_redirects=True)
    assert "reassigned" in response.get_data(as_text=True)
    session.expire_all()
    assert session.get(Assignment, a.id).coder_id == newcomer.id
    assert "Newcomer" in client.get("/supervisor/").get_data(as_text=True)


def test_second_supervisor_sees_who_decided_first(session, client_for, codebook):
    alice, bob = make_user(session, "supervisor", name="Alice"), make_user(session, "admin", name="Bob")
    round_ = make_round(session, codebook)
    first = codebook.indicator_ids[0]
    cr, _a, _b = make_double_coding(session, codebook, round_, values_b={first: "not_provided"})
    compare_country_round(session=session, codebook=codebook, country_round=cr)
    session.commit()
    url = f"/supervisor/country-rounds/{cr.id}/indicators/{first}/decide"
    assert client_for(alice).post(url, data={"choice": "B", "reason": "Repealed in 2025."}).status_code == 302
    late = client_for(bob).post(url, data={"choice": "B", "reason": "Same view."}, follow_redirects=True)
    assert "already decided by Alice" in late.get_data(as_text=True)
    assert [d.reason for d in session.exec(select(Decision).where(Decision.indicator_id == first)).all()] == ["Repealed in 2025."]


# --- The board: every round summarised, one round's countries listed --------------------------------


def _two_rounds(session, codebook):
    """A final round 2025 (Arvenia, Borovia) and a round 2026 in progress (Arvenia in reconciliation, Borovia coding)."""
    supervisor = make_user(session, "supervisor")
    coders = (make_user(session, "coder", name="Ann"), make_user(session, "coder", name="Bea"))
    old = make_round(session, codebook, name="2025", reference_date=date(2025, 1, 1))
    for index in (0, 1):
        cr, _a, _b = make_double_coding(session, codebook, old, country_index=index, coders=coders)
        compare_country_round(session=session, codebook=codebook, country_round=cr)
    new = make_round(session, codebook, name="2026", reference_date=date(2026, 1, 1))
    reconciling, _a, _b = make_double_coding(
        session, codebook, new, country_index=0, coders=coders, values_b={codebook.indicator_ids[0]: "not_provided"}
    )
    compare_country_round(session=session, codebook=codebook, country_round=reconciling)
    _cr, coding, _b = make_assignments(session, new, make_country(session, 1), *coders)
    fill_assignment(session, coding, codebook, submit=False)
    session.commit()
    return supervisor, old, new


def _listed(html: str) -> list[tuple[str, str]]:
    """Return (country, status) of the board's country table, in order."""
    table = html.split('<section class="round-block"', 1)[1]
    return re.findall(r'country-rounds/\d+">([^<]+)</a>.*?<span class="badge status-[a-z_]+">([^<]+)</span>', table, re.S)


def test_board_summarises_every_round_and_lists_the_newest_unfinished_by_default(session, client_for, codebook):
    supervisor, old, new = _two_rounds(session, codebook)
    newest_final = make_round(session, codebook, name="2024", reference_date=date(2024, 1, 1))
    session.commit()
    html = client_for(supervisor).get("/supervisor/").get_data(as_text=True)
    summary = html.split('<div class="round-summary">', 1)[1].split("</table>", 1)[0]
    for round_ in (old, new, newest_final):
        assert f'href="/supervisor/?round={round_.id}"' in summary
    # 2024 has no country (unfinished work) but 2026, newer, has unfinished work too: 2026 is listed.
    assert f'href="/supervisor/?round={new.id}" aria-current="true">2026</a>' in summary
    assert f'<h2 id="round-{new.id}"><a href="/supervisor/rounds/{new.id}">2026</a></h2>' in html
    assert _listed(html) == [("Arvenia", "In reconciliation"), ("Borovia", "Coding")]
    assert f'href="/supervisor/?round={new.id}&amp;status=reconciliation">In reconciliation: 1' in summary
    assert re.search(r'aria-valuemax="2" aria-valuenow="2" aria-label="Countries final in round 2025"', summary)
    assert re.search(r'aria-valuemax="4" aria-valuenow="2" aria-label="Codings submitted in round 2026"', summary)
    decided = len(codebook.indicator_ids) - 1
    assert re.search(
        rf'aria-valuemax="{2 * len(codebook.indicator_ids)}" aria-valuenow="{decided}" aria-label="Values decided in round 2026"', summary
    )
    assert f'href="/supervisor/rounds/{newest_final.id}">assign countries and coders' in summary


def test_board_lists_the_newest_round_when_every_round_is_final(session, client_for, codebook):
    supervisor, old, new = _two_rounds(session, codebook)
    session.exec(sa_update(CountryRound).where(CountryRound.round_id == new.id).values(finalized_at=datetime(2026, 6, 1, tzinfo=UTC)))
    session.commit()
    html = client_for(supervisor).get("/supervisor/").get_data(as_text=True)
    assert f'<h2 id="round-{new.id}">' in html and f'<h2 id="round-{old.id}">' not in html
    assert _listed(html) == [("Arvenia", "Final"), ("Borovia", "Final")]


def test_board_lists_the_round_asked_for_and_filters_by_status(session, client_for, codebook):
    supervisor, old, new = _two_rounds(session, codebook)
    client = client_for(supervisor)
    html = client.get(f"/supervisor/?round={old.id}").get_data(as_text=True)
    assert f'href="/supervisor/?round={old.id}" aria-current="true">2025</a>' in html
    assert f'href="/supervisor/?round={new.id}" aria-current' not in html
    assert _listed(html) == [("Arvenia", "Final"), ("Borovia", "Final")]

    html = client.get(f"/supervisor/?round={new.id}&status=reconciliation").get_data(as_text=True)
    assert _listed(html) == [("Arvenia", "In reconciliation")]
    assert '<option value="reconciliation" selected>In reconciliation (1)</option>' in html
    assert "1 of 2 countries: In reconciliation" in html and f'href="/supervisor/?round={new.id}">show every country of round 2026' in html

    html = client.get(f"/supervisor/?round={new.id}&status=final").get_data(as_text=True)
    assert _listed(html) == []
    assert "No country of round 2026 is final now." in html


def test_board_table_agrees_with_the_round_page(session, client_for, codebook):
    supervisor, _old, new = _two_rounds(session, codebook)
    client = client_for(supervisor)
    board = client.get(f"/supervisor/?round={new.id}").get_data(as_text=True)
    round_page = client.get(f"/supervisor/rounds/{new.id}").get_data(as_text=True)
    on_round_page = re.findall(r'country-rounds/\d+">([^<]+)</a>.*?<span class="badge status-[a-z_]+">([^<]+)</span>', round_page, re.S)
    assert _listed(board) == on_round_page == [("Arvenia", "In reconciliation"), ("Borovia", "Coding")]
    answered = len(codebook.indicator_ids)
    for page in (board, round_page):
        assert page.count(f'aria-valuenow="{answered}" aria-label="Ann answered"') == 2
        assert page.count('aria-valuenow="0" aria-label="Bea answered"') == 1


@pytest.mark.parametrize("raw", ["999999", "abc", "-1", "9" * 40, "１"])
def test_board_answers_404_for_an_unknown_round(session, client_for, codebook, raw):
    supervisor, _old, _new = _two_rounds(session, codebook)
    response = client_for(supervisor).get(f"/supervisor/?round={raw}")
    assert response.status_code == 404
    assert "No such round." in response.get_data(as_text=True)


def test_board_refuses_an_unknown_status(session, client_for, codebook):
    supervisor, _old, new = _two_rounds(session, codebook)
    response = client_for(supervisor).get(f"/supervisor/?round={new.id}&status=done")
    assert response.status_code == 400
    assert "Unknown status" in response.get_data(as_text=True)


def test_board_query_count_is_the_same_for_any_round_and_status(app, session, client_for, codebook):
    supervisor, old, new = _two_rounds(session, codebook)
    client = client_for(supervisor)
    engine = app.extensions["rightsdb.engine"]
    counts = set()
    for url in ("/supervisor/", f"/supervisor/?round={old.id}", f"/supervisor/?round={new.id}&status=coding"):
        with count_queries(engine) as log:
            assert client.get(url).status_code == 200
        counts.add(log.count)
    coders = (make_user(session, "coder"), make_user(session, "coder"))
    for index in (2, 3, 4):
        make_double_coding(session, codebook, new, country_index=index, coders=coders, submit_b=False)
    make_round(session, codebook, name="2027", reference_date=date(2027, 1, 1))
    session.commit()
    with count_queries(engine) as log:
        html = client.get(f"/supervisor/?round={new.id}").get_data(as_text=True)
    counts.add(log.count)
    assert len(_listed(html)) == 5
    assert len(counts) == 1, counts


def test_round_page_links_each_slot_to_its_reassign_form_instead_of_printing_a_menu_per_slot(session, client_for, codebook):
    supervisor = make_user(session, "supervisor")
    round_ = make_round(session, codebook)
    make_country(session, 1)
    _cr, a, b = make_double_coding(session, codebook, round_, submit_a=False, submit_b=False)
    for n in range(5):
        make_user(session, "coder", name=f"Spare coder {n}")
    session.commit()
    client = client_for(supervisor)
    page = client.get(f"/supervisor/rounds/{round_.id}").get_data(as_text=True)
    assert f'href="/supervisor/assignments/{a.id}/reassign"' in page and f'href="/supervisor/assignments/{b.id}/reassign"' in page
    assert "Spare coder 0" not in page.split('id="assign"')[0]  # no coder menu per slot above the assign form
    form = client.get(f"/supervisor/assignments/{a.id}/reassign")
    html = form.get_data(as_text=True)
    assert form.status_code == 200
    assert f'action="/supervisor/assignments/{a.id}/reassign"' in html and 'name="csrf_token"' in html
    assert all(f"Spare coder {n}" in html for n in range(5))
    assert re.search(rf'<option value="{a.coder_id}" selected>', html)  # the current holder is preselected


def test_a_refused_reassignment_returns_to_its_form_with_the_reason_and_changes_nothing(session, client_for, codebook):
    supervisor = make_user(session, "supervisor")
    round_ = make_round(session, codebook)
    make_country(session, 1)
    _cr, a, b = make_double_coding(session, codebook, round_, submit_a=False, submit_b=False)
    session.commit()
    client = client_for(supervisor)
    response = client.post(f"/supervisor/assignments/{a.id}/reassign", data={"coder": str(b.coder_id)})
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/supervisor/assignments/{a.id}/reassign")
    shown = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "already codes the other slot" in shown
    session.expire_all()
    assert session.get(Assignment, a.id).coder_id != b.coder_id
    assert client.get("/supervisor/assignments/999999/reassign").status_code == 404
