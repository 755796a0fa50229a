"""The supervisor's source register pages: listing, in-place edits, corrections with a reason, merges, history,
citation corrections; forms that point at the field at fault, refusals that change nothing, hostile text escaped."""

from __future__ import annotations

import re

import pytest
from sqlmodel import select

from rightsdb.models import AuditEvent, Citation, DecisionCitation, EvidenceCorrection, LegalSource
from tests.conftest import login
from tests.factories.coding import make_source
from tests.factories.countries import make_country
from tests.factories.people import make_user
from tests.factories.releases import make_final
from tests.factories.world import HOSTILE, IMG, IMG_ESCAPED, SCRIPT, SCRIPT_ESCAPED, changed_tables, table_snapshot

TITLE = f"Закон «об иностранцах» قانون {HOSTILE}"
REASON = f"Official title — revised 2024 {HOSTILE} «ред.»"


class Scene:
    def __init__(self, **rows):
        self.__dict__.update(rows)


@pytest.fixture
def scene(tiny_app, tiny_session, book):
    """XAA final (every value on `source`), a spare register source, and a signed-in supervisor and coder."""
    session = tiny_session
    country = make_country(session, 0)
    country_round, decisions = make_final(session, book, country, source_title=f"Aliens Act {HOSTILE}")
    link = session.exec(select(DecisionCitation).where(DecisionCitation.decision_id == decisions[0].id)).first()
    citation = session.get(Citation, link.citation_id)
    source = session.get(LegalSource, citation.source_id)
    spare = make_source(session, country, title=f"Constitution {HOSTILE}", instrument_type="constitution")
    supervisor, coder = make_user(session, "supervisor"), make_user(session, "coder")
    session.commit()
    return Scene(
        country=country,
        country_round=country_round,
        decisions=decisions,
        citation=citation,
        source=source,
        spare=spare,
        supervisor=login(tiny_app.test_client(), supervisor),
        coder=login(tiny_app.test_client(), coder),
        engine=tiny_app.extensions["rightsdb.engine"],
    )


def _form(source: LegalSource, **changes) -> dict:
    data = {
        "instrument_type": source.instrument_type,
        "title": source.title,
        "url": source.url,
        "date_in_force": source.date_in_force.isoformat() if source.date_in_force else "",
        "language": source.language,
    }
    return {**data, **changes}


def _assert_escaped(html: str) -> None:
    assert SCRIPT not in html and IMG not in html
    assert SCRIPT_ESCAPED in html and IMG_ESCAPED in html


def _linked_errors(html: str) -> set[str]:
    """Return the field ids the error summary links to."""
    summary = html.split('class="error-summary"', 1)[1].split("</div>", 1)[0]
    return set(re.findall(r'href="#([\w-]+)"', summary))


def test_the_register_lists_the_sources_and_what_stands_on_them(tiny_session, scene):
    page = scene.supervisor.get("/supervisor/countries/XAA/sources")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    _assert_escaped(html)
    assert "frozen" in html and "3 in 1 country-round" in html
    assert f"/supervisor/countries/XAA/sources/{scene.source.id}" in html and "Merge" in html
    # reachable from the country-round's page; lower case in the address works too
    assert "/supervisor/countries/XAA/sources" in scene.supervisor.get(f"/supervisor/country-rounds/{scene.country_round.id}").get_data(
        as_text=True
    )
    assert scene.supervisor.get("/supervisor/countries/xaa/sources").status_code == 200
    assert scene.supervisor.get("/supervisor/countries/QQQ/sources").status_code == 404


def test_coders_are_refused_every_register_page(scene):
    for url in (
        "/supervisor/countries/XAA/sources",
        f"/supervisor/countries/XAA/sources/{scene.source.id}",
        f"/supervisor/countries/XAA/sources/{scene.source.id}/history",
        f"/supervisor/country-rounds/{scene.country_round.id}/indicators/{scene.decisions[0].indicator_id}/citations/{scene.citation.id}",
    ):
        assert scene.coder.get(url).status_code == 403, url
    before = table_snapshot(scene.engine)
    assert scene.coder.post(f"/supervisor/countries/XAA/sources/{scene.spare.id}", data=_form(scene.spare, title="X")).status_code == 403
    assert changed_tables(before, table_snapshot(scene.engine)) == []


def test_a_source_behind_nothing_is_edited_in_place_without_a_reason(tiny_session, scene):
    url = f"/supervisor/countries/XAA/sources/{scene.spare.id}"
    page = scene.supervisor.get(url).get_data(as_text=True)
    assert 'name="reason"' not in page
    response = scene.supervisor.post(url, data=_form(scene.spare, title="Constitution\x0bof Arvenia\x1f"))
    assert response.status_code == 303
    tiny_session.expire_all()
    assert tiny_session.get(LegalSource, scene.spare.id).title == "Constitution\nof Arvenia"
    assert tiny_session.exec(select(AuditEvent).where(AuditEvent.action == "source.edited")).one()


def test_a_frozen_source_asks_for_a_reason_and_a_refusal_changes_nothing(tiny_session, scene):
    url = f"/supervisor/countries/XAA/sources/{scene.source.id}"
    page = scene.supervisor.get(url).get_data(as_text=True)
    assert 'name="reason"' in page and "Save the correction" in page
    _assert_escaped(page)
    before = table_snapshot(scene.engine)
    for reason in ("", "\x0b\x0c "):
        refused = scene.supervisor.post(url, data=_form(scene.source, title=TITLE, reason=reason))
        html = refused.get_data(as_text=True)
        assert refused.status_code == 400
        assert _linked_errors(html) == {"reason"} and 'id="reason-error"' in html
        _assert_escaped(html)  # what was typed comes back, escaped
    refused = scene.supervisor.post(url, data=_form(scene.source, title=TITLE, url="javascript:alert(1)", reason=REASON))
    assert refused.status_code == 400 and _linked_errors(refused.get_data(as_text=True)) == {"url"}
    assert changed_tables(before, table_snapshot(scene.engine)) == []


def test_a_frozen_source_is_corrected_as_a_new_version(tiny_session, scene):
    url = f"/supervisor/countries/XAA/sources/{scene.source.id}"
    response = scene.supervisor.post(url, data=_form(scene.source, title=TITLE, reason=REASON))
    assert response.status_code == 303
    tiny_session.expire_all()
    old = tiny_session.get(LegalSource, scene.source.id)
    new = tiny_session.get(LegalSource, old.replaced_by_id)
    assert (old.title, new.title, new.version) == (f"Aliens Act {HOSTILE}", TITLE, 2)
    assert {r.reason for r in tiny_session.exec(select(EvidenceCorrection))} == {REASON}
    register = scene.supervisor.get("/supervisor/countries/XAA/sources").get_data(as_text=True)
    assert "Закон «об иностранцах»" in register
    history = scene.supervisor.get(f"/supervisor/countries/XAA/sources/{new.id}/history")
    html = history.get_data(as_text=True)
    assert history.status_code == 200 and "Earlier version" in html and "revised 2024" in html
    _assert_escaped(html)
    # the old version's page leads to the current one; correcting the old one again is impossible
    assert scene.supervisor.get(url).headers["Location"].endswith(f"/sources/{new.id}")
    # the audit trail of the country-round shows it, readable
    audit = scene.supervisor.get(f"/supervisor/country-rounds/{scene.country_round.id}/audit").get_data(as_text=True)
    assert "source.corrected" in audit


def test_merging_from_the_register(tiny_session, scene):
    url = "/supervisor/countries/XAA/sources/merge"
    before = table_snapshot(scene.engine)
    refused = scene.supervisor.post(url, data={"source": scene.spare.id, "into": scene.spare.id, "reason": ""})
    assert refused.status_code == 400 and "into itself" in refused.get_data(as_text=True)
    assert _linked_errors(refused.get_data(as_text=True)) == {"into"}
    refused = scene.supervisor.post(url, data={"source": scene.source.id, "into": scene.spare.id, "reason": ""})
    assert refused.status_code == 400 and _linked_errors(refused.get_data(as_text=True)) == {"reason"}
    assert changed_tables(before, table_snapshot(scene.engine)) == []
    done = scene.supervisor.post(url, data={"source": scene.source.id, "into": scene.spare.id, "reason": REASON})
    assert done.status_code == 303
    tiny_session.expire_all()
    assert tiny_session.get(LegalSource, scene.source.id).replaced_by_id == scene.spare.id
    assert {r.kind for r in tiny_session.exec(select(EvidenceCorrection))} == {"merge"}
    history = scene.supervisor.get(f"/supervisor/countries/XAA/sources/{scene.spare.id}/history").get_data(as_text=True)
    assert f"Duplicate merged into #{scene.spare.id}" in history


def test_correcting_a_citation_from_the_indicator_page(tiny_session, scene):
    indicator_id = scene.decisions[0].indicator_id
    review = f"/supervisor/country-rounds/{scene.country_round.id}/indicators/{indicator_id}"
    url = f"{review}/citations/{scene.citation.id}"
    assert url in scene.supervisor.get(review).get_data(as_text=True)
    page = scene.supervisor.get(url)
    assert page.status_code == 200
    _assert_escaped(page.get_data(as_text=True))
    data = {"source_id": scene.spare.id, "pinpoint": "Art. ٣ §2", "url": "", "excerpt": f"لكل مهاجر {HOSTILE}", "translation": ""}
    before = table_snapshot(scene.engine)
    refused = scene.supervisor.post(url, data={**data, "reason": ""})
    assert refused.status_code == 400 and _linked_errors(refused.get_data(as_text=True)) == {"reason"}
    refused = scene.supervisor.post(url, data={**data, "url": "ftp://x", "reason": REASON})
    assert refused.status_code == 400 and _linked_errors(refused.get_data(as_text=True)) == {"url"}
    assert changed_tables(before, table_snapshot(scene.engine)) == []
    done = scene.supervisor.post(url, data={**data, "reason": REASON})
    assert done.status_code == 303 and done.headers["Location"].endswith(review)
    tiny_session.expire_all()
    old = tiny_session.get(Citation, scene.citation.id)
    new = tiny_session.get(Citation, old.replaced_by_id)
    assert (new.source_id, new.pinpoint, new.excerpt) == (scene.spare.id, "Art. ٣ §2", f"لكل مهاجر {HOSTILE}")
    shown = scene.supervisor.get(review).get_data(as_text=True)
    assert "Art. ٣ §2" in shown and "Art. 1</span>" not in shown  # the current version only
    # the old version's correction page is gone: it is no citation of the answer any more
    assert scene.supervisor.get(url).status_code == 404
