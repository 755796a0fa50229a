"""Server-rendered pictures: the world map, the country and aggregate bar charts, the reliability chart.

Every picture is an SVG from the application's own routes: image/svg+xml, no script, nothing loaded
from another host, and the same bytes for the same data (a paper can cite the figure).
"""

from __future__ import annotations

import re
from datetime import date
from types import SimpleNamespace

import pytest

from rightsdb.public import maps
from rightsdb.publishing.publish import publish_release
from tests.conftest import login
from tests.factories.countries import make_real_country
from tests.factories.people import make_user
from tests.factories.releases import make_final, make_golden_data
from tests.factories.rounds import make_round
from tests.factories.supervision import make_double_coding

NP = "not_provided"
#: Identifiers written by matplotlib and pygal (XML namespaces, the SVG DTD, RDF metadata vocabularies).
NAMESPACES = {
    b"http://www.w3.org/2000/svg",
    b"http://www.w3.org/1999/xlink",
    b"http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd",
    b"http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    b"http://creativecommons.org/ns#",
    b"http://purl.org/dc/elements/1.1/",
    b"http://purl.org/dc/dcmitype/StillImage",
}


def publish(tiny_app, session, version: str, synthetic: bool = False):
    release = publish_release(
        session=session,
        codebook=tiny_app.extensions["rightsdb.codebook"],
        exports_dir=tiny_app.config["EXPORTS_DIR"],
        version=version,
        release_date=date(2026, 3, 1),
        synthetic=synthetic,
    )
    session.commit()
    return release


@pytest.fixture
def real_release(tiny_app, tiny_session, book):
    """Germany (100%), Mexico (AAA 50%, BBB 100%: mean 75%) and Kosovo, which the base map lacks."""
    make_final(tiny_session, book, make_real_country(tiny_session, "DEU", "DE", "Germany", "Europe"))
    make_final(tiny_session, book, make_real_country(tiny_session, "MEX", "MX", "Mexico", "Americas"), final={"AAA-01": NP})
    make_final(
        tiny_session,
        book,
        make_real_country(tiny_session, "XKX", "XK", "Kosovo", "Europe"),
        final={"AAA-01": NP, "AAA-02": NP, "BBB-01": NP},
    )
    tiny_session.commit()
    publish(tiny_app, tiny_session, "1.0.0")
    return tiny_app.test_client()


@pytest.fixture
def synthetic_release(tiny_app, tiny_session, book):
    """The golden data: two fictional jurisdictions (XAA Arvenia, XBB Borovia), synthetic release."""
    make_golden_data(tiny_session, book)
    tiny_session.commit()
    publish(tiny_app, tiny_session, "0.1.0", synthetic=True)
    return tiny_app.test_client()


def assert_safe_svg(response) -> bytes:
    """Check an SVG answer: its type, its own strict policy, no script, no reference to another host."""
    assert response.status_code == 200, response.status_code
    assert response.mimetype == "image/svg+xml"
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "script" not in csp
    body = response.data
    assert b"<svg" in body
    assert not re.search(rb"<script", body, re.I)
    # The only http(s) text allowed is namespace and DTD names (identifiers that are never fetched).
    assert set(re.findall(rb"https?://[^\"'\s<>)]+", body)) <= NAMESPACES
    assert not re.search(rb"(href|src)=\"(https?:)?//|url\((?!#)|@import|xml-stylesheet", body)
    return body


def test_world_map_bands_real_countries_and_is_deterministic(tiny_app, real_release):
    client = real_release
    first = assert_safe_svg(client.get("/chart/world.svg"))
    # Drawn from scratch again (the map is cached per release): the bytes must not change.
    tiny_app.extensions["rightsdb.release_cache"].clear()  # the map is kept in the release catalog's memo
    second = assert_safe_svg(client.get("/chart/world.svg"))
    assert first == second
    assert b'class="de country map-element color-4 serie-4 series"' in first  # 100% -> 80-100%
    assert b'class="mx country map-element color-3 serie-3 series"' in first  # 75% -> 60-80%
    for index in range(len(maps.BANDS)):
        assert maps.band_label(index).encode() in first
    assert b"Aggregate score (category_mean), round 2026" in first
    assert b"style=" not in first  # pygal's inline opacity is stripped


def test_comparison_page_shows_the_map_and_names_countries_not_on_it(real_release):
    page = real_release.get("/").get_data(as_text=True)
    assert 'src="/chart/world.svg"' in page
    assert "World map, round 2026" in page
    assert "Not drawn on the base map" in page and "Kosovo XKX" in page
    assert "Fictional demonstration jurisdictions have no territory" not in page  # none in this release
    # Kosovo is still in the table.
    assert "/countries/XKX" in page


def test_map_omits_fictional_jurisdictions_and_says_so(synthetic_release):
    client = synthetic_release
    body = assert_safe_svg(client.get("/chart/world.svg"))
    assert b"map-element color-" not in body  # no area is coloured
    assert b'class="xa ' not in body and b'class="xb ' not in body
    page = client.get("/").get_data(as_text=True)
    assert "Fictional demonstration jurisdictions have no territory on the map" in page
    assert "Arvenia XAA" in page and "Borovia XBB" in page
    # They are still in the table and the bar chart.
    assert "/countries/XAA" in page
    chart = assert_safe_svg(client.get("/chart/aggregates.svg"))
    assert b"Arvenia (XAA)" in chart and b"Borovia (XBB)" in chart


def test_map_refuses_an_unknown_round_with_a_reason(real_release):
    response = real_release.get("/chart/world.svg?round=1999")
    assert response.status_code == 400
    assert "Unknown round" in response.get_data(as_text=True)


def test_map_round_is_the_latest_unless_chosen():
    rows = [SimpleNamespace(round="2024", reference_date="2024-01-01"), SimpleNamespace(round="2026", reference_date="2026-01-01")]
    assert maps.map_round(rows) == "2026"
    assert maps.map_round(rows, "2024") == "2024"
    assert maps.map_round([]) is None


@pytest.mark.parametrize(("score", "band"), [(0.0, 0), (0.1999, 0), (0.2, 1), (0.5, 2), (0.79, 3), (0.8, 4), (1.0, 4)])
def test_score_bands(score, band):
    assert maps.band_of(score) == band


def test_entries_off_the_map():
    entries = [
        maps.MapEntry("FR", "FRA", "France", 0.5),
        maps.MapEntry("XK", "XKX", "Kosovo", 0.5),
        maps.MapEntry("XA", "XAA", "Arvenia", 0.5, synthetic=True),
        maps.MapEntry("DE", "DEU", "Fictional Germany", 0.5, synthetic=True),  # a fictional row never takes real land
    ]
    drawn, left_off = maps.split_entries(entries)
    assert [e.iso3 for e in drawn] == ["FRA"]
    assert [e.iso3 for e in left_off] == ["DEU", "XAA", "XKX"]
    svg = maps.world_map(entries, title="T")
    assert svg == maps.world_map(entries, title="T")
    assert b'class="fr country map-element color-2' in svg and b'class="de country map-element color-' not in svg


def test_country_page_shows_its_category_chart(real_release, book):
    client = real_release
    page = client.get("/countries/DEU").get_data(as_text=True)
    assert 'src="/chart/countries/DEU.svg?round=2026"' in page
    first = assert_safe_svg(client.get("/chart/countries/DEU.svg?round=2026"))
    assert first == client.get("/chart/countries/DEU.svg?round=2026").data
    assert b"Germany (DEU), 2026" in first
    for category in book.categories:
        assert category.name.encode() in first
    assert client.get("/chart/countries/ZZZ.svg").status_code == 404


def test_aggregate_chart_is_safe_and_deterministic(real_release):
    first = assert_safe_svg(real_release.get("/chart/aggregates.svg"))
    assert first == real_release.get("/chart/aggregates.svg").data
    assert b"Germany (DEU)" in first and b"Mexico (MEX)" in first


def test_comparison_table_explains_its_shading(real_release):
    page = real_release.get("/").get_data(as_text=True)
    assert "Cell shading" in page
    assert '<li class="shade-0">0%</li>' in page and '<li class="shade-10">100%</li>' in page
    assert "headline aggregate of this release is <strong>the mean of categories</strong>" in page


@pytest.fixture
def reliability_data(tiny_app, tiny_session, book):
    """XAA: (P,P) (P,NP) (NP,NP); XBB: all (P,P). AAA-01 never varies, so its alpha is undefined."""
    round_ = make_round(tiny_session, book, name="R1")
    empty_round = make_round(tiny_session, book, name="R0", reference_date=date(2025, 1, 1))
    ann, bea = make_user(tiny_session, "coder", name="Ann"), make_user(tiny_session, "coder", name="Bea")
    make_double_coding(
        tiny_session, book, round_, country_index=0, coders=(ann, bea), values_a={"BBB-01": NP}, values_b={"AAA-02": NP, "BBB-01": NP}
    )
    make_double_coding(tiny_session, book, round_, country_index=1, coders=(ann, bea))
    supervisor = make_user(tiny_session, "supervisor")
    tiny_session.commit()
    return round_, empty_round, supervisor, ann


def test_reliability_chart_per_indicator(tiny_app, reliability_data):
    round_, _empty, supervisor, _ann = reliability_data
    client = login(tiny_app.test_client(), supervisor)
    page = client.get("/supervisor/reliability").get_data(as_text=True)
    url = f"/supervisor/reliability/{round_.id}/indicators.svg"
    assert f'src="{url}"' in page
    first = assert_safe_svg(client.get(url))
    assert first == client.get(url).data
    text = first.decode()
    assert "undefined" in text  # AAA-01: no variation; never drawn as 0 or 1
    for indicator in ("AAA-01", "AAA-02", "BBB-01"):
        assert indicator in text
    assert "red below 0.667" in text and "amber below 0.8" in text
    assert "Round R1: Krippendorff" in text


def test_reliability_chart_is_gated_and_404s_without_pairs(tiny_app, reliability_data):
    round_, empty_round, supervisor, coder = reliability_data
    url = f"/supervisor/reliability/{round_.id}/indicators.svg"
    anonymous = tiny_app.test_client().get(url)
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]
    assert login(tiny_app.test_client(), coder).get(url).status_code == 403
    client = login(tiny_app.test_client(), supervisor)
    missing = client.get(f"/supervisor/reliability/{empty_round.id}/indicators.svg")
    assert missing.status_code == 404 and "two submitted codings" in missing.get_data(as_text=True)
    assert client.get("/supervisor/reliability/99999/indicators.svg").status_code == 404


@pytest.mark.parametrize("round_id", ["99999999999999999999", "0", "-1"])
def test_reliability_chart_and_filter_refuse_impossible_round_ids(tiny_app, reliability_data, round_id):
    _round, _empty, supervisor, _coder = reliability_data
    client = login(tiny_app.test_client(), supervisor)
    assert client.get(f"/supervisor/reliability/{round_id}/indicators.svg").status_code == 404
    for url in (f"/supervisor/reliability?round={round_id}", f"/supervisor/reliability.csv?round={round_id}"):
        assert client.get(url).status_code in (400, 404), url  # a clear refusal, never a database overflow
