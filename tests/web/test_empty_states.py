"""Every empty state says what to do next: no assignment, no round, no disagreement, no pair of codings, no release, no match."""

from __future__ import annotations

import re
from datetime import date

import pytest

from rightsdb.publishing.publish import publish_release
from rightsdb.review.reconciliation import compare_country_round
from tests.conftest import login
from tests.factories.countries import make_real_country
from tests.factories.people import make_user
from tests.factories.releases import make_final
from tests.factories.rounds import make_round
from tests.factories.supervision import make_double_coding


def page(client, url: str, status: int = 200) -> str:
    response = client.get(url)
    assert response.status_code == status, (url, response.status_code)
    return response.get_data(as_text=True)


def test_coder_without_assignment_is_told_what_happens_next(tiny_app, tiny_session):
    coder = make_user(tiny_session, "coder")
    tiny_session.commit()
    html = page(login(tiny_app.test_client(), coder), "/coder/")
    assert "You have no assignments yet" in html
    assert "ask your supervisor to assign you a country" in html
    assert 'href="/">comparison page</a>' in html


def test_board_without_round_offers_to_open_the_first(tiny_app, tiny_session, book):
    supervisor = make_user(tiny_session, "supervisor")
    tiny_session.commit()
    client = login(tiny_app.test_client(), supervisor)
    html = page(client, "/supervisor/")
    assert re.search(r'<a class="button primary" href="/supervisor/rounds/new">Open the first round</a>', html)
    round_ = make_round(tiny_session, book, name="Empty")
    tiny_session.commit()
    html = page(client, "/supervisor/")
    assert "No country in this round yet" in html and f'href="/supervisor/rounds/{round_.id}">assign countries and coders' in html


def test_empty_reconciliation_queue_points_to_the_board_and_releases(tiny_app, tiny_session, book):
    supervisor = make_user(tiny_session, "supervisor")
    round_ = make_round(tiny_session, book)
    country_round, _a, _b = make_double_coding(tiny_session, book, round_)
    compare_country_round(session=tiny_session, codebook=book, country_round=country_round)
    tiny_session.commit()
    html = page(login(tiny_app.test_client(), supervisor), f"/supervisor/country-rounds/{country_round.id}")
    assert "No disagreement is left" in html
    assert 'href="/supervisor/">Back to the progress board</a>' in html and 'href="/releases-admin/"' in html


def test_reliability_without_pairs_says_why_and_where_to_look(tiny_app, tiny_session):
    supervisor = make_user(tiny_session, "supervisor")
    tiny_session.commit()
    html = page(login(tiny_app.test_client(), supervisor), "/supervisor/reliability")
    assert "No country has two submitted codings yet" in html
    assert 'href="/supervisor/">progress board</a>' in html
    assert "indicators.svg" not in html  # no empty picture


def test_public_pages_before_any_release(tiny_app):
    client = tiny_app.test_client()
    html = page(client, "/")
    assert "No release is published yet; researchers will see data here once a supervisor publishes one" in html
    assert 'href="/downloads">downloads page</a>' in html
    html = page(client, "/downloads")
    assert "No release is published yet" in html and 'href="/">Back to the comparison page</a>' in html
    for url in ("/countries/DEU", "/indicators/AAA-01", "/table", "/chart/world.svg"):
        html = page(client, url, 404)
        assert "researchers will see data here once a supervisor publishes one" in html, url
        assert 'href="/">Go to the comparison page</a>' in html, url


def test_supervisor_is_offered_to_publish_when_nothing_is_released(tiny_app, tiny_session):
    supervisor = make_user(tiny_session, "supervisor")
    tiny_session.commit()
    html = page(login(tiny_app.test_client(), supervisor), "/")
    assert 'href="/releases-admin/">Publish a release</a>' in html
    assert "Publish a release" not in page(tiny_app.test_client(), "/")


@pytest.fixture
def released(tiny_app, tiny_session, book):
    make_final(tiny_session, book, make_real_country(tiny_session, "DEU", "DE", "Germany", "Europe"))
    tiny_session.commit()
    publish_release(
        session=tiny_session, codebook=book, exports_dir=tiny_app.config["EXPORTS_DIR"], version="1.0.0", release_date=date(2026, 3, 1)
    )
    tiny_session.commit()
    return tiny_app.test_client()


def test_country_or_indicator_not_in_the_release_is_a_404_with_a_way_back(released):
    html = page(released, "/countries/FRA", 404)
    assert "There is no country FRA in release 1.0.0" in html and 'href="/">Go to the comparison page</a>' in html
    html = page(released, "/indicators/ZZZ-99", 404)
    assert "There is no indicator ZZZ-99 in codebook" in html and 'href="/">Go to the comparison page</a>' in html
    html = page(released, "/?round=1999", 400)
    assert "Unknown round" in html and 'href="/">Go to the comparison page</a>' in html


def test_filters_matching_nothing_offer_to_show_all(released):
    html = page(released, "/?region=Oceania")
    assert "No country matches these filters" in html and 'href="/">Show all countries</a>' in html


def test_custom_table_with_nothing_selected_offers_choice_and_download(released, book):
    html = page(released, "/table")
    assert "Nothing is selected yet" in html
    assert f"download the whole release ({len(book.indicators)} rows)" in html
    assert "<tbody>" not in html  # no preview of the whole release
    assert 'href="/table.csv">CSV</a>' in html
    html = page(released, "/table?country=DEU&category=" + book.categories[0].id)
    assert "Nothing is selected yet" not in html and "<tbody>" in html
    html = page(released, "/table?round=2026&country=DEU&indicator=" + book.indicators[0].id)
    assert "1 row." in html


def test_custom_table_choice_without_rows_offers_to_clear_it(tiny_app, tiny_session, book):
    make_final(tiny_session, book, make_real_country(tiny_session, "DEU", "DE", "Germany", "Europe"), round_name="2025")
    make_final(tiny_session, book, make_real_country(tiny_session, "MEX", "MX", "Mexico", "Americas"), round_name="2026")
    tiny_session.commit()
    publish_release(
        session=tiny_session, codebook=book, exports_dir=tiny_app.config["EXPORTS_DIR"], version="1.0.0", release_date=date(2026, 3, 1)
    )
    tiny_session.commit()
    html = page(tiny_app.test_client(), "/table?country=DEU&round=2026")
    assert "No row matches this choice" in html and 'href="/table">Clear the choice</a>' in html
