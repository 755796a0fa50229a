"""Each busy page runs the same number of SQL queries whatever the amount of data (no N+1).

The database is filled with the benchmark generator at a small size, every page is measured, then
more countries, rounds and citations per answer are added and every page is measured again.
"""

from __future__ import annotations

from datetime import date

from sqlmodel import Session

from bench.generate import open_round, populate
from rightsdb.models import User
from rightsdb.publishing.publish import publish_release
from tests.conftest import login
from tests.factories.querycount import count_queries

# A page may be cheap or not, but never this expensive: a ceiling that catches a loop of queries
# even when both sizes happen to agree.
CEILING = 20


def _publish(app, version: str) -> None:
    engine = app.extensions["rightsdb.engine"]
    with Session(engine, expire_on_commit=False) as session:
        publish_release(
            session=session,
            codebook=app.extensions["rightsdb.codebook"],
            exports_dir=app.config["EXPORTS_DIR"],
            version=version,
            release_date=date(2026, 6, 1),
            synthetic=True,
        )
        session.commit()


def _client(app, user_id: int):
    with Session(app.extensions["rightsdb.engine"]) as session:
        user = session.get(User, user_id)
    return login(app.test_client(), user)


def _grow(app, *, countries: int, rounds: int, citations: tuple[int, int], version: str, seed: int) -> dict[str, tuple]:
    """Add data, open a round (one country coding, one reconciling), publish; return the pages to measure."""
    engine = app.extensions["rightsdb.engine"]
    codebook = app.extensions["rightsdb.codebook"]
    world = populate(engine, codebook, countries=countries, rounds=rounds, citations=citations, coders=3, seed=seed)
    coding_iso, reconciling_iso = world.countries[0], world.countries[1]
    opened = open_round(engine, codebook, coding=[coding_iso], reconciliation=[reconciling_iso], citations=citations, seed=seed)
    _publish(app, version)
    coding, reconciling = opened[coding_iso], opened[reconciling_iso]
    coder = _client(app, coding["coders"][0])
    supervisor = _client(app, world.supervisor_ids[0])
    anonymous = app.test_client()
    cr = reconciling["country_round_id"]
    return {
        "coder form": (coder, f"/coder/assignments/{coding['assignments']['A']}"),
        "reconciliation view": (supervisor, f"/supervisor/country-rounds/{cr}"),
        "reconciliation indicator": (supervisor, f"/supervisor/country-rounds/{cr}/indicators/{reconciling['disagreements'][0]}"),
        "supervisor board": (supervisor, "/supervisor/"),
        "public comparison": (anonymous, "/"),
        "country page": (anonymous, f"/countries/{world.countries[-1]}"),
        "indicator page": (anonymous, f"/indicators/{codebook.indicator_ids[-1]}"),
        "custom table csv": (anonymous, f"/table.csv?category={codebook.categories[0].id}"),
        "custom table xlsx": (anonymous, f"/table.xlsx?country={world.countries[-1]}"),
        "api matrix": (anonymous, "/api/v1/matrix"),
        "api answers": (anonymous, f"/api/v1/answers?country={world.countries[-1]}"),
    }


def _measure(app, pages: dict[str, tuple]) -> dict[str, tuple[int, int]]:
    """Return {page: (queries on a cold release cache, queries once cached)}, checking each answers 200."""
    engine = app.extensions["rightsdb.engine"]
    counts = {}
    for name, (client, url) in pages.items():
        app.extensions.pop("rightsdb.release_cache", None)
        measured = []
        for _ in range(2):
            with count_queries(engine) as log:
                response = client.get(url)
            assert response.status_code == 200, f"{name} {url}: HTTP {response.status_code}"
            measured.append(log.count)
        counts[name] = tuple(measured)
    return counts


def test_page_query_counts_do_not_grow_with_the_data(app):
    small = _measure(app, _grow(app, countries=2, rounds=1, citations=(1, 1), version="1.0.0", seed=1))
    # Three times the countries, more rounds (so the open country-round has earlier rounds), 3 citations.
    large = _measure(app, _grow(app, countries=4, rounds=2, citations=(3, 3), version="2.0.0", seed=2))
    assert large == small
    assert all(0 < warm <= cold <= CEILING for cold, warm in small.values()), small
