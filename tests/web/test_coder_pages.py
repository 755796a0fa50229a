"""Web tests of the coder's pages: gates, blindness, saving, conflicts, read-only, scripts, queries, end to end."""

from __future__ import annotations

import gc
import re
from datetime import date

from markupsafe import escape
from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import select

import coding_forms
from rightsdb.coding import answers as coding
from rightsdb.models import Answer, AuditEvent, Citation, ConflictCopy, CountryRound, LegalSource
from rightsdb.web import coder as coder_views
from tests.factories.coding import fill_assignment, make_final_round, make_source, post_data
from tests.factories.people import make_user
from tests.factories.querycount import count_queries
from tests.factories.rounds import make_pair


def _versions(session, assignment) -> dict[str, int]:
    session.expire_all()
    return {a.indicator_id: a.version for a in session.exec(select(Answer).where(Answer.assignment_id == assignment.id))}


def _answers(session, assignment) -> dict[str, Answer]:
    session.expire_all()
    return {a.indicator_id: a for a in session.exec(select(Answer).where(Answer.assignment_id == assignment.id))}


def _coder_urls(assignment_id: int, source_id: int) -> list[tuple[str, str]]:
    base = f"/coder/assignments/{assignment_id}"
    return [
        ("get", base),
        ("get", base + "?category=EQP"),
        ("post", base + "/save"),
        ("post", base + "/submit"),
        ("get", base + "/sources"),
        ("post", base + "/sources"),
        ("get", f"{base}/sources/{source_id}"),
        ("post", f"{base}/sources/{source_id}"),
        ("post", base + "/carry-forward"),
    ]


def test_dashboard_empty_state(session, client_for):
    coder = make_user(session, "coder")
    session.commit()
    page = client_for(coder).get("/coder/").get_data(as_text=True)
    assert "You have no assignments yet" in page


def test_dashboard_lists_own_assignments_with_progress_and_message(session, codebook, client_for):
    coder_a, coder_b, cr, a, b = make_pair(session, codebook)
    fill_assignment(session, a, codebook)
    a.message = "Reopened: please recheck the labour indicators."
    session.add(a)
    session.commit()
    page = client_for(coder_a).get("/coder/").get_data(as_text=True)
    assert cr.country.name in page and "2026-01-01" in page
    assert f"{len(codebook.indicators)} of {len(codebook.indicators)} answered" in page
    assert "Reopened: please recheck the labour indicators." in page
    assert "Ready to submit" in page and "Synthetic demonstration data" in page
    other = client_for(coder_b).get("/coder/").get_data(as_text=True)
    assert f"0 of {len(codebook.indicators)} answered" in other and "Reopened" not in other


def test_gate_redirects_anonymous_and_refuses_other_roles(session, codebook, client, client_for):
    _coder_a, _coder_b, cr, a, _b = make_pair(session, codebook)
    source = make_source(session, cr.country)
    supervisor = make_user(session, "supervisor")
    admin = make_user(session, "admin")
    session.commit()
    for method, url in _coder_urls(a.id, source.id) + [("get", "/coder/")]:
        assert getattr(client, method)(url).status_code == 302, url
        assert getattr(client_for(supervisor), method)(url).status_code == 403, url
        assert getattr(client_for(admin), method)(url).status_code == 403, url


def test_another_coder_gets_404_on_every_url_of_an_assignment(session, codebook, client_for):
    coder_a, coder_b, cr, a, b = make_pair(session, codebook)
    source = make_source(session, cr.country)
    answers = fill_assignment(session, a, codebook, source=source)
    answers[0].notes = "Secret note of coder A"
    session.add(answers[0])
    session.commit()
    intruder = client_for(coder_b)
    for method, url in _coder_urls(a.id, source.id):
        response = getattr(intruder, method)(url, data=post_data(codebook, {}, {answers[0].indicator_id: {"notes": "overwrite"}}))
        assert response.status_code == 404, url
        assert "Secret note of coder A" not in response.get_data(as_text=True)
    # A coder's own pages never show the other coder's notes or citations either.
    own = intruder.get(f"/coder/assignments/{b.id}").get_data(as_text=True)
    assert "Secret note of coder A" not in own and f"Excerpt for {answers[0].indicator_id}" not in own
    assert _answers(session, a)[answers[0].indicator_id].notes == "Secret note of coder A"
    assert intruder.get("/coder/assignments/999999").status_code == 404


def test_save_redirects_to_the_category_and_audits(session, codebook, client_for):
    coder_a, _b_user, cr, a, _b = make_pair(session, codebook)
    source = make_source(session, cr.country)
    session.commit()
    first = codebook.indicators[0]
    response = client_for(coder_a).post(
        f"/coder/assignments/{a.id}/save",
        data=post_data(
            codebook,
            {},
            {
                first.id: {
                    "value": "conditional",
                    "groups": ["permanent_residents", "students"],
                    "notes": "Residents only.",
                    "source": str(source.id),
                    "pinpoint": "Art. 12",
                    "excerpt": "Text of art. 12",
                }
            },
            save=first.category,
        ),
    )
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/coder/assignments/{a.id}#cat-{first.category}")
    answer = _answers(session, a)[first.id]
    assert (answer.value, sorted(answer.groups), answer.notes) == ("conditional", ["permanent_residents", "students"], "Residents only.")
    assert [(c.pinpoint, c.source_id) for c in answer.citations] == [("Art. 12", source.id)]
    actions = {e.action for e in session.exec(select(AuditEvent).where(AuditEvent.country_round_id == cr.id))}
    assert {"answer.changed", "citation.added"} <= actions
    assert len(_answers(session, a)) == 1  # untouched indicators create no rows


def test_category_view_shows_and_saves_only_that_category(session, codebook, client_for):
    coder_a, _b_user, _cr, a, _b = make_pair(session, codebook)
    session.commit()
    client = client_for(coder_a)
    first_cat, second_cat = codebook.categories[0].id, codebook.categories[1].id
    inside = codebook.indicators_by_category[second_cat]
    page = client.get(f"/coder/assignments/{a.id}?category={second_cat}").get_data(as_text=True)
    assert f'id="ind-{inside[0].id}"' in page
    assert f'id="ind-{codebook.indicators_by_category[first_cat][0].id}"' not in page
    data = post_data(
        codebook,
        {},
        {i.id: {"value": "not_provided", "notes": "Searched"} for i in inside},
        indicator_ids=[i.id for i in inside],
        category=second_cat,
        save=second_cat,
    )
    response = client.post(f"/coder/assignments/{a.id}/save", data=data)
    assert response.headers["Location"].endswith(f"?category={second_cat}#cat-{second_cat}")
    assert set(_answers(session, a)) == {i.id for i in inside}
    assert client.get(f"/coder/assignments/{a.id}?category=NOPE").status_code == 404


def test_two_tabs_conflict_is_refused_with_both_texts_shown(session, codebook, client_for):
    coder_a, _b_user, _cr, a, _b = make_pair(session, codebook)
    session.commit()
    first, second = codebook.indicators[0], codebook.indicators[1]
    tab1, tab2 = client_for(coder_a), client_for(coder_a)
    tab1.post(f"/coder/assignments/{a.id}/save", data=post_data(codebook, {}, {first.id: {"value": "provided", "notes": "start"}}))
    versions = _versions(session, a)  # both tabs open the page now
    assert (
        tab1.post(
            f"/coder/assignments/{a.id}/save",
            data=post_data(codebook, versions, {first.id: {"value": "provided", "notes": "Text from tab one"}}),
        ).status_code
        == 303
    )
    response = tab2.post(
        f"/coder/assignments/{a.id}/save",
        data=post_data(
            codebook,
            versions,
            {
                first.id: {"value": "not_provided", "notes": "Text from tab two"},
                second.id: {"value": "provided", "notes": "also typed in tab two"},
            },
        ),
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 409
    assert f"Not saved: {first.id} ({first.short_label})" in page
    assert "Your unsaved text" in page and "Text from tab two" in page and "Text from tab one" in page
    answers = _answers(session, a)
    assert answers[first.id].notes == "Text from tab one" and second.id not in answers  # nothing at all was written
    copy = session.exec(select(ConflictCopy)).one()
    assert copy.payload[f"{first.id}-notes"] == ["Text from tab two"] and copy.user_id == coder_a.id
    # The re-rendered form carries the current version, so merging and saving again works.
    assert f'name="{first.id}-version" value="{answers[first.id].version}"' in page
    assert f'name="{second.id}-notes" id="{second.id}-notes" dir="auto" rows="2">also typed in tab two<' in page
    merged = tab2.post(
        f"/coder/assignments/{a.id}/save",
        data=post_data(codebook, _versions(session, a), {first.id: {"value": "provided", "notes": "Text from tab one and two"}}),
    )
    assert merged.status_code == 303 and _answers(session, a)[first.id].notes == "Text from tab one and two"


def test_concurrent_stale_data_error_is_turned_into_a_conflict(session, codebook, client_for, monkeypatch):
    coder_a, _b_user, _cr, a, _b = make_pair(session, codebook)
    session.commit()
    first = codebook.indicators[0]

    def concurrent_save(**kwargs):
        raise StaleDataError("UPDATE statement on table 'answers' expected to update 1 row(s); 0 were matched.")

    monkeypatch.setattr(coding, "save_answers", concurrent_save)
    response = client_for(coder_a).post(
        f"/coder/assignments/{a.id}/save", data=post_data(codebook, {}, {first.id: {"value": "provided", "notes": "typed during a race"}})
    )
    assert response.status_code == 409 and "typed during a race" in response.get_data(as_text=True)
    assert session.exec(select(ConflictCopy)).one().payload[f"{first.id}-notes"] == ["typed during a race"]


def test_submitted_assignment_is_read_only_until_reopened(session, codebook, client_for):
    coder_a, _b_user, cr, a, _b = make_pair(session, codebook)
    fill_assignment(session, a, codebook, submit=True)
    session.commit()
    client = client_for(coder_a)
    first = codebook.indicators[0].id
    page = client.get(f"/coder/assignments/{a.id}").get_data(as_text=True)
    assert '<fieldset class="coder-all" disabled>' in page and "Read-only." in page
    response = client.post(
        f"/coder/assignments/{a.id}/save",
        data=post_data(codebook, _versions(session, a), {first: {"value": "not_provided", "notes": "late change"}}),
        follow_redirects=True,
    )
    assert "submitted and is read-only" in response.get_data(as_text=True)
    assert client.post(f"/coder/assignments/{a.id}/sources", data={"instrument_type": "statute", "title": "Late act"}).status_code == 303
    assert _answers(session, a)[first].value == "provided"
    assert session.exec(select(LegalSource).where(LegalSource.title == "Late act")).first() is None
    # A supervisor reopens it (status back to in_progress, with a message): editable again, message shown.
    a.status, a.message = "in_progress", "Please recheck EQP-01 against the 2025 amendment."
    session.add(a)
    session.commit()
    page = client.get(f"/coder/assignments/{a.id}").get_data(as_text=True)
    assert '<fieldset class="coder-all">' in page and "Please recheck EQP-01 against the 2025 amendment." in page


SCRIPTS = {
    "de": (
        "Aufenthaltsgesetz § 60 Abs. 5",
        "Ein Ausländer darf nicht abgeschoben werden, soweit sich aus der Anwendung der EMRK ergibt, dass die Abschiebung unzulässig ist.",
    ),
    "ru": (
        "Федеральный закон № 115-ФЗ, ст. 13",
        "Иностранные граждане пользуются правом свободно распоряжаться своими способностями к труду.",
    ),
    "tr": (
        "Yabancılar ve Uluslararası Koruma Kanunu, md. 4",
        "Bu Kanun kapsamındaki hiç kimse işkenceye, insanlık dışı ya da onur kırıcı ceza veya muameleye maruz kalacağı bir yere gönderilemez; ığdır, şişli, dağ.",
    ),
    "ar": ("قانون دخول وإقامة الأجانب، المادة ٢٠", "لا يجوز إبعاد اللاجئ السياسي إلى البلد الذي يتعرض فيه للاضطهاد."),
}


def test_text_in_any_script_round_trips(session, codebook, client_for):
    coder_a, _b_user, cr, a, _b = make_pair(session, codebook)
    sources = {
        lang: make_source(session, cr.country, title=pinpoint.split(",")[0].split(" § ")[0], language=lang)
        for lang, (pinpoint, _excerpt) in SCRIPTS.items()
    }
    session.commit()
    client = client_for(coder_a)
    ids = codebook.indicator_ids[:4]
    answers = {
        iid: {
            "value": "provided",
            "notes": SCRIPTS[lang][1][:40],
            "source": str(sources[lang].id),
            "pinpoint": SCRIPTS[lang][0],
            "excerpt": SCRIPTS[lang][1],
            "translation": "English translation",
        }
        for iid, lang in zip(ids, SCRIPTS)
    }
    assert client.post(f"/coder/assignments/{a.id}/save", data=post_data(codebook, {}, answers)).status_code == 303
    stored = _answers(session, a)
    page = client.get(f"/coder/assignments/{a.id}").get_data(as_text=True)
    for iid, (lang, (pinpoint, excerpt)) in zip(ids, SCRIPTS.items()):
        citation = stored[iid].citations[0]
        assert (citation.pinpoint, citation.excerpt, stored[iid].notes) == (pinpoint, excerpt, excerpt[:40])
        assert f'<blockquote class="excerpt" dir="auto" lang="{lang}">{excerpt}</blockquote>' in page
        assert f'dir="auto">{pinpoint}</span>' in page


def test_coding_page_query_count_is_fixed(app, session, codebook, client_for):
    coder_a, _b_user, cr, a, _b = make_pair(session, codebook)
    answers = fill_assignment(session, a, codebook)
    session.commit()
    engine = app.extensions["rightsdb.engine"]
    client = client_for(coder_a)
    client.get(f"/coder/assignments/{a.id}")
    with count_queries(engine) as few:
        assert client.get(f"/coder/assignments/{a.id}").status_code == 200
    extra_sources = [make_source(session, cr.country, title=f"Act {n}") for n in range(6)]
    for answer in answers:
        for n in range(2):
            session.add(Citation(answer_id=answer.id, source_id=extra_sources[n + answer.id % 4].id, pinpoint=f"s. {n}"))
    session.commit()
    with count_queries(engine) as many:
        page = client.get(f"/coder/assignments/{a.id}")
    assert page.status_code == 200 and page.get_data(as_text=True).count("Remove this citation") == 3 * len(answers)
    assert few.count == many.count, many.statements
    assert many.count <= 10


def test_url_and_date_errors_are_shown_next_to_the_field(session, codebook, client_for):
    coder_a, _b_user, cr, a, _b = make_pair(session, codebook)
    source = make_source(session, cr.country)
    session.commit()
    client = client_for(coder_a)
    first = codebook.indicator_ids[0]
    response = client.post(
        f"/coder/assignments/{a.id}/save",
        data=post_data(
            codebook, {}, {first: {"value": "provided", "source": str(source.id), "pinpoint": "Art. 1", "cite_url": "ftp://example.org/x"}}
        ),
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert f'<p class="error" id="{first}-cite_url-error">Enter a web address starting with http:// or https://.</p>' in page
    assert 'value="ftp://example.org/x"' in page and _answers(session, a) == {}
    response = client.post(
        f"/coder/assignments/{a.id}/sources",
        data={"instrument_type": "statute", "title": "Migration Act", "url": "javascript:alert(1)", "date_in_force": "2026-02-30"},
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'id="url-error">Enter a web address starting with http:// or https://.' in page
    assert 'id="date_in_force-error">Not a valid date value.' in page
    missing_source = client.post(
        f"/coder/assignments/{a.id}/save", data=post_data(codebook, {}, {first: {"value": "provided", "pinpoint": "Art. 2"}})
    )
    assert missing_source.status_code == 422 and "Choose the legal source" in missing_source.get_data(as_text=True)


def test_sources_page_adds_and_edits_and_inline_source_from_citation_row(session, codebook, client_for):
    coder_a, _b_user, cr, a, _b = make_pair(session, codebook)
    session.commit()
    client = client_for(coder_a)
    base = f"/coder/assignments/{a.id}"
    assert (
        client.post(
            base + "/sources",
            data={
                "instrument_type": "constitution",
                "title": "Constitution of Arvenia",
                "url": "https://arvenia.example/constitution",
                "date_in_force": "1999-05-01",
                "language": "en",
            },
        ).status_code
        == 303
    )
    source = session.exec(select(LegalSource).where(LegalSource.country_iso3 == cr.country_iso3)).one()
    assert source.date_in_force == date(1999, 5, 1) and source.created_by_id == coder_a.id
    assert "Constitution of Arvenia" in client.get(base + "/sources").get_data(as_text=True)
    assert (
        client.post(
            f"{base}/sources/{source.id}",
            data={
                "instrument_type": "constitution",
                "title": "Constitution of Arvenia (1999)",
                "url": source.url,
                "date_in_force": "1999-05-01",
            },
        ).status_code
        == 303
    )
    session.expire_all()
    assert session.get(LegalSource, source.id).title == "Constitution of Arvenia (1999)"
    page = client.get(base).get_data(as_text=True)
    assert f'<option value="{source.id}">Constitution of Arvenia (1999) (1999-05-01)</option>' in page
    first = codebook.indicator_ids[0]
    assert (
        client.post(
            base + "/save",
            data=post_data(
                codebook,
                {},
                {
                    first: {
                        "value": "provided",
                        "source": "new",
                        "new_source_type": "statute",
                        "new_source_title": "Aliens Act 2001",
                        "new_source_url": "https://arvenia.example/aliens",
                        "pinpoint": "s. 4",
                        "excerpt": "Everyone may...",
                    }
                },
            ),
        ).status_code
        == 303
    )
    inline = session.exec(select(LegalSource).where(LegalSource.title == "Aliens Act 2001")).one()
    assert _answers(session, a)[first].citations[0].source_id == inline.id
    actions = [e.action for e in session.exec(select(AuditEvent).where(AuditEvent.entity == "legal_source"))]
    assert actions.count("source.created") == 2 and actions.count("source.edited") == 1


def test_carry_forward_through_the_web(session, codebook, client_for):
    _x, _y, old_cr, _p, _q = make_pair(session, codebook, round_name="2020", reference_date=date(2020, 1, 1))
    make_final_round(session, codebook, old_cr, {i: "provided" for i in codebook.indicator_ids})
    coder_a, _b_user, _cr, a, _b = make_pair(session, codebook, round_name="2026")
    session.commit()
    client = client_for(coder_a)
    base = f"/coder/assignments/{a.id}"
    assert "Start unanswered indicators from them" in client.get(base).get_data(as_text=True)
    assert client.post(base + "/carry-forward").status_code == 303
    page = client.get(base).get_data(as_text=True)
    assert page.count('<span class="badge badge-warn">carried forward</span>') == len(codebook.indicators)
    refused = client.post(
        base + "/save",
        data=post_data(codebook, _versions(session, a), {i: {"value": "provided"} for i in codebook.indicator_ids}, submit_assignment="1"),
        follow_redirects=True,
    )
    assert "Saved, but not submitted" in refused.get_data(as_text=True)
    assert "confirm or change it" in refused.get_data(as_text=True)
    confirmed = client.post(
        base + "/save",
        data=post_data(
            codebook,
            _versions(session, a),
            {i: {"value": "provided", "confirm": "y"} for i in codebook.indicator_ids},
            submit_assignment="1",
        ),
    )
    assert confirmed.status_code == 303 and confirmed.headers["Location"].endswith("/coder/")
    session.expire_all()
    assert session.get(type(a), a.id).status == "submitted"


def test_two_coders_code_a_jurisdiction_end_to_end(session, codebook, client_for):
    coder_a, coder_b, cr, a, b = make_pair(session, codebook)
    session.commit()
    conditional = codebook.indicator_ids[5]
    # Coder A enters the main statute once on the sources page, then answers everything citing it.
    client_a = client_for(coder_a)
    client_a.post(
        f"/coder/assignments/{a.id}/sources",
        data={"instrument_type": "statute", "title": "Arvenian Aliens Act", "url": "https://arvenia.example/aliens", "language": "en"},
    )
    source = session.exec(select(LegalSource)).one()
    answers = {
        i: {"value": "provided", "source": str(source.id), "pinpoint": f"s. {n}", "excerpt": f"Section {n}"}
        for n, i in enumerate(codebook.indicator_ids)
    }
    answers[conditional].update(value="conditional", groups=["permanent_residents"])
    response = client_a.post(f"/coder/assignments/{a.id}/save", data=post_data(codebook, {}, answers, submit_assignment="1"))
    assert response.status_code == 303 and response.headers["Location"].endswith("/coder/")
    # Coder B creates another source inline from the first citation row, saves, then completes and submits.
    client_b = client_for(coder_b)
    first = codebook.indicator_ids[0]
    client_b.post(
        f"/coder/assignments/{b.id}/save",
        data=post_data(
            codebook,
            {},
            {
                first: {
                    "value": "provided",
                    "source": "new",
                    "new_source_type": "constitution",
                    "new_source_title": "Constitution of Arvenia",
                    "pinpoint": "Art. 1",
                    "excerpt": "Everyone is equal.",
                }
            },
            save=codebook.categories[0].id,
        ),
    )
    # A's source is private to A's assignment until both are submitted (blind): B enters the statute too.
    client_b.post(f"/coder/assignments/{b.id}/sources", data={"instrument_type": "statute", "title": "Arvenian Aliens Act"})
    own = session.exec(select(LegalSource).where(LegalSource.assignment_id == b.id, LegalSource.instrument_type == "statute")).one()
    answers_b = {i: {**v, "source": str(own.id)} for i, v in answers.items()}
    answers_b[first] = {"value": "provided"}  # the browser posts the saved answer again, with a blank citation row
    response = client_b.post(
        f"/coder/assignments/{b.id}/save", data=post_data(codebook, _versions(session, b), answers_b, submit_assignment="1")
    )
    assert response.status_code == 303 and response.headers["Location"].endswith("/coder/")
    dashboard = client_b.get("/coder/").get_data(as_text=True)
    assert "Submitted" in dashboard
    session.expire_all()
    assert [x.status for x in session.exec(select(type(a)).order_by(type(a).slot))] == ["submitted", "submitted"]
    stored_b = _answers(session, b)
    assert stored_b[conditional].groups == ["permanent_residents"] and len(stored_b) == len(codebook.indicators)
    assert all(answer.citations for answer in stored_b.values())
    assert session.get(CountryRound, cr.id).compared_at is not None  # the comparison ran on the second submission


def test_submit_route_lists_blockers_then_submits(session, codebook, client_for):
    coder_a, _b_user, _cr, a, _b = make_pair(session, codebook)
    answers = fill_assignment(session, a, codebook)
    blank = answers[2]
    blank.value = None
    session.add(blank)
    session.commit()
    client = client_for(coder_a)
    refused = client.post(f"/coder/assignments/{a.id}/submit", follow_redirects=True).get_data(as_text=True)
    indicator = codebook.indicators_by_id[blank.indicator_id]
    assert "Not submitted: 1 problem(s) remain." in refused
    assert f"{indicator.id} ({indicator.short_label}): not answered" in refused
    client.post(
        f"/coder/assignments/{a.id}/save",
        data=post_data(codebook, _versions(session, a), {i: {"value": "provided"} for i in codebook.indicator_ids}),
    )
    response = client.post(f"/coder/assignments/{a.id}/submit")
    assert response.status_code == 303 and response.headers["Location"].endswith("/coder/")
    session.expire_all()
    assert session.get(type(a), a.id).status == "submitted"
    again = client.post(f"/coder/assignments/{a.id}/submit", follow_redirects=True).get_data(as_text=True)
    assert "submitted and is read-only" in again


def test_coding_page_is_generated_from_the_codebook(session, codebook, client_for):
    coder_a, _b_user, _cr, a, _b = make_pair(session, codebook)
    session.commit()
    page = client_for(coder_a).get(f"/coder/assignments/{a.id}").get_data(as_text=True)
    for category in codebook.categories:
        assert f'id="cat-{category.id}"' in page and f'name="save" value="{category.id}"' in page
    for indicator in codebook.indicators:
        assert f'id="ind-{indicator.id}"' in page and str(escape(indicator.question)) in page
        assert f'name="{indicator.id}-version" value="0"' in page
    for group in codebook.migrant_groups:
        assert group.label in page
    assert page.count("<form ") == 2  # the sign-out form and the single coding form (no earlier round to carry from)
    assert 'name="submit_assignment"' in page and "Synthetic demonstration data" in page
    assert "<script>" not in page and "style=" not in page


# --- The page shown fresh needs no bound form (coding_forms.coding_view) ----------------------------


def _without_token(html: str) -> str:
    """Blank the CSRF tokens (signed with a timestamp, so two requests may differ)."""
    return re.sub(r'name="csrf_token" value="[^"]*"', 'name="csrf_token" value=""', html)


def _fresh_page(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, url
    return _without_token(response.get_data(as_text=True))


def test_fresh_page_is_identical_to_the_one_rendered_from_the_bound_form(session, codebook, client_for, monkeypatch):
    coder_a, _b_user, cr, a, _b = make_pair(session, codebook)
    source = make_source(session, cr.country, title='Закон «Об иностранцах» <2024> & "Co"')
    first, second, third, fourth = codebook.indicator_ids[:4]
    # Four states; every other indicator unanswered.
    answers = {
        first: Answer(
            assignment_id=a.id,
            indicator_id=first,
            value="conditional",
            groups=["permanent_residents", "refugees_asylum_seekers"],
            notes='Art. 5 <b>limits</b> it & "more" — المادة ٥',
            codebook_version=codebook.version,
            version=3,
        ),
        second: Answer(assignment_id=a.id, indicator_id=second, value="provided", carried_forward=True, codebook_version=codebook.version),
        third: Answer(
            assignment_id=a.id, indicator_id=third, value=None, notes="Still searching the labour code.", codebook_version=codebook.version
        ),
        fourth: Answer(
            assignment_id=a.id, indicator_id=fourth, value="not_applicable", notes="No such procedure.", codebook_version=codebook.version
        ),
    }
    session.add_all(answers.values())
    session.flush()
    session.add(Citation(answer_id=answers[first].id, source_id=source.id, pinpoint="Art. 5 (2)", excerpt="Текст <статьи>"))
    session.commit()
    client = client_for(coder_a)
    base = f"/coder/assignments/{a.id}"
    category = codebook.indicators_by_id[first].category
    urls = [base, f"{base}?category={category}"]

    def bound_form(book, stored, sources):
        return coding_forms.build_coding_form(book, stored, sources)

    def refuse_bound_form(*_args, **_kwargs):
        raise AssertionError("the fresh page must not bind the coding form")

    monkeypatch.setattr(coder_views, "build_coding_form", refuse_bound_form)
    light = [_fresh_page(client, url) for url in urls]
    monkeypatch.setattr(coder_views, "coding_view", bound_form)
    bound = [_fresh_page(client, url) for url in urls]
    assert light == bound
    page = light[0]
    assert f'id="{first}-value-{[c.code for c in codebook.answers].index("conditional")}" value="conditional" checked' in page
    assert 'value="refugees_asylum_seekers" checked' in page and str(escape(answers[first].notes)) in page
    assert f'name="{second}-confirm" id="{second}-confirm"' in page
    assert "Закон «Об иностранцах» &lt;2024&gt; &amp; &#34;Co&#34;" in page
    assert f'name="{first}-remove" value="' in page and "Текст &lt;статьи&gt;" in page

    # Read-only once submitted: the same again.
    a_record = session.get(type(a), a.id)
    a_record.status = "submitted"
    session.add(a_record)
    session.commit()
    monkeypatch.setattr(coder_views, "coding_view", coding_forms.coding_view)
    light = _fresh_page(client, base)
    monkeypatch.setattr(coder_views, "coding_view", bound_form)
    assert light == _fresh_page(client, base) and "Read-only." in light


def test_answer_fields_are_the_keys_answer_data_fills(session, codebook):
    coder_a, _b_user, _cr, a, _b = make_pair(session, codebook)
    answer = fill_assignment(session, a, codebook)[0]
    assert set(coding_forms.answer_data(answer)) == set(coding_forms.ANSWER_FIELDS)
    assert set(coding_forms.answer_data(None)) <= set(coding_forms.ANSWER_FIELDS)


def test_fresh_coding_page_leaves_almost_no_cyclic_garbage(session, codebook, client_for):
    """A bound coding form is ~1,000 fields in reference cycles with their forms, freed only by the
    cyclic garbage collector (whose full collections made the page's 95th percentile); the fresh page
    binds one sub-form."""
    coder_a, _b_user, _cr, a, _b = make_pair(session, codebook)
    fill_assignment(session, a, codebook)
    session.commit()
    client = client_for(coder_a)
    url = f"/coder/assignments/{a.id}"
    client.get(url)
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        assert client.get(url).status_code == 200
        gc.collect()
        wtforms_objects = [o for o in gc.garbage if type(o).__module__.startswith(("wtforms", "coding_forms"))]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
    assert len(wtforms_objects) < 100, len(wtforms_objects)


def test_refused_save_keeps_the_chosen_instrument_type_selected(session, codebook, client_for):
    coder_a, _b_user, _cr, a, _b = make_pair(session, codebook)
    session.commit()
    first, second = codebook.indicator_ids[:2]
    chosen = codebook.instrument_types[-1].code
    response = client_for(coder_a).post(
        f"/coder/assignments/{a.id}/save",
        data=post_data(
            codebook,
            {},
            {first: {"source": "new", "new_source_type": chosen, "new_source_title": "Decree 7", "new_source_url": "ftp://example.org"}},
        ),
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    first_select = page.split(f'id="{first}-new_source_type">', 1)[1].split("</select>", 1)[0]
    second_select = page.split(f'id="{second}-new_source_type">', 1)[1].split("</select>", 1)[0]
    assert f'<option value="{chosen}" selected>' in first_select
    assert " selected" not in second_select and f'<option value="{chosen}">' in second_select


def test_the_category_and_save_values_never_reach_the_redirect_unchecked(session, codebook, client_for):
    coder_a, _b_user, _cr, a, _b = make_pair(session, codebook)
    session.commit()
    first = codebook.indicators[0]
    client = client_for(coder_a)
    notes = {first.id: {"value": "not_applicable", "notes": "No such procedure."}}
    huge = client.post(f"/coder/assignments/{a.id}/save", data=post_data(codebook, {}, notes, category="C" * 100_000, save="S" * 100_000))
    assert huge.status_code == 303 and len(huge.headers["Location"]) < 200
    assert huge.headers["Location"].endswith(f"/coder/assignments/{a.id}")  # neither value is a category: the whole form
    assert _answers(session, a)[first.id].notes == "No such procedure."  # the save itself stood
    unknown = client.post(
        f"/coder/assignments/{a.id}/save",
        data=post_data(codebook, _versions(session, a), {}, category="NOPE", save="<script>"),
        follow_redirects=True,
    )
    assert unknown.status_code == 200
    known = client.post(
        f"/coder/assignments/{a.id}/save", data=post_data(codebook, _versions(session, a), {}, category=first.category, save=first.category)
    )
    assert known.headers["Location"].endswith(f"/coder/assignments/{a.id}?category={first.category}#cat-{first.category}")
