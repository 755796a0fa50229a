"""Progress wherever work is long (coder, board, release build) and every empty state says what to do next."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlmodel import Session

from rightsdb.ops.cli import main
from rightsdb.models import Answer
from rightsdb.review.reconciliation import compare_country_round
from rightsdb.publishing.publish import publish_release
from tests.conftest import TINY_CODEBOOK, login, make_app
from tests.factories import make_assignments, make_country, make_round, make_user
from tests.factories_release import make_final, make_golden_data, make_real_country
from tests.factories_supervisor import make_double_coding

PROGRESS_LINE = re.compile(r"^\[(\d+)/(\d+)\] (\S+)$")


def page(client, url: str, status: int = 200) -> str:
    response = client.get(url)
    assert response.status_code == status, (url, response.status_code)
    return response.get_data(as_text=True)


# --- Progress -------------------------------------------------------------------------------------


def test_release_build_prints_one_progress_line_per_file(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    app = make_app(url, tmp_path, CODEBOOK_PATH=str(TINY_CODEBOOK))
    exports_dir = Path(app.config["EXPORTS_DIR"])
    with Session(app.extensions["rightsdb.engine"]) as session:
        make_golden_data(session, app.extensions["rightsdb.codebook"])
        session.commit()
    app.extensions["rightsdb.engine"].dispose()
    monkeypatch.setenv("RIGHTSDB_DATABASE_URL", url)
    monkeypatch.setenv("RIGHTSDB_EXPORTS_DIR", str(exports_dir))
    monkeypatch.setenv("RIGHTSDB_CODEBOOK_PATH", str(TINY_CODEBOOK))
    result = CliRunner().invoke(main, ["release", "build", "1.0.0", "--synthetic", "--date", "2026-03-01"])
    assert result.exit_code == 0, result.output
    steps = [PROGRESS_LINE.match(line) for line in result.output.splitlines()]
    steps = [(int(m[1]), int(m[2]), m[3]) for m in steps if m]
    total = steps[0][1]
    assert [n for n, _t, _name in steps] == list(range(1, total + 1))  # numbered 1..total, none skipped
    assert {t for _n, t, _name in steps} == {total}
    names = [name for _n, _t, name in steps]
    assert "data/scores.csv" in names and "data/release.xlsx" in names and names[-1] == "SHA256SUMS"
    assert len(set(names)) == total
    folder = exports_dir / "1.0.0"
    assert all((folder / name).is_file() for name in names)
    # Every file listed in SHA256SUMS was reported.
    summed = {line.split("  ", 1)[1] for line in (folder / "SHA256SUMS").read_text().splitlines()}
    assert summed | {"SHA256SUMS"} == set(names)


def test_publish_release_reports_progress_to_a_callback(tiny_app, tiny_session, book):
    make_golden_data(tiny_session, book)
    lines: list[str] = []
    publish_release(session=tiny_session, codebook=book, exports_dir=tiny_app.config["EXPORTS_DIR"], version="1.0.0",
                    release_date=date(2026, 3, 1), synthetic=True, progress=lines.append)
    tiny_session.commit()
    assert lines and all(PROGRESS_LINE.match(line) for line in lines)
    assert lines[-1].endswith("SHA256SUMS") and lines[-1].startswith(f"[{len(lines)}/{len(lines)}]")


def test_coder_sees_progress_per_assignment_and_per_category(tiny_app, tiny_session, book):
    coder, other = make_user(tiny_session, "coder"), make_user(tiny_session, "coder")
    round_ = make_round(tiny_session, book)
    _cr, mine, _theirs = make_assignments(tiny_session, round_, make_country(tiny_session, 0), coder, other)
    first = book.indicators_by_category[book.categories[0].id][0]
    tiny_session.add(Answer(assignment_id=mine.id, indicator_id=first.id, value="provided", codebook_version=book.version))
    tiny_session.commit()
    client = login(tiny_app.test_client(), coder)
    total = len(book.indicators)
    dashboard = page(client, "/coder/")
    assert f"1 of {total} answered" in dashboard
    assert f'aria-valuenow="1"' in dashboard and f'aria-valuemax="{total}"' in dashboard
    coding = page(client, f"/coder/assignments/{mine.id}")
    nav = coding.split('<nav class="coder-categories"', 1)[1].split("</nav>", 1)[0]
    for n, category in enumerate(book.categories):
        size = len(book.indicators_by_category[category.id])
        assert f"{1 if n == 0 else 0}/{size}</span>" in nav, category.id


def test_board_shows_a_summary_bar_per_round(tiny_app, tiny_session, book):
    supervisor = make_user(tiny_session, "supervisor")
    round_ = make_round(tiny_session, book, name="R1")
    make_double_coding(tiny_session, book, round_, country_index=0)
    make_double_coding(tiny_session, book, round_, country_index=1, submit_b=False)
    tiny_session.commit()
    html = page(login(tiny_app.test_client(), supervisor), "/supervisor/")
    summary = html.split('<div class="round-summary">', 1)[1].split("</table>", 1)[0]
    assert 'aria-label="Countries final in round R1"' in summary
    assert re.search(r'aria-valuemax="4" aria-valuenow="3" aria-label="Codings submitted in round R1"', summary)
    total = 2 * len(book.indicators)
    assert re.search(rf'aria-valuemax="{total}" aria-valuenow="0" aria-label="Values decided in round R1"', summary)


# --- Empty states ---------------------------------------------------------------------------------


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
    publish_release(session=tiny_session, codebook=book, exports_dir=tiny_app.config["EXPORTS_DIR"], version="1.0.0", release_date=date(2026, 3, 1))
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
    publish_release(session=tiny_session, codebook=book, exports_dir=tiny_app.config["EXPORTS_DIR"], version="1.0.0", release_date=date(2026, 3, 1))
    tiny_session.commit()
    html = page(tiny_app.test_client(), "/table?country=DEU&round=2026")
    assert "No row matches this choice" in html and 'href="/table">Clear the choice</a>' in html
