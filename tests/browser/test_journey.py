"""The whole journey in a real browser: two coders, the supervisor, an anonymous researcher.

Coder A and coder B each code the synthetic country Arvenia for round 2026 (carry-forward, a changed
answer made conditional, a new citation in a non-Latin script, the submission rules' complaints fixed),
the supervisor reconciles their disagreements and publishes a release, and a researcher browses it and
downloads a custom table whose values must equal the release's published files.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

from playwright.sync_api import expect
from sqlmodel import select

from rightsdb.models import Assignment, CountryRound, Decision, Round, User

from .conftest import screenshot, sign_in, sign_out

COUNTRY, COUNTRY_NAME, ROUND, PREVIOUS_ROUND = "XAA", "Arvenia", "2026", "2025"
VERSION = "0.2.0-demo"
# What each slot changes: a new citation with an excerpt in a non-Latin script, and a conditional answer.
EDITS = {
    "A": {
        "source": "Aliens Act",
        "lang": "ru",
        "pinpoint": "Статья 12, часть 3",
        "excerpt": "Статья 12. Иностранные работники имеют право на равную оплату труда. [синтетический текст]",
        "translation": "Article 12. Foreign workers have the right to equal pay. (synthetic)",
        "groups": 2,
    },
    "B": {
        "source": "Supreme Court",
        "lang": "ar",
        "pinpoint": "المادة ٧ (٢)",
        "excerpt": "المادة ٧: يحق للعمال المهاجرين الانضمام إلى النقابات. [بيانات تجريبية]",
        "translation": "Article 7: migrant workers may join trade unions. (synthetic)",
        "groups": 1,
    },
}


def _plan(live_server) -> dict:
    """Read who codes Arvenia 2026 and pick, from the 2025 final values, one indicator per slot to change."""
    codebook = live_server.codebook
    with live_server.session() as session:
        rows = session.exec(
            select(Round.name, CountryRound.id)
            .join(CountryRound, CountryRound.round_id == Round.id)
            .where(CountryRound.country_iso3 == COUNTRY)
        ).all()
        ids = dict(rows)
        slots = session.exec(
            select(Assignment.slot, User.email)
            .join(User, User.id == Assignment.coder_id)
            .where(Assignment.country_round_id == ids[ROUND])
            .order_by(Assignment.slot)
        ).all()
        previous = {d.indicator_id: d for d in session.exec(select(Decision).where(Decision.country_round_id == ids[PREVIOUS_ROUND])).all()}
    provided = [i.id for i in codebook.indicators if previous[i.id].value == "provided"]
    # Two indicators in different categories, so each coder changes one the other keeps.
    first = provided[0]
    second = next(i for i in provided if codebook.indicators_by_id[i].category != codebook.indicators_by_id[first].category)
    return {"country_round_id": ids[ROUND], "coders": dict(slots), "changed": {"A": first, "B": second}, "previous": previous}


def _assignment_row(page):
    """Return the dashboard row of Arvenia in the round being coded."""
    round_cell = page.locator("td:nth-child(2)", has_text=re.compile(rf"^\s*{ROUND}\s*$"))
    return page.locator("table.coder-assignments tbody tr", has_text=COUNTRY_NAME).filter(has=round_cell)


def _code(page, live_server, plan: dict, slot: str) -> None:
    """One coder codes Arvenia 2026 from the previous round through to submission."""
    codebook = live_server.codebook
    labels = codebook.answer_labels
    indicator_id = plan["changed"][slot]
    edit = EDITS[slot]
    sign_in(page, plan["coders"][slot])
    expect(page.get_by_role("heading", name="My assignments")).to_be_visible()
    row = _assignment_row(page)
    assert "Not started" in row.inner_text()  # nothing answered yet: the word the supervisor's board uses too
    screenshot(page, f"coder-{slot}-dashboard")
    page.get_by_role("link", name=f"Code {COUNTRY_NAME} {ROUND}").click()
    page.wait_for_load_state()  # the coding page is long: let it finish before counting on it
    assert page.get_by_role("heading", level=1).inner_text().startswith(COUNTRY_NAME)
    expect(page.locator(".synthetic").first).to_be_visible()  # fictional data says so on every page

    # Start from the previous round's final values: every indicator is filled and marked.
    page.get_by_role("button", name="Start unanswered indicators from them").click()
    page.wait_for_load_state()
    flash = page.locator(".flash-success").inner_text()
    assert re.search(rf"\b{len(codebook.indicators)} answer\(s\) carried forward", flash), flash
    expect(page.locator(".badge", has_text="carried forward")).to_have_count(len(codebook.indicators))

    # Change one answer to conditional and cite the provision, excerpt in its original script.
    article = page.locator(f"#ind-{indicator_id}")
    article.get_by_role("radio", name=labels["conditional"], exact=True).check()
    assert article.locator("details.coder-groups").get_attribute("open") is not None  # coder.js opens the groups
    source = article.get_by_label("Legal source")
    options = source.locator("option").all_inner_texts()
    source.select_option(label=next(o for o in options if edit["source"] in o))
    article.get_by_label("Pinpoint (article, section, paragraph)").fill(edit["pinpoint"])
    article.get_by_label("Excerpt (original language)").fill(edit["excerpt"])
    article.get_by_label("English translation (optional)").fill(edit["translation"])
    article.scroll_into_view_if_needed()
    screenshot(page, f"coder-{slot}-coding-form", full_page=False)  # all 65 indicators: too tall for one image

    # Submitting now fails: the conditional answer names no group and nothing carried forward is confirmed.
    page.get_by_role("button", name="Save and submit").click()
    page.wait_for_load_state()
    assert "not submitted" in page.locator(".flash-warning").inner_text()
    blockers = page.locator("#blockers")
    assert blockers.get_attribute("open") is not None
    complaints = blockers.locator("li").all_inner_texts()
    assert any(indicator_id in c and "migrant group" in c for c in complaints), complaints
    assert sum("confirm or change" in c for c in complaints) == len(codebook.indicators) - 1
    article = page.locator(f"#ind-{indicator_id}")
    # The citation round-trips in its script, displayed with dir="auto" and the source's language.
    quote = article.locator("blockquote.excerpt", has_text=edit["excerpt"])
    assert quote.inner_text() == edit["excerpt"]
    assert quote.get_attribute("dir") == "auto" and quote.get_attribute("lang") == edit["lang"]
    assert edit["pinpoint"] in article.locator(".coder-citations").inner_text()

    # Fix every complaint: name the groups, confirm each carried-forward answer, explain "not applicable".
    group_labels = [g.label for g in codebook.migrant_groups][: edit["groups"]]
    for label in group_labels:
        article.get_by_role("checkbox", name=label, exact=True).check()
    confirms = page.get_by_role("checkbox", name="I have checked this carried-forward answer against the law in force")
    assert confirms.count() == len(codebook.indicators) - 1
    confirms.first.check()  # one the way a person does; the rest by clicking each box in the page (fast)
    confirms.evaluate_all("boxes => boxes.filter(b => !b.checked).forEach(b => b.click())")
    assert all(confirms.evaluate_all("boxes => boxes.map(b => b.checked)"))
    for complaint in complaints:
        if "not applicable in the notes" in complaint:
            other = complaint.split(" ", 1)[0]
            page.locator(f"#ind-{other}").get_by_role("textbox", name=re.compile("^Notes")).fill(
                "No such procedure exists in this fictional system (synthetic)."
            )
    page.locator("#blockers").evaluate("el => el.scrollIntoView({block: 'start'})")
    screenshot(page, f"coder-{slot}-blockers", full_page=False)
    page.get_by_role("button", name="Save and submit").click()
    page.wait_for_load_state()
    assert "Saved and submitted" in page.locator(".flash-success").inner_text()
    expect(page.get_by_role("heading", name="My assignments")).to_be_visible()
    row = _assignment_row(page)
    assert "Submitted" in row.inner_text()
    screenshot(page, f"coder-{slot}-dashboard-submitted")

    # The submitted coding is read-only and still shows the new citation and the groups.
    page.get_by_role("link", name=f"View {COUNTRY_NAME} {ROUND}").click()
    page.wait_for_load_state()
    expect(page.locator(".coder-readonly")).to_be_visible()
    article = page.locator(f"#ind-{indicator_id}")
    assert article.get_by_role("radio", name=labels["conditional"], exact=True).is_checked()
    assert all(article.get_by_role("checkbox", name=label, exact=True).is_checked() for label in group_labels)
    sign_out(page)


def _reconcile(page, live_server, plan: dict) -> None:
    """The supervisor settles every disagreement, sees Arvenia final, checks reliability and publishes."""
    codebook = live_server.codebook
    sign_in(page, next(e for e, r in live_server.logins.items() if r == "supervisor"))
    expect(page.get_by_role("heading", name="Progress board")).to_be_visible()
    screenshot(page, "supervisor-progress-board")
    section = page.locator("section.round-block", has=page.get_by_role("heading", name=ROUND, exact=True))
    section.get_by_role("link", name=COUNTRY_NAME, exact=True).click()
    page.wait_for_load_state()
    assert "In reconciliation" in page.locator("main").inner_text()
    queue = page.locator("ol.queue li a").all_inner_texts()
    expected = sorted(plan["changed"].values(), key=codebook.indicator_ids.index)
    assert [q.split(" ")[0] for q in queue] == expected, queue
    screenshot(page, "supervisor-country-round-queue")

    chosen = {indicator: slot for slot, indicator in plan["changed"].items()}  # keep the coder who changed it
    page.locator("ol.queue li a").first.click()
    page.wait_for_load_state()
    for position, indicator_id in enumerate(expected):
        assert page.get_by_role("heading", level=1).inner_text().startswith(indicator_id)
        slot = chosen[indicator_id]
        page.get_by_role("radio", name=re.compile(rf"^Coder {slot}.s answer")).check()
        citations = page.locator("fieldset", has_text="Citations that stand").get_by_role("checkbox", name=re.compile(rf"^Coder {slot}:"))
        assert citations.count() >= 2  # the carried-forward one and the new one
        for index in range(citations.count()):
            citations.nth(index).check()
        page.get_by_label("Reason (required)").fill(
            f"Coder {slot} cites the provision that limits the right to some groups (synthetic demonstration reason)."
        )
        if position == 0:
            screenshot(page, "supervisor-reconciliation-view")
        page.get_by_role("button", name="Decide", exact=True).click()
        page.wait_for_load_state()
        assert f"{indicator_id} is decided" in page.locator(".flash-success").inner_text()

    assert "this country is final" in page.locator(".flash-success").inner_text()
    expect(page.locator(".badge", has_text="Final")).to_be_visible()
    decided = page.locator("table", has_text="Reason").locator("tbody tr")
    expect(decided).to_have_count(len(codebook.indicators))
    screenshot(page, "supervisor-country-round-final")

    page.get_by_role("link", name="Board", exact=True).click()
    page.get_by_role("link", name="Reliability").click()
    expect(page.get_by_role("heading", name=f"Round {ROUND}")).to_be_visible()
    screenshot(page, "supervisor-reliability")

    page.get_by_role("link", name="Releases", exact=True).click()
    page.get_by_label("Version (semantic, e.g. 1.0.0)").fill(VERSION)
    page.get_by_label("Title").fill("Browser journey release (synthetic demonstration data)")
    page.get_by_label("Notes for researchers").fill("Arvenia 2026 coded and reconciled in the browser test. Synthetic.")
    page.get_by_label(re.compile("Release the synthetic demonstration countries")).check()
    page.get_by_role("button", name="Publish").click()
    assert f"Release {VERSION} is published" in page.locator(".flash-success").inner_text()
    expect(page.locator("tbody tr", has_text=VERSION)).to_be_visible()
    screenshot(page, "supervisor-releases")
    sign_out(page)


def _published_rows(live_server, indicator_ids: set[str]) -> list[dict]:
    """Return the release's published long-table rows of Arvenia 2026 for these indicators."""
    path = live_server.exports_dir / VERSION / "data" / "long.csv"
    with path.open(encoding="utf-8", newline="") as handle:
        return [r for r in csv.DictReader(handle) if r["iso3"] == COUNTRY and r["indicator"] in indicator_ids]


def _research(page, live_server, plan: dict) -> None:
    """An anonymous researcher browses the new release and downloads a custom table."""
    codebook = live_server.codebook
    indicator_id = plan["changed"]["A"]
    category = codebook.indicators_by_id[indicator_id].category
    page.goto(f"/?release={VERSION}")
    assert VERSION in page.locator(".release-line").inner_text()
    compare = page.locator("table.compare tbody tr", has_text=COUNTRY_NAME)
    expect(compare.filter(has_text=ROUND)).to_have_count(1)
    expect(compare.filter(has_text=PREVIOUS_ROUND)).to_have_count(1)
    screenshot(page, "public-comparison")

    compare.filter(has_text=ROUND).get_by_role("link", name=COUNTRY_NAME).click()
    assert page.get_by_role("heading", level=1).inner_text().startswith(COUNTRY_NAME)
    for slot in ("A", "B"):
        quote = page.locator("blockquote.excerpt", has_text=EDITS[slot]["excerpt"])
        assert quote.inner_text() == EDITS[slot]["excerpt"] and quote.get_attribute("dir") == "auto"
    screenshot(page, "public-country-arvenia")

    page.get_by_role("link", name=indicator_id).first.click()
    assert page.get_by_role("heading", level=1).inner_text().startswith(indicator_id)
    card = page.locator("article.card", has_text=f"{COUNTRY} · {ROUND}")
    assert codebook.answer_labels["conditional"] in card.inner_text()
    screenshot(page, "public-indicator")

    page.goto(f"/table?release={VERSION}")
    page.get_by_label("Countries").select_option(COUNTRY)
    page.get_by_label("Rounds").select_option(ROUND)
    page.get_by_label("Categories").select_option(category)
    page.get_by_role("button", name="Show table").click()
    shown = page.locator(".table-scroll table tbody tr")
    in_category = [i.id for i in codebook.indicators_by_category[category]]
    expect(shown).to_have_count(len(in_category))
    # Long citation text gets a readable column instead of making each row hundreds of pixels tall.
    heights = shown.evaluate_all("rows => rows.map(r => r.getBoundingClientRect().height)")
    assert max(heights) < 300, heights  # squeezed, a row with three citations was ~600 px
    screenshot(page, "public-custom-table")

    with page.expect_download() as info:
        page.get_by_role("link", name="CSV", exact=True).click()
    download = info.value
    assert download.suggested_filename == f"rightsdb-{VERSION}-table.csv"
    path = Path(download.path())
    with path.open(encoding="utf-8", newline="") as handle:
        downloaded = list(csv.DictReader(handle))
    published = _published_rows(live_server, set(in_category))
    published = [r for r in published if r["round"] == ROUND]
    assert len(downloaded) == len(in_category)
    # Every selected cell equals the release's published data, column by column.
    assert downloaded == published
    mine = next(r for r in downloaded if r["indicator"] == indicator_id)
    assert mine["answer"] == "conditional" and mine["groups"] == ";".join(
        sorted(g.code for g in codebook.migrant_groups[: EDITS["A"]["groups"]])
    )
    assert EDITS["A"]["pinpoint"] in mine["citations"]

    page.get_by_role("link", name="Downloads", exact=True).click()
    expect(page.get_by_role("heading", name=re.compile(re.escape(VERSION)))).to_be_visible()
    screenshot(page, "public-downloads")


def test_two_coders_supervisor_and_researcher_journey(pages, live_server):
    plan = _plan(live_server)
    assert set(plan["coders"]) == {"A", "B"}
    for slot in ("A", "B"):
        _code(pages.new_page(), live_server, plan, slot)
    _reconcile(pages.new_page(), live_server, plan)
    _research(pages.new_page(), live_server, plan)
    # No page broke the Content-Security-Policy or threw a script error along the way.
    assert pages.console_errors == []
