"""What coders wrote is published: their notes and who cited what, on the country and indicator pages and in the API.

Most tests write a release's snapshot rows directly, with exactly the notes and "cited_by" under test
(`make_snapshot`): the pages and the API read only the snapshot, whatever wrote it. One test goes the
whole way, from both coders' answers through a publication to the pages and the API.
"""

from __future__ import annotations

import re
from datetime import date

import pytest
from sqlmodel import Session

from rightsdb.models import Answer, Citation, Decision, DecisionCitation, Release, ReleaseAnswer, ReleaseCitation
from rightsdb.publishing.publish import publish_release
from tests.factories.coding import make_source
from tests.factories.countries import make_real_country
from tests.factories.querycount import count_queries
from tests.factories.releases import FIXED, coders
from tests.factories.rounds import get_round, make_assignments

HOSTILE = '<script>alert("note")</script><img src=x onerror=alert(1)> & "quotes"'
ARABIC = "بحثنا في قانون العمل ولم نجد أي نص يحمي المهاجرين غير النظاميين."
LONG = "Searched " + "the labour code, the aliens act and every decree since 1990; " * 300 + "x" * 3000


def publish(app, session: Session, version: str = "1.0.0") -> Release:
    """Publish a real release of every final country-round (the whole publication)."""
    release = publish_release(
        session=session,
        codebook=app.extensions["rightsdb.codebook"],
        exports_dir=app.config["EXPORTS_DIR"],
        version=version,
        release_date=date(2026, 3, 1),
        synthetic=False,
    )
    session.commit()
    return release


def make_snapshot(
    session: Session,
    book,
    *,
    notes: dict[str, tuple[str, str]],
    cited_by: dict[str, str],
    answers: dict[str, str] | None = None,
    version: str = "1.0.0",
) -> Release:
    """Write a release of Germany's round 2026 straight into the snapshot tables, one citation per value.

    `notes` gives the coders' notes (A, B) and `cited_by` the citation's "cited_by" by indicator id
    (default empty); `answers` the final answers (default provided). The pages and the API read only
    these rows, whatever wrote them.
    """
    make_real_country(session, "DEU", "DE", "Germany", "Europe")
    release = Release(
        version=version,
        release_date=date(2026, 3, 1),
        codebook_version=book.version,
        scheme="binary",
        aggregation="category_mean",
        sha256=version.replace(".", "").ljust(64, "0"),
    )
    session.add(release)
    session.flush()
    for n, indicator in enumerate(book.indicators, start=1):
        answer = (answers or {}).get(indicator.id, "provided")
        note_a, note_b = notes.get(indicator.id, ("", ""))
        row = ReleaseAnswer(
            release_id=release.id,
            country_iso3="DEU",
            round_name="2026",
            reference_date=date(2026, 1, 1),
            indicator_id=indicator.id,
            category_id=indicator.category,
            answer=answer,
            groups=[],
            binary=1 if answer == "provided" else 0,
            score=1.0 if answer == "provided" else 0.0,
            coder_a_answer=answer,
            coder_b_answer=answer,
            outcome="agreed",
            coder_a_notes=note_a,
            coder_b_notes=note_b,
        )
        session.add(row)
        session.flush()
        session.add(
            ReleaseCitation(
                release_id=release.id,
                release_answer_id=row.id,
                position=1,
                instrument_type="statute",
                title="Aliens Act",
                pinpoint=f"Art. {n}",
                url="https://example.org/law",
                language="en",
                excerpt=f"Excerpt {indicator.id}",
                cited_by=cited_by.get(indicator.id, ""),
            )
        )
    session.commit()
    return release


@pytest.fixture
def noted(tiny_app, tiny_session, book):
    """A release of Germany with each kind of note and of "cited_by"; return a client."""
    make_snapshot(
        tiny_session,
        book,
        notes={
            "AAA-01": ("A searched the aliens act.", "B searched the labour code."),
            "AAA-02": ("Both wrote this.", "Both wrote this."),
            "BBB-01": ("", "Only B wrote this."),
        },
        cited_by={"AAA-01": "A;B", "AAA-02": "A", "BBB-01": "B"},
        answers={"BBB-01": "not_provided"},
    )
    return tiny_app.test_client()


def _row(page: str, indicator: str) -> str:
    """Return the country page's table row of one indicator."""
    match = re.search(rf'<tr>\s*<th scope="row"><a href="[^"]*/indicators/{indicator}">.*?</tr>', page, re.S)
    assert match, indicator
    return match.group()


def _card(page: str, iso3: str) -> str:
    """Return the indicator page's card of one country."""
    match = re.search(rf'<article class="card">\s*<h2><a href="[^"]*/countries/{iso3}">.*?</article>', page, re.S)
    assert match, iso3
    return match.group()


def test_country_page_shows_each_coders_note_and_who_cited(noted):
    page = noted.get("/countries/DEU").get_data(as_text=True)
    different = _row(page, "AAA-01")
    assert '<dt>Coder A\'s note</dt><dd dir="auto">A searched the aliens act.</dd>' in different
    assert '<dt>Coder B\'s note</dt><dd dir="auto">B searched the labour code.</dd>' in different
    assert "Coders' note" not in different and "cited by both coders" in different
    same = _row(page, "AAA-02")
    assert '<dt>Coders\' note</dt><dd dir="auto">Both wrote this.</dd>' in same
    assert same.count("Both wrote this.") == 1 and "Coder A's note" not in same
    assert "cited by coder A" in same and "cited by coder B" not in same and "both coders" not in same
    one = _row(page, "BBB-01")
    assert '<dt>Coder B\'s note</dt><dd dir="auto">Only B wrote this.</dd>' in one
    assert "Coder A's note" not in one and "Coders' note" not in one and "cited by coder B" in one


def test_indicator_page_shows_the_same(noted):
    card = _card(noted.get("/indicators/AAA-01").get_data(as_text=True), "DEU")
    assert "Coder A's note" in card and "A searched the aliens act." in card and "B searched the labour code." in card
    assert "cited by both coders" in card
    card = _card(noted.get("/indicators/AAA-02").get_data(as_text=True), "DEU")
    assert "Coders' note" in card and card.count("Both wrote this.") == 1 and "cited by coder A" in card


def test_no_note_and_no_cited_by_show_nothing(tiny_app, tiny_session, book):
    """Empty notes (and snapshots made before notes were published, where "cited_by" is empty) add nothing."""
    make_snapshot(tiny_session, book, notes={"AAA-01": ("  ", "\n")}, cited_by={})
    client = tiny_app.test_client()
    for url in ("/countries/DEU", "/indicators/AAA-01"):
        page = client.get(url).get_data(as_text=True)
        assert 'class="coder-notes"' not in page and "note</dt>" not in page, url
        assert "cited by" not in page, url
        assert "Art. 1" in page  # the citation itself is still there


def test_any_text_survives_both_pages(tiny_app, tiny_session, book):
    make_snapshot(tiny_session, book, notes={"AAA-01": (HOSTILE, ARABIC), "AAA-02": (LONG, "line one\nline two")}, cited_by={})
    client = tiny_app.test_client()
    country = client.get("/countries/DEU").get_data(as_text=True)
    for page in (country, client.get("/indicators/AAA-01").get_data(as_text=True)):
        assert "<script>alert" not in page and "<img src=x" not in page
        assert "&lt;script&gt;alert(&#34;note&#34;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt; &amp; &#34;quotes&#34;" in page
        assert f'<dd dir="auto">{ARABIC}</dd>' in page
    assert f'<dd dir="auto">{LONG}</dd>' in country  # whole, never cut
    assert '<dd dir="auto">line one\nline two</dd>' in country  # line breaks kept (shown by white-space: pre-wrap)
    # The page's one stylesheet wraps long words in notes and citations.
    response = client.get("/static/style.css")
    css = response.get_data(as_text=True)
    response.close()
    assert re.search(r"\.citations, \.coder-notes \{ overflow-wrap: anywhere; \}", css)
    assert re.search(r"\.coder-notes dd \{[^}]*white-space: pre-wrap", css)


def test_api_values_carry_the_notes_and_citations_carry_cited_by(noted):
    body = noted.get("/api/v1/answers?country=DEU").get_json()
    by_indicator = {a["indicator"]: a for a in body["answers"]}
    assert by_indicator["AAA-01"]["coder_a_notes"] == "A searched the aliens act."
    assert by_indicator["AAA-01"]["coder_b_notes"] == "B searched the labour code."
    assert by_indicator["BBB-01"]["coder_a_notes"] == "" and by_indicator["BBB-01"]["coder_b_notes"] == "Only B wrote this."
    assert [c["cited_by"] for c in by_indicator["AAA-01"]["citations"]] == ["A;B"]
    assert [c["cited_by"] for c in by_indicator["AAA-02"]["citations"]] == ["A"]
    assert [c["cited_by"] for c in by_indicator["BBB-01"]["citations"]] == ["B"]
    index = noted.get("/api/v1/").get_json()
    answers = next(e for e in index["endpoints"] if e["url"] == "/api/v1/answers")
    assert "notes" in answers["description"] and "cited_by" in answers["description"]


def test_api_keeps_any_text(tiny_app, tiny_session, book):
    make_snapshot(tiny_session, book, notes={"AAA-01": (HOSTILE, ARABIC), "AAA-02": (LONG, "")}, cited_by={})
    answers = {a["indicator"]: a for a in tiny_app.test_client().get("/api/v1/answers").get_json()["answers"]}
    assert (answers["AAA-01"]["coder_a_notes"], answers["AAA-01"]["coder_b_notes"]) == (HOSTILE, ARABIC)
    assert answers["AAA-02"]["coder_a_notes"] == LONG


def _both_coders_cite(session: Session, book, iso3: str, name: str) -> None:
    """Add a final country-round where both coders gave the same answer, notes and citation to every indicator.

    AAA-01: the same citation and the same note; AAA-02: the same citation, different notes; BBB-01:
    not provided, each coder citing a different provision, only coder B writing what was searched.
    """
    first, second = coders(session)
    country = make_real_country(session, iso3, iso3[:2], name, "Europe")
    country_round, slot_a, slot_b = make_assignments(session, get_round(session, book), country, first, second)
    source = make_source(session, country)
    notes = {
        "AAA-01": ("Same note.", "Same note."),
        "AAA-02": ("A's own reading.", "B's own reading."),
        "BBB-01": ("", "B searched the labour code."),
    }
    values = {"BBB-01": "not_provided"}
    for indicator in book.indicators:
        value = values.get(indicator.id, "provided")
        decision = Decision(
            country_round_id=country_round.id, indicator_id=indicator.id, value=value, groups=[], outcome="agreed", decided_at=FIXED
        )
        session.add(decision)
        session.flush()
        for slot, assignment in (("A", slot_a), ("B", slot_b)):
            answer = Answer(
                assignment_id=assignment.id,
                indicator_id=indicator.id,
                value=value,
                groups=[],
                notes=notes[indicator.id][0 if slot == "A" else 1],
                codebook_version=book.version,
            )
            session.add(answer)
            session.flush()
            pinpoint = f"Art. {slot}" if indicator.id == "BBB-01" else "Art. 7"
            citation = Citation(answer_id=answer.id, source_id=source.id, pinpoint=pinpoint, excerpt=f"Text of {pinpoint}", position=0)
            session.add(citation)
            session.flush()
            session.add(DecisionCitation(decision_id=decision.id, citation_id=citation.id))
    for assignment in (slot_a, slot_b):
        assignment.status, assignment.submitted_at = "submitted", FIXED
    country_round.compared_at = country_round.finalized_at = FIXED
    session.flush()


def test_a_publication_carries_both_coders_work_to_the_pages_and_api(tiny_app, tiny_session, book):
    _both_coders_cite(tiny_session, book, "DEU", "Germany")
    tiny_session.commit()
    publish(tiny_app, tiny_session)
    client = tiny_app.test_client()
    answers = {a["indicator"]: a for a in client.get("/api/v1/answers").get_json()["answers"]}
    assert [(c["pinpoint"], c["cited_by"]) for c in answers["AAA-01"]["citations"]] == [("Art. 7", "A;B")]  # one row, both coders
    assert [(c["pinpoint"], c["cited_by"]) for c in answers["BBB-01"]["citations"]] == [("Art. A", "A"), ("Art. B", "B")]
    assert (answers["AAA-02"]["coder_a_notes"], answers["AAA-02"]["coder_b_notes"]) == ("A's own reading.", "B's own reading.")
    page = client.get("/countries/DEU").get_data(as_text=True)
    assert "Coders' note" in _row(page, "AAA-01") and "cited by both coders" in _row(page, "AAA-01")
    assert "Coder A's note" in _row(page, "AAA-02") and "Coder B's note" in _row(page, "AAA-02")
    searched = _row(page, "BBB-01")
    assert "B searched the labour code." in searched and "cited by coder A" in searched and "cited by coder B" in searched


def test_notes_cost_no_query(tiny_app, tiny_session, book):
    """The notes and "cited_by" come with the snapshot the catalog reads once: the pages' query counts do not change."""
    make_snapshot(tiny_session, book, notes={}, cited_by={}, version="1.0.0")
    make_snapshot(
        tiny_session,
        book,
        notes={i.id: (f"A on {i.id}", f"B on {i.id}") for i in book.indicators},
        cited_by={i.id: "A;B" for i in book.indicators},
        version="2.0.0",
    )
    engine = tiny_app.extensions["rightsdb.engine"]
    client = tiny_app.test_client()
    counts = {}
    for version in ("1.0.0", "2.0.0"):
        for url in ("/countries/DEU", "/indicators/AAA-01", "/api/v1/answers"):
            tiny_app.extensions.pop("rightsdb.release_cache", None)  # a cold catalog: it is built in this request
            with count_queries(engine) as log:
                assert client.get(f"{url}?release={version}").status_code == 200
            counts[(version, url)] = log.count
    assert "A on AAA-01" in client.get("/countries/DEU?release=2.0.0").get_data(as_text=True)
    for url in ("/countries/DEU", "/indicators/AAA-01", "/api/v1/answers"):
        assert counts[("1.0.0", url)] == counts[("2.0.0", url)], counts
