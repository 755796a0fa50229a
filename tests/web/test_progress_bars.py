"""Progress bars: per assignment and per category for the coder, a summary bar per round on the supervisor's board."""

from __future__ import annotations

import re

from rightsdb.models import Answer
from tests.conftest import login
from tests.factories.countries import make_country
from tests.factories.people import make_user
from tests.factories.rounds import make_assignments, make_round
from tests.factories.supervision import make_double_coding


def page(client, url: str, status: int = 200) -> str:
    response = client.get(url)
    assert response.status_code == status, (url, response.status_code)
    return response.get_data(as_text=True)


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
    assert 'aria-valuenow="1"' in dashboard and f'aria-valuemax="{total}"' in dashboard
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
