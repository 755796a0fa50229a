"""The JSON API: releases, countries, indicators, scores, answers and matrix, with checked filters."""

from datetime import date

import pytest
from sqlmodel import Session

from rightsdb.releases import publish_release
from tests.factories_release import make_final, make_golden_data, make_real_country


@pytest.fixture
def api(tiny_app):
    """A real release (Germany, Mexico) and a synthetic one; return a client."""
    book = tiny_app.extensions["rightsdb.codebook"]
    with Session(tiny_app.extensions["rightsdb.engine"], expire_on_commit=False) as session:
        make_final(session, book, make_real_country(session, "DEU", "DE", "Germany", "Europe"))
        make_final(session, book, make_real_country(session, "MEX", "MX", "Mexico", "Americas"), final={"AAA-01": "not_provided", "BBB-01": "conditional"})
        make_golden_data(session, book)
        session.commit()
        for version, synthetic in (("1.0.0", False), ("0.9.0-demo", True)):
            publish_release(session=session, codebook=book, exports_dir=tiny_app.config["EXPORTS_DIR"], version=version,
                            release_date=date(2026, 3, 1), synthetic=synthetic)
            session.commit()
    return tiny_app.test_client()


def test_api_without_any_release(tiny_app):
    client = tiny_app.test_client()
    assert client.get("/api/v1/releases").get_json() == {"releases": []}
    response = client.get("/api/v1/scores")
    assert response.status_code == 400 and "No release" in response.get_json()["error"]


def test_index_lists_every_endpoint(api):
    urls = [e["url"] for e in api.get("/api/v1/").get_json()["endpoints"]]
    assert urls == ["/api/v1/releases", "/api/v1/countries", "/api/v1/indicators", "/api/v1/scores", "/api/v1/answers", "/api/v1/matrix"]


def test_releases(api):
    releases = api.get("/api/v1/releases").get_json()["releases"]
    assert [(r["version"], r["synthetic"]) for r in releases] == [("0.9.0-demo", True), ("1.0.0", False)]
    assert all(len(r["sha256"]) == 64 for r in releases)


def test_default_release_is_the_latest_real_one_and_synthetic_is_marked(api):
    body = api.get("/api/v1/countries").get_json()
    assert body["release"]["version"] == "1.0.0" and "notice" not in body
    assert [c["iso3"] for c in body["countries"]] == ["DEU", "MEX"]
    demo = api.get("/api/v1/countries?release=0.9.0-demo").get_json()
    assert [c["iso3"] for c in demo["countries"]] == ["XAA", "XBB"]
    assert demo["notice"].startswith("synthetic demonstration data") and all(c["synthetic"] for c in demo["countries"])


def test_scores_with_filters(api):
    body = api.get("/api/v1/scores?country=MEX").get_json()
    (row,) = body["scores"]
    assert row["categories"] == {"AAA": 0.5, "BBB": 1.0}
    assert (row["category_mean"], row["pooled"]) == (0.75, pytest.approx(2 / 3))
    only = api.get("/api/v1/scores?category=BBB&round=2026").get_json()["scores"]
    assert [r["categories"] for r in only] == [{"BBB": 1.0}, {"BBB": 1.0}]


def test_answers_with_filters_and_citations(api):
    answers = api.get("/api/v1/answers?country=MEX&indicator=BBB-01").get_json()["answers"]
    assert len(answers) == 1
    answer = answers[0]
    assert (answer["answer"], answer["binary"], answer["score"], answer["groups"]) == ("conditional", 1, 1.0, ["permanent_residents"])
    assert answer["citations"][0]["title"] == "Aliens Act" and answer["country"] == "Mexico"
    by_category = api.get("/api/v1/answers?category=AAA&country=DEU,MEX").get_json()["answers"]
    assert {(a["iso3"], a["indicator"]) for a in by_category} == {("DEU", "AAA-01"), ("DEU", "AAA-02"), ("MEX", "AAA-01"), ("MEX", "AAA-02")}


def test_matrix(api):
    body = api.get("/api/v1/matrix?category=AAA").get_json()["matrix"]
    assert body["columns"] == ["AAA-01", "AAA-02"]
    assert [(r["iso3"], r["values"]) for r in body["rows"]] == [("DEU", ["provided", "provided"]), ("MEX", ["not_provided", "provided"])]


def test_indicators(api):
    body = api.get("/api/v1/indicators?category=BBB").get_json()
    assert [i["id"] for i in body["indicators"]] == ["BBB-01"]
    assert api.get("/api/v1/indicators?release=1.0.0").status_code == 400  # indicators come from the codebook


@pytest.mark.parametrize(
    "url, message",
    [
        ("/api/v1/scores?release=9.9.9", "Unknown release"),
        ("/api/v1/scores?country=FRA", "Unknown country FRA"),
        ("/api/v1/answers?indicator=ZZZ-01", "Unknown indicator ZZZ-01"),
        ("/api/v1/answers?category=QQQ", "Unknown category QQQ"),
        ("/api/v1/matrix?round=1999", "Unknown round 1999"),
        ("/api/v1/answers?colour=red", "Unknown filter colour"),
        ("/api/v1/scores?indicator=AAA-01", "Unknown filter indicator"),
        ("/api/v1/countries?country=XAA", "Unknown country XAA"),  # synthetic country is not in the real release
    ],
)
def test_unknown_filter_values_are_refused_with_a_message(api, url, message):
    response = api.get(url)
    assert response.status_code == 400
    assert message in response.get_json()["error"]


def test_unknown_api_address_is_json_404(api):
    response = api.get("/api/v1/nothing")
    assert response.status_code == 404 and "error" in response.get_json()
