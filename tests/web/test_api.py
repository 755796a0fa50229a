"""The JSON API: releases, countries, indicators, scores, answers and matrix, with checked filters."""

from datetime import date

import pytest
from sqlmodel import Session

from rightsdb.publishing.publish import publish_release
from tests.factories.countries import make_real_country
from tests.factories.releases import make_final, make_golden_data


@pytest.fixture
def api(tiny_app):
    """A real release (Germany, Mexico) and a synthetic one; return a client."""
    book = tiny_app.extensions["rightsdb.codebook"]
    with Session(tiny_app.extensions["rightsdb.engine"], expire_on_commit=False) as session:
        make_final(session, book, make_real_country(session, "DEU", "DE", "Germany", "Europe"))
        make_final(
            session,
            book,
            make_real_country(session, "MEX", "MX", "Mexico", "Americas"),
            final={"AAA-01": "not_provided", "BBB-01": "conditional"},
        )
        make_golden_data(session, book)
        session.commit()
        for version, synthetic in (("1.0.0", False), ("0.9.0-demo", True)):
            publish_release(
                session=session,
                codebook=book,
                exports_dir=tiny_app.config["EXPORTS_DIR"],
                version=version,
                release_date=date(2026, 3, 1),
                synthetic=synthetic,
            )
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
    assert {(a["iso3"], a["indicator"]) for a in by_category} == {
        ("DEU", "AAA-01"),
        ("DEU", "AAA-02"),
        ("MEX", "AAA-01"),
        ("MEX", "AAA-02"),
    }


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


# ---- paging of answers --------------------------------------------------------------------------


def walk(client, url: str) -> tuple[list[dict], list[dict]]:
    """Follow `pagination.next` from `url` to the last page; return (every answer, every pagination object)."""
    answers, paginations = [], []
    while url:
        response = client.get(url)
        assert response.status_code == 200, (url, response.get_json())
        body = response.get_json()
        answers += body["answers"]
        paginations.append(body["pagination"])
        url = body["pagination"]["next"]
    return answers, paginations


def test_answers_are_paged_and_the_pages_add_up_to_the_whole(api):
    whole = api.get("/api/v1/answers").get_json()
    assert len(whole["answers"]) == 6  # 2 countries x 3 indicators: one page at the default size
    assert whole["pagination"] == {"page": 1, "per_page": 1000, "total": 6, "pages": 1, "next": None, "previous": None}
    for per_page, pages in ((1, 6), (4, 2), (5, 2), (6, 1), (10000, 1)):
        answers, paginations = walk(api, f"/api/v1/answers?per_page={per_page}")
        assert answers == whole["answers"], per_page
        assert [p["page"] for p in paginations] == list(range(1, pages + 1))
        assert {(p["total"], p["pages"], p["per_page"]) for p in paginations} == {(6, pages, per_page)}
    last = api.get("/api/v1/answers?per_page=4&page=2").get_json()
    assert [(a["iso3"], a["indicator"]) for a in last["answers"]] == [(a["iso3"], a["indicator"]) for a in whole["answers"][4:]]


def test_pages_of_a_filtered_list_keep_the_filters_and_name_the_release(api):
    filtered = api.get("/api/v1/answers?category=AAA&country=MEX,DEU").get_json()["answers"]
    assert len(filtered) == 4
    answers, paginations = walk(api, "/api/v1/answers?country=MEX&category=AAA&country=DEU&per_page=3")
    assert answers == filtered and [p["total"] for p in paginations] == [4, 4]
    first, second = paginations
    # Root-relative links (no RIGHTSDB_PUBLIC_URL), filters normalised (sorted, comma-joined), the release pinned although not asked for.
    assert first["next"] == "/api/v1/answers?release=1.0.0&country=DEU,MEX&category=AAA&page=2&per_page=3"
    assert second["previous"] == "/api/v1/answers?release=1.0.0&country=DEU,MEX&category=AAA&page=1&per_page=3"
    assert first["previous"] is None and second["next"] is None
    demo = api.get("/api/v1/answers?release=0.9.0-demo&per_page=2").get_json()
    assert demo["pagination"]["next"].startswith("/api/v1/answers?release=0.9.0-demo&") and "notice" in demo


def test_answers_pages_carry_a_link_header(api):
    middle = api.get("/api/v1/answers?per_page=2&page=2&indicator=AAA-01,BBB-01")
    assert middle.status_code == 200 and middle.get_json()["pagination"]["pages"] == 2
    link = "/api/v1/answers?release=1.0.0&indicator=AAA-01,BBB-01&page={}&per_page=2"
    assert middle.headers["Link"] == f'<{link.format(1)}>; rel="first", <{link.format(1)}>; rel="prev", <{link.format(2)}>; rel="last"'
    only = api.get("/api/v1/answers")
    assert (
        only.headers["Link"] == '</api/v1/answers?release=1.0.0&page=1&per_page=1000>; rel="first", '
        '</api/v1/answers?release=1.0.0&page=1&per_page=1000>; rel="last"'
    )


def test_cached_pages_follow_the_address_asked(api):
    here = api.get("/api/v1/answers?per_page=2").get_json()["pagination"]["next"]
    there = api.get("/api/v1/answers?per_page=2", base_url="https://data.example.org/rights").get_json()["pagination"]["next"]
    assert here.startswith("/api/v1/answers?") and there.startswith("/rights/api/v1/answers?")
    assert api.get("/api/v1/answers?per_page=2").get_json()["pagination"]["next"] == here


def test_an_empty_answer_list_has_one_empty_page(tiny_app):
    book = tiny_app.extensions["rightsdb.codebook"]
    with Session(tiny_app.extensions["rightsdb.engine"], expire_on_commit=False) as session:
        make_final(session, book, make_real_country(session, "DEU", "DE", "Germany", "Europe"), round_name="2026")
        make_final(session, book, make_real_country(session, "MEX", "MX", "Mexico", "Americas"), round_name="2025")
        session.commit()
        publish_release(
            session=session, codebook=book, exports_dir=tiny_app.config["EXPORTS_DIR"], version="1.0.0", release_date=date(2026, 3, 1)
        )
        session.commit()
    client = tiny_app.test_client()
    body = client.get("/api/v1/answers?country=DEU&round=2025").get_json()  # Germany was coded in 2026 only
    assert body["answers"] == [] and body["pagination"] == {
        "page": 1,
        "per_page": 1000,
        "total": 0,
        "pages": 1,
        "next": None,
        "previous": None,
    }
    assert client.get("/api/v1/answers?country=DEU&round=2025&page=2").get_json() == {
        "error": "page 2 is beyond the last page (1); answers: 0, per page: 1000."
    }


@pytest.mark.parametrize(
    "query, message",
    [
        ("page=0", "page must be a whole number from 1; got '0'."),
        ("page=-1", "page must be a whole number from 1; got '-1'."),
        ("page=abc", "page must be a whole number from 1; got 'abc'."),
        ("page=1.5", "page must be a whole number from 1; got '1.5'."),
        ("page=", "page must be a whole number from 1; got ''."),
        ("page=1&page=2", "Give one page at a time."),
        ("per_page=0", "per_page must be a whole number from 1 to 10000; got '0'."),
        ("per_page=10001", "per_page must be a whole number from 1 to 10000; got '10001'."),
        ("per_page=many", "per_page must be a whole number from 1 to 10000; got 'many'."),
        ("per_page=99999999999999999999999", "per_page must be a whole number from 1 to 10000; got '99999999999999999999...'."),
        ("page=2", "page 2 is beyond the last page (1); answers: 6, per page: 1000."),
        ("page=4&per_page=2", "page 4 is beyond the last page (3); answers: 6, per page: 2."),
        ("page=2&country=DEU&indicator=AAA-01", "page 2 is beyond the last page (1); answers: 1, per page: 1000."),
    ],
)
def test_bad_paging_is_refused_with_a_message(api, query, message):
    response = api.get(f"/api/v1/answers?{query}")
    assert response.status_code == 400 and response.get_json() == {"error": message}
    assert "Link" not in response.headers


@pytest.mark.parametrize("endpoint", ["countries", "scores", "matrix", "releases", "indicators"])
def test_only_answers_are_paged(api, endpoint):
    response = api.get(f"/api/v1/{endpoint}?page=1")
    assert response.status_code == 400 and "Unknown filter page" in response.get_json()["error"]
    assert "pagination" not in api.get(f"/api/v1/{endpoint}").get_json()


def test_index_says_which_endpoint_is_paged(api):
    endpoints = {e["url"]: e for e in api.get("/api/v1/").get_json()["endpoints"]}
    assert endpoints["/api/v1/answers"]["pagination"] == {"per_page_default": 1000, "per_page_max": 10000}
    assert {"page", "per_page"} <= set(endpoints["/api/v1/answers"]["filters"])
    assert [url for url, e in endpoints.items() if "pagination" in e] == ["/api/v1/answers"]
