"""The fast paths of the public site and the API: cached fragments and bodies, filters, the garbage collector.

Pages and API answers about a release are built once and kept in the release catalog's memo. These
tests show that a cached answer is always the right one (per release, per `?release=` link style,
per script root, per filter choice), that cached fragments are escaped, that the memo stays within
its budget, and the indicator page's round and region filters. Speed itself is measured in bench/.
"""

from __future__ import annotations

import gc
import re
import weakref
from datetime import date

import pytest
from matplotlib.font_manager import FontProperties
from matplotlib.textpath import TextToPath
from sqlmodel import Session

from rightsdb.models import Country
from rightsdb.process import collector_paused
from rightsdb.public import catalog as release_catalog
from rightsdb.public import charts
from rightsdb.public.catalog import Memo
from rightsdb.publishing.publish import publish_release
from tests.factories.countries import make_country
from tests.factories.querycount import count_queries
from tests.factories.releases import make_final
from tests.factories.rounds import get_round

HOSTILE = '<script>alert("x")</script> & <b>'
ESCAPED = "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &lt;b&gt;"


@pytest.fixture
def session(tiny_app):
    with Session(tiny_app.extensions["rightsdb.engine"], expire_on_commit=False) as session:
        yield session


def publish(app, session, version: str):
    release = publish_release(
        session=session,
        codebook=app.extensions["rightsdb.codebook"],
        exports_dir=app.config["EXPORTS_DIR"],
        version=version,
        release_date=date(2026, 3, 1),
        synthetic=True,
        title=f"Release {version}",
    )
    session.commit()
    return release


def catalogs(app) -> dict:
    return app.extensions["rightsdb.release_cache"]


def forget(app) -> None:
    """Drop every cached catalog (and so everything in their memos)."""
    app.extensions.pop("rightsdb.release_cache", None)


@pytest.fixture
def two_releases(tiny_app, session, book):
    """1.0.0: Arvenia (Europe) in rounds 2025 and 2026. 2.0.0 adds Borovia (Africa), AAA-01 not provided, in 2026."""
    get_round(session, book, "2025", date(2025, 1, 1))
    get_round(session, book, "2026", date(2026, 1, 1))
    arvenia = make_country(session, 0, region="Europe")
    make_final(session, book, arvenia, round_name="2025", final={"AAA-01": "not_provided"}, excerpt="Old law")
    make_final(session, book, arvenia, round_name="2026", excerpt="New law")
    session.commit()
    publish(tiny_app, session, "1.0.0")
    make_final(session, book, make_country(session, 1, region="Africa"), final={"AAA-01": "not_provided"}, excerpt="Borovian law")
    session.commit()
    publish(tiny_app, session, "2.0.0")
    return tiny_app.test_client()


def text(client, url: str, status: int = 200, **kwargs) -> str:
    response = client.get(url, **kwargs)
    assert response.status_code == status, (url, response.status_code)
    return response.get_data(as_text=True)


def country_links(page: str) -> set[str]:
    return set(re.findall(r'href="([^"]*/countries/[^"]*)"', page))


# ---- the memo ----------------------------------------------------------------------------------


def test_memo_builds_once_and_drops_the_least_recently_used_beyond_its_budget():
    memo = Memo(max_bytes=100)
    built = []

    def value(name, size):
        return lambda: built.append(name) or name * size

    assert memo.get("a", value("a", 25)) == "a" * 25
    assert memo.get("a", value("a", 25)) == "a" * 25 and built == ["a"]  # built once
    memo.get("b", value("b", 20))
    memo.get("a", value("a", 25))  # a is now more recently used than b
    for name in "cde":
        memo.get(name, value(name, 20))  # 25 + 4 x 20 > 100: b, the least recently used, goes
    assert "b" not in memo and all(k in memo for k in "acde")
    assert memo.bytes == 85 and built == ["a", "b", "c", "d", "e"]
    assert memo.get("huge", value("h", 26)) == "h" * 26  # over a quarter of the budget: answered, not kept
    assert "huge" not in memo and memo.bytes == 85


def test_memo_sizes_values_with_the_given_function():
    memo = Memo(max_bytes=1000)
    memo.get("x", lambda: (3, "abc"), lambda v: 200)
    assert memo.bytes == 200


def test_the_catalog_cache_keeps_the_most_recently_used_releases_and_replaces_a_stale_one(monkeypatch):
    monkeypatch.setattr(release_catalog, "CATALOGS", 3)
    cache = release_catalog.catalog_cache()
    for release_id in (1, 2, 3):
        cache.put(release_id, f"catalog {release_id}")
    assert cache.peek(1) == "catalog 1"  # 1 is now the most recently used: 2 goes first
    cache.put(4, "catalog 4")
    assert list(cache) == [3, 1, 4] and cache.peek(2) is None
    cache.put(3, "catalog 3, rebuilt")  # a stale catalog is replaced, not kept twice
    assert list(cache) == [1, 4, 3] and cache.values() == ["catalog 1", "catalog 4", "catalog 3, rebuilt"]
    cache.pop(4)
    assert len(cache) == 2 and 4 not in cache
    cache.clear()
    assert len(cache) == 0 and cache.bytes == 0


def test_collector_is_paused_while_building_and_restored_even_on_error():
    assert gc.isenabled()
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(RuntimeError), collector_paused():
        raise RuntimeError("boom")
    assert gc.isenabled()
    gc.disable()
    try:
        with collector_paused():
            pass
        assert not gc.isenabled()  # was off before: stays off
    finally:
        gc.enable()


def test_a_large_catalog_is_frozen_out_of_the_collector_and_a_small_one_is_not(two_releases, tiny_app, monkeypatch):
    gc.unfreeze()
    try:
        assert text(two_releases, "/")
        assert gc.get_freeze_count() == 0  # a handful of records: below FREEZE_MIN_RECORDS
        monkeypatch.setattr(release_catalog, "FREEZE_MIN_RECORDS", 3)
        forget(tiny_app)
        assert text(two_releases, "/")
        assert gc.get_freeze_count() > 0
        (catalog,) = catalogs(tiny_app).values()
        assert gc.is_tracked(catalog.records) and not any(o is catalog.records for o in gc.get_objects())
        # Frozen, yet freed by reference counting alone once it leaves the cache (a catalog has no cycle).
        gone = weakref.ref(catalog)
        del catalog
        gc.disable()
        try:
            forget(tiny_app)
            assert gone() is None
        finally:
            gc.enable()
    finally:
        gc.unfreeze()


# ---- cached HTML is right for each release, link style and script root --------------------------


def test_each_release_gets_its_own_rows_whatever_was_cached_first(two_releases, tiny_app):
    for _ in range(2):  # cold, then from the cache
        latest = text(two_releases, "/")
        older = text(two_releases, "/?release=1.0.0")
        assert "Borovia" in latest and "Borovia" not in older
        assert "Arvenia" in latest and "Arvenia" in older
    assert {catalog.release.version for catalog in catalogs(tiny_app).values()} == {"1.0.0", "2.0.0"}


def test_links_in_cached_fragments_keep_the_release_only_when_the_request_has_it(two_releases):
    plain, pinned = "/countries/XAA", "/countries/XAA?release=2.0.0"
    for _ in range(2):
        for url in ("/", "/indicators/AAA-01"):
            assert country_links(text(two_releases, url)) >= {plain} and not any(
                "release=" in u for u in country_links(text(two_releases, url))
            )
            pinned_links = country_links(text(two_releases, url + "?release=2.0.0"))
            assert pinned in pinned_links and all(u.endswith("?release=2.0.0") for u in pinned_links)
        page = text(two_releases, "/countries/XAA")
        assert 'href="/indicators/AAA-01"' in page and "/indicators/AAA-01?release=" not in page
        page = text(two_releases, "/countries/XAA?release=2.0.0")
        assert 'href="/indicators/AAA-01?release=2.0.0"' in page
        assert "/chart/countries/XAA.svg?round=2026&amp;release=2.0.0" in page


def test_cached_links_follow_the_script_root(two_releases):
    assert 'href="/countries/XAA"' in text(two_releases, "/")  # cached without a prefix first
    mounted = text(two_releases, "/", base_url="http://localhost/rights/")
    assert 'href="/rights/countries/XAA"' in mounted and 'href="/countries/XAA"' not in mounted
    mounted = text(two_releases, "/indicators/AAA-01", base_url="http://localhost/rights/")
    assert 'href="/rights/countries/XAA"' in mounted


def test_cached_rows_follow_sort_and_filters(two_releases):
    text(two_releases, "/")  # fill the cache
    ascending = text(two_releases, "/?sort=category_mean&round=2026")
    assert ascending.index("Borovia") < ascending.index("Arvenia") and 'aria-sort="ascending"' in ascending
    descending = text(two_releases, "/?sort=-category_mean&round=2026")
    assert descending.index("Arvenia") < descending.index("Borovia") and 'aria-sort="descending"' in descending
    europe = text(two_releases, "/?region=Europe")
    assert "Borovia" not in europe and europe.count('<th scope="row">') == 2  # Arvenia in both rounds
    assert '<td class="num shade-5">50%</td>' in europe  # Arvenia 2025: AAA 1 of 2
    africa = text(two_releases, "/?region=Africa&round=2025")
    assert "No country matches" in africa


def test_cached_fragments_escape_hostile_text(tiny_app, session, book):
    country = Country(iso3="XQQ", iso2="XQ", numeric="999", name=HOSTILE, region="Europe", synthetic=True)
    session.add(country)
    session.flush()
    make_final(session, book, country, source_title=HOSTILE, excerpt=HOSTILE, coder_b={"AAA-01": "not_provided"})
    session.commit()
    publish(tiny_app, session, "1.0.0")
    client = tiny_app.test_client()
    for _ in range(2):  # rendered, then served from the cache
        for url in ("/", "/countries/XQQ", "/indicators/AAA-01", "/indicators/AAA-01?round=", "/table?country=XQQ"):
            page = text(client, url)
            assert ESCAPED in page, url
            assert "<script>" not in page and "<b>" not in page, url
    assert client.get("/api/v1/countries").get_json()["countries"][0]["name"] == HOSTILE


def test_memo_over_budget_still_answers_right(two_releases, tiny_app, monkeypatch):
    monkeypatch.setattr(release_catalog, "MEMO_BYTES", 1)
    first = text(two_releases, "/indicators/AAA-01?round=")
    assert text(two_releases, "/indicators/AAA-01?round=") == first
    assert two_releases.get("/api/v1/matrix").get_json()["matrix"]["rows"][-1]["iso3"] == "XBB"
    (catalog,) = catalogs(tiny_app).values()
    assert catalog.memo.max_bytes == 1 and len(catalog.memo) == 0 and catalog.memo.bytes == 0
    assert "Borovia" in first and "Arvenia" in first


# ---- the indicator page's filters --------------------------------------------------------------


def test_indicator_page_shows_the_latest_round_by_default(two_releases):
    page = text(two_releases, "/indicators/AAA-01")
    assert page.count('<article class="card">') == 2  # Arvenia and Borovia in 2026
    assert "XAA · 2026" in page and "XAA · 2025" not in page
    assert "2 answers in round 2026, the latest." in page
    assert '<option value="2026" selected>2026 (latest)</option>' in page
    assert '<a href="/indicators/AAA-01?round=">Show every round</a>' in page
    assert '<label for="filter-round">Round</label>' in page and '<label for="filter-region">Region (UN M49)</label>' in page
    assert 'name="release"' not in page.split('class="filters"')[1].split("</form>")[0]


def test_indicator_page_all_rounds_one_round_and_a_region(two_releases):
    every = text(two_releases, "/indicators/AAA-01?round=")
    assert every.count('<article class="card">') == 3 and "XAA · 2025" in every
    assert "3 answers in every round." in every and '<option value="" selected>All rounds</option>' in every
    assert '<a href="/indicators/AAA-01">Show the latest round only</a>' in every
    old = text(two_releases, "/indicators/AAA-01?round=2025")
    assert old.count('<article class="card">') == 1 and "Not provided" in old and "Old law" in old
    assert "1 answer in round 2025." in old and '<option value="2025" selected>2025</option>' in old
    africa = text(two_releases, "/indicators/AAA-01?region=Africa")
    assert africa.count('<article class="card">') == 1 and "Borovia" in africa and "Arvenia" not in africa
    assert '<option value="Africa" selected>Africa</option>' in africa
    assert 'href="/indicators/AAA-01?round=&amp;region=Africa">Show every round</a>' in africa
    nobody = text(two_releases, "/indicators/AAA-01?region=Oceania")
    assert "No country matches these filters" in nobody and '<article class="card">' not in nobody
    assert '<a href="/indicators/AAA-01?round=">Show every country and round</a>' in nobody


def test_indicator_page_filters_keep_the_release_and_refuse_unknown_values(two_releases):
    page = text(two_releases, "/indicators/AAA-01?release=1.0.0")
    assert "Borovia" not in page and "XAA · 2026" in page
    assert '<input type="hidden" name="release" value="1.0.0">' in page
    assert 'href="/indicators/AAA-01?round=&amp;release=1.0.0">Show every round</a>' in page
    assert "Unknown round" in text(two_releases, "/indicators/AAA-01?round=1999", 400)
    assert "Unknown region" in text(two_releases, "/indicators/AAA-01?region=Atlantis", 400)


def test_indicator_filters_cost_no_extra_query(two_releases, tiny_app):
    engine = tiny_app.extensions["rightsdb.engine"]
    assert two_releases.get("/api/v1/countries").status_code == 200  # the catalog is built (3 queries) once
    counts = []
    for url in (
        "/indicators/AAA-01",
        "/indicators/AAA-01?round=&region=Europe",
        "/indicators/AAA-01?round=2025",
        "/table?country=XAA&country=XBB",
        "/table?country=XBB&country=XAA",
        "/table.csv?category=AAA",
        "/chart/countries/XAA.svg?round=2025",
        "/chart/aggregates.svg?round=2026",
    ):
        for _ in range(2):
            with count_queries(engine) as log:
                assert two_releases.get(url).status_code == 200, url
            counts.append(log.count)
    assert set(counts) == {1}, counts  # one query (the list of releases) whether cold or cached


# ---- custom tables and charts ------------------------------------------------------------------


def test_custom_table_cache_ignores_order_and_repetition_only(two_releases, tiny_app):
    one = text(two_releases, "/table?country=XAA&country=XBB&round=2026")
    other = text(two_releases, "/table?country=XBB&round=2026&country=XAA&country=XBB")
    rows = lambda page: page.split("<tbody>")[1].split("</tbody>")[0]  # noqa: E731
    assert rows(one) == rows(other) and "6 rows." in one  # 2 countries x 3 indicators
    assert "XBB" not in rows(text(two_releases, "/table?country=XAA"))
    assert "6 rows." in text(two_releases, "/table?country=XAA")  # 2 rounds x 3 indicators
    csv_a = two_releases.get("/table.csv?country=XAA").data
    csv_b = two_releases.get("/table.csv?country=XBB").data
    assert csv_a != csv_b and b"XBB" not in csv_a and two_releases.get("/table.csv?country=XAA").data == csv_a


def test_cached_charts_equal_freshly_drawn_ones(two_releases, tiny_app):
    urls = (
        "/chart/aggregates.svg?round=2026",
        "/chart/aggregates.svg?region=Europe",
        "/chart/countries/XAA.svg?round=2025",
        "/chart/countries/XAA.svg",
        "/chart/aggregates.svg?release=1.0.0",
    )
    cached = {url: two_releases.get(url).data for url in urls}
    assert cached["/chart/countries/XAA.svg?round=2025"] != cached["/chart/countries/XAA.svg"]
    assert b"Borovia" in cached["/chart/aggregates.svg?round=2026"] and b"Borovia" not in cached["/chart/aggregates.svg?release=1.0.0"]
    forget(tiny_app)
    assert {url: two_releases.get(url).data for url in reversed(urls)} == cached


def chart_labels(svg: bytes) -> list[str]:
    """Return the bar labels of a bar chart (the only right-aligned texts), top to bottom."""
    return [label.decode() for label in re.findall(rb"text-anchor: end\"[^>]*>([^<]*)</text>", svg)]


def chart_values(svg: bytes) -> list[str]:
    """Return the value printed at the end of each bar (the only 8px texts), top to bottom."""
    return [value.decode() for value in re.findall(rb"font-size: 8px[^>]*>([^<]*)</text>", svg)]


def chart_bars(svg: bytes) -> int:
    """Return how many bars a bar chart draws (one path each in its collection; no collection without bars)."""
    parts = svg.split(b'<g id="PolyCollection_1">')
    return parts[1].split(b"</g>")[0].count(b"<path") if len(parts) == 2 else 0


def test_aggregate_chart_shows_the_latest_round_unless_one_is_chosen(two_releases):
    latest = two_releases.get("/chart/aggregates.svg")
    assert latest.status_code == 200 and latest.headers["Content-Security-Policy"] == charts.SVG_CONTENT_SECURITY_POLICY
    # Release 2.0.0 has three country-rounds (Arvenia 2025 and 2026, Borovia 2026): only 2026 is drawn.
    assert chart_labels(latest.data) == ["Arvenia (XAA)", "Borovia (XBB)"] and chart_bars(latest.data) == 2
    assert b"aggregate score, round 2026" in latest.data and b"2025" not in latest.data
    assert b"synthetic demonstration data" in latest.data  # the provenance note stays
    # Naming the latest round gives the very same figure; another round draws that round.
    assert two_releases.get("/chart/aggregates.svg?round=2026").data == latest.data
    older = two_releases.get("/chart/aggregates.svg?round=2025").data
    assert chart_labels(older) == ["Arvenia (XAA)"] and chart_bars(older) == 1 and b"aggregate score, round 2025" in older
    # Arvenia did not provide AAA-01 in 2025 (mean of categories 75%) and provided everything in 2026;
    # Borovia, 2026 only, did not provide AAA-01 either.
    assert chart_values(older) == ["75.0"] and chart_values(latest.data) == ["100.0", "75.0"]
    europe = two_releases.get("/chart/aggregates.svg?region=Europe").data
    assert chart_labels(europe) == ["Arvenia (XAA)"] and b"round 2026, Europe" in europe
    assert two_releases.get("/chart/aggregates.svg?round=1999").status_code == 400


def test_comparison_page_says_which_round_the_chart_shows(two_releases):
    page = text(two_releases, "/")
    assert "<h2>Aggregate scores, round 2026</h2>" in page
    figure = page.split("<h2>Aggregate scores")[1].split("</figure>")[0]
    assert 'alt="Bar chart of the category_mean aggregate score of each country in the table above in round 2026, highest first"' in figure
    assert "per country in round 2026, highest first; the latest round is shown, pick another with the round filter" in figure
    chosen = text(two_releases, "/?round=2025").split("<h2>Aggregate scores")[1].split("</figure>")[0]
    assert ", round 2025</h2>" in chosen and "in round 2025" in chosen and "the latest round is shown" not in chosen
    assert 'src="/chart/aggregates.svg?round=2025"' in chosen


def test_bar_chart_fits_long_labels_title_and_note_inside_the_figure():
    """The figure is laid out from measured text widths (no cropping pass): nothing may stick out of it."""
    long_name = "Saint Vincent and the Grenadines, a long fictional jurisdiction name (XZZ)"
    labels = [long_name, "Arvenia (XAA)", "Borovia (XBB)"]
    title = "Migrant rights in national law: aggregate score, round 2026, a deliberately long title for the test"
    note = "rightsdb release 1.0.0, scheme strict, aggregate category_mean - synthetic demonstration data, with more words"
    svg = charts.bar_chart(labels, [0.5, None, 1.0], title=title, note=note)
    assert svg == charts.bar_chart(labels, [0.5, None, 1.0], title=title, note=note)  # deterministic
    width = float(re.search(rb'<svg[^>]* width="([0-9.]+)pt"', svg).group(1))
    measure = TextToPath()

    def extent(content: str):
        match = re.search(
            rb'font-size: ([0-9.]+)px[^"]*?(?:text-anchor: (\w+))?" x="([0-9.]+)"[^>]*>' + re.escape(content.encode()) + rb"</text>", svg
        )
        assert match, content
        size, anchor, x = float(match.group(1)), (match.group(2) or b"start").decode(), float(match.group(3))
        text_width = measure.get_text_width_height_descent(content, FontProperties(family="DejaVu Sans", size=size), ismath=False)[0]
        start = {"start": x, "middle": x - text_width / 2, "end": x - text_width}[anchor]
        return start, start + text_width

    for content in (long_name, title, note):
        start, end = extent(content)
        assert 0 <= start and end <= width, (content, start, end, width)
    assert chart_labels(svg) == labels and chart_bars(svg) == 3 and chart_values(svg) == ["50.0", "n/a", "100.0"]
    empty = charts.bar_chart([], [], title="Nothing to draw")
    assert chart_bars(empty) == 0 and chart_labels(empty) == [] and b"Nothing to draw</text>" in empty


# ---- the API's cached bodies -------------------------------------------------------------------


def test_api_bodies_are_identical_cold_and_cached_and_normalised(two_releases, tiny_app):
    urls = (
        "/api/v1/matrix",
        "/api/v1/matrix?category=AAA&round=2026",
        "/api/v1/answers?country=XAA,XBB&indicator=BBB-01",
        "/api/v1/scores?category=BBB",
        "/api/v1/countries?country=XBB",
        "/api/v1/matrix?release=1.0.0",
        "/api/v1/answers?country=XAA,XBB&per_page=2&page=2",
    )
    cold = {}
    for url in urls:
        forget(tiny_app)
        cold[url] = two_releases.get(url)
    for url in urls:
        warm = two_releases.get(url)
        assert warm.status_code == 200 and warm.data == cold[url].data and warm.mimetype == cold[url].mimetype == "application/json"
        assert warm.headers.get("Link") == cold[url].headers.get("Link")
    same = two_releases.get("/api/v1/answers?indicator=BBB-01&country=XBB&country=XAA").data
    assert same == cold["/api/v1/answers?country=XAA,XBB&indicator=BBB-01"].data
    paged = two_releases.get("/api/v1/answers?page=2&country=XBB&per_page=2&country=XAA")
    assert paged.data == cold["/api/v1/answers?country=XAA,XBB&per_page=2&page=2"].data and 'rel="next"' in paged.headers["Link"]
    assert paged.get_json()["pagination"]["next"] == "/api/v1/answers?release=2.0.0&country=XAA,XBB&page=3&per_page=2"
    assert two_releases.get("/api/v1/matrix?release=1.0.0").get_json()["release"]["version"] == "1.0.0"
    assert [r["iso3"] for r in two_releases.get("/api/v1/matrix?release=1.0.0").get_json()["matrix"]["rows"]] == ["XAA", "XAA"]
    assert [r["iso3"] for r in two_releases.get("/api/v1/matrix").get_json()["matrix"]["rows"]] == ["XAA", "XAA", "XBB"]


def test_api_refusals_are_never_served_from_the_cache(two_releases):
    assert two_releases.get("/api/v1/matrix?country=XAA").status_code == 200
    response = two_releases.get("/api/v1/matrix?country=XAA&colour=red")
    assert response.status_code == 400 and "Unknown filter colour" in response.get_json()["error"]
    response = two_releases.get("/api/v1/matrix?country=XBB&release=1.0.0")
    assert response.status_code == 400 and "Unknown country XBB" in response.get_json()["error"]
