"""The public site: only released data, sorting and filters, charts, custom tables, downloads, query counts."""

from datetime import date
from pathlib import Path

import pytest

from rightsdb.publishing.publish import publish_release
from tests.factories.countries import make_real_country
from tests.factories.querycount import count_queries
from tests.factories.releases import make_final, make_golden_data

COUNTRIES = [
    ("DEU", "DE", "Germany", "Europe"),
    ("MEX", "MX", "Mexico", "Americas"),
    ("ZAF", "ZA", "South Africa", "Africa"),
    ("TUR", "TR", "Türkiye", "Asia"),
    ("RUS", "RU", "Russian Federation", "Europe"),
    ("AUS", "AU", "Australia", "Oceania"),
]


def add_real(session, book, index, **kwargs):
    iso3, iso2, name, region = COUNTRIES[index]
    return make_final(session, book, make_real_country(session, iso3, iso2, name, region), **kwargs)


def publish(tiny_app, session, version="1.0.0", synthetic=False):
    release = publish_release(
        session=session,
        codebook=tiny_app.extensions["rightsdb.codebook"],
        exports_dir=tiny_app.config["EXPORTS_DIR"],
        version=version,
        release_date=date(2026, 3, 1),
        synthetic=synthetic,
        title=f"Release {version}",
    )
    session.commit()
    return release


@pytest.fixture
def released(tiny_app, tiny_session, book):
    """A real release of Germany (all provided) and Mexico (AAA-01 not provided, excerpt in Arabic)."""
    add_real(tiny_session, book, 0)
    add_real(tiny_session, book, 1, final={"AAA-01": "not_provided"}, excerpt="لكل مهاجر الحق", language="ar")
    tiny_session.commit()
    publish(tiny_app, tiny_session)
    return tiny_app.test_client()


def test_empty_state_when_nothing_is_released(tiny_app, tiny_session, book):
    add_real(tiny_session, book, 0)  # final but not released
    tiny_session.commit()
    client = tiny_app.test_client()
    page = client.get("/")
    assert page.status_code == 200 and b"No release is published yet" in page.data
    assert b"Germany" not in page.data
    assert client.get("/countries/DEU").status_code == 404
    assert b"No release is published yet" in client.get("/downloads").data


def test_only_released_data_is_shown(released, tiny_app, tiny_session, book):
    add_real(tiny_session, book, 2)  # finalized after the release: not public until the next one
    add_real(tiny_session, book, 3, finalized=False)  # in progress
    tiny_session.commit()
    page = released.get("/").get_data(as_text=True)
    assert "Germany" in page and "Mexico" in page
    assert "South Africa" not in page and "Türkiye" not in page
    assert released.get("/countries/ZAF").status_code == 404
    assert "South Africa" not in released.get("/indicators/AAA-01").get_data(as_text=True)
    assert "Coder " not in page  # no coder identities


def test_comparison_page_scores_shading_and_chart(released):
    page = released.get("/").get_data(as_text=True)
    assert '<td class="num shade-5">50%</td>' in page  # Mexico's AAA: 1 of 2
    assert "shade-10" in page
    assert "75.0%" in page  # Mexico's mean of categories: (0.5 + 1) / 2
    assert "/chart/aggregates.svg" in page
    # One round in the release: the chart's heading and caption name it and suggest no other.
    assert "<h2>Aggregate scores, round 2026</h2>" in page and "per country in round 2026, highest first" in page
    assert "the latest round is shown" not in page
    assert "style=" not in page and "<script>" not in page
    chart = released.get("/chart/aggregates.svg")
    assert chart.mimetype == "image/svg+xml"
    assert chart.data.startswith(b"<?xml") and b"<script" not in chart.data
    assert b"Mexico (MEX)" in chart.data
    assert released.get("/chart/aggregates.svg").data == chart.data  # deterministic
    country_chart = released.get("/chart/countries/MEX.svg")
    assert country_chart.status_code == 200 and b"Alpha" in country_chart.data


def test_sorting_uses_an_allow_list(released):
    ascending = released.get("/?sort=category_mean").get_data(as_text=True)
    assert ascending.index("Mexico") < ascending.index("Germany")
    descending = released.get("/?sort=-category_mean").get_data(as_text=True)
    assert 'aria-sort="descending"' in descending
    assert descending.index("Germany") < descending.index("Mexico")
    by_category = released.get("/?sort=AAA").get_data(as_text=True)
    assert by_category.index("Mexico") < by_category.index("Germany")
    assert released.get("/?sort=name;drop table").status_code == 400
    assert released.get("/?sort=__class__").status_code == 400


def test_filters_by_region_and_round(released):
    page = released.get("/?region=Americas").get_data(as_text=True)
    assert "Mexico" in page and "Germany</a>" not in page
    assert "No country matches" in released.get("/?region=Oceania").get_data(as_text=True)
    assert released.get("/?region=Atlantis").status_code == 400
    assert released.get("/?round=1999").status_code == 400
    assert "Germany" in released.get("/?round=2026").get_data(as_text=True)


def test_country_page_shows_answers_with_citations_and_excerpts(released):
    page = released.get("/countries/MEX").get_data(as_text=True)
    assert "Mexico" in page and "Not provided" in page
    assert 'dir="auto"' in page and "لكل مهاجر الحق AAA-01" in page
    assert "/chart/countries/MEX.svg" in page
    assert released.get("/countries/XXX").status_code == 404


def test_indicator_page_lists_every_country_side_by_side(released):
    page = released.get("/indicators/AAA-01").get_data(as_text=True)
    assert "Germany" in page and "Mexico" in page and "Is the first right provided?" in page
    assert released.get("/indicators/NOPE-01").status_code == 404


def test_custom_table_and_its_downloads(released):
    page = released.get("/table?country=MEX&category=AAA")
    assert page.status_code == 200 and "Mexico" in page.get_data(as_text=True)
    csv = released.get("/table.csv?country=MEX&category=AAA")
    assert csv.headers["Content-Disposition"] == 'attachment; filename="rightsdb-1.0.0-table.csv"'
    lines = csv.get_data(as_text=True).splitlines()
    assert lines[0].startswith("iso3,country,round") and len(lines) == 3
    assert all(line.startswith("MEX,Mexico,2026,2026-01-01,AAA,") for line in lines[1:])
    xlsx = released.get("/table.xlsx?indicator=BBB-01")
    assert xlsx.headers["Content-Disposition"].endswith('.xlsx"') and xlsx.data[:2] == b"PK"
    assert released.get("/table.csv?country=ZZZ").status_code == 400


def test_downloads_serve_the_stored_files(released, tiny_app):
    page = released.get("/downloads").get_data(as_text=True)
    folder = Path(tiny_app.config["EXPORTS_DIR"]) / "1.0.0"
    sums = (folder / "SHA256SUMS").read_text(encoding="utf-8")
    long_digest = next(line.split()[0] for line in sums.splitlines() if line.endswith("data/long.csv"))
    assert long_digest in page and "Suggested citation" in page and "Release 1.0.0" in page
    stored = folder / "data" / "long.csv"
    stored.write_bytes(stored.read_bytes() + b"# stored bytes are served as they are\n")
    response = released.get("/downloads/1.0.0/data/long.csv")
    assert response.status_code == 200 and response.data == stored.read_bytes()
    response.close()
    assert released.get("/downloads/9.9.9/data/long.csv").status_code == 404
    assert released.get("/downloads/1.0.0/../../etc/passwd").status_code == 404


def test_synthetic_release_is_clearly_marked(tiny_app, tiny_session, book):
    make_golden_data(tiny_session, book)
    tiny_session.commit()
    publish(tiny_app, tiny_session, "0.1.0", synthetic=True)
    client = tiny_app.test_client()
    for url in ("/", "/countries/XAA", "/indicators/AAA-01", "/table", "/downloads"):
        page = client.get(url).get_data(as_text=True)
        assert "Synthetic demonstration data" in page or "synthetic demonstration data" in page, url
    assert b"synthetic demonstration data" in client.get("/chart/aggregates.svg").data


def test_default_release_is_the_latest_real_one(tiny_app, tiny_session, book):
    make_golden_data(tiny_session, book)
    add_real(tiny_session, book, 0)
    tiny_session.commit()
    publish(tiny_app, tiny_session, "1.0.0")
    publish(tiny_app, tiny_session, "2.0.0-demo", synthetic=True)
    client = tiny_app.test_client()
    page = client.get("/").get_data(as_text=True)
    assert "Germany" in page and "Arvenia" not in page
    assert "Arvenia" in client.get("/?release=2.0.0-demo").get_data(as_text=True)
    assert client.get("/?release=7.7.7").status_code == 404


PAGES = (
    "/?release={v}",
    "/?release={v}&sort=-pooled&region=Europe",
    "/countries/DEU?release={v}",
    "/indicators/AAA-01?release={v}",
    "/table?release={v}&category=AAA",
    "/chart/aggregates.svg?release={v}",
    "/downloads",
    "/api/v1/scores?release={v}",
    "/api/v1/answers?release={v}&category=AAA",
    "/api/v1/matrix?release={v}",
)


def test_query_counts_do_not_grow_with_the_number_of_countries(tiny_app, tiny_session, book):
    engine = tiny_app.extensions["rightsdb.engine"]
    client = tiny_app.test_client()
    counts = {}
    for version, indexes in (("1.0.0", range(0, 2)), ("2.0.0", range(2, 6))):
        for index in indexes:
            add_real(tiny_session, book, index)
        tiny_session.commit()
        publish(tiny_app, tiny_session, version)
        for template in PAGES:
            url = template.format(v=version)
            with count_queries(engine) as log:
                assert client.get(url).status_code == 200, url
            counts[(version, template)] = log.count
    for template in PAGES:
        assert counts[("1.0.0", template)] == counts[("2.0.0", template)], (template, counts)
    assert max(counts.values()) <= 4
