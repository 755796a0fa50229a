"""Accessibility in a real browser: axe-core on every role's main pages, keyboard use, phone width.

axe-core (bundled by axe-playwright-python) is evaluated into the page; the contexts here bypass the
page's Content-Security-Policy so the injected engine may run (the journey test keeps the CSP on).
Violations of impact "serious" or "critical" fail; milder ones are printed for the record.
"""

from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe
from sqlmodel import select

from rightsdb.models import Assignment, CountryRound, Round, User

from .conftest import PageMaker, screenshot, sign_in

BLOCKING = {"serious", "critical"}


@pytest.fixture(scope="module")
def people(browser, live_server):
    """One signed-in page per role (plus an anonymous one), with the page CSP bypassed for axe."""
    maker = PageMaker(browser, live_server)
    emails: dict[str, str] = {}
    for email, role in live_server.logins.items():
        emails.setdefault(role, email)  # the first demo user of each role
    pages = {role: maker.new_page(bypass_csp=True) for role in ("anonymous", "coder", "supervisor", "admin")}
    with live_server.session() as session:
        # A coder with work in progress: the country being coded in round 2026, not yet submitted.
        coder_email, assignment_id = session.exec(
            select(User.email, Assignment.id)
            .join(User, User.id == Assignment.coder_id)
            .join(CountryRound, CountryRound.id == Assignment.country_round_id)
            .join(Round, Round.id == CountryRound.round_id)
            .where(Round.name == "2026", CountryRound.country_iso3 == "XBB", Assignment.status != "submitted")
            .order_by(Assignment.slot)
        ).first()
        round_id = session.exec(select(Round.id).where(Round.name == "2026")).one()
        reconciling = session.exec(
            select(CountryRound.id)
            .join(Round, Round.id == CountryRound.round_id)
            .where(Round.name == "2026", CountryRound.country_iso3 == "XDD")
        ).one()
    sign_in(pages["coder"], coder_email)
    sign_in(pages["supervisor"], emails["supervisor"])
    sign_in(pages["admin"], emails["admin"])
    yield {"pages": pages, "assignment_id": assignment_id, "reconciling": reconciling, "round_id": round_id, "maker": maker}
    maker.close()


def _open_reconciliation(page, country_round_id: int) -> None:
    """Open the first disagreement of a country-round in reconciliation."""
    page.goto(f"/supervisor/country-rounds/{country_round_id}")
    page.locator("ol.queue li a").first.click()


# (name, role, how to reach the page)
PAGES = [
    ("login", "anonymous", "/login"),
    ("coder-dashboard", "coder", "/coder/"),
    # One category of the coding form: all 17 repeat the same markup, and axe takes ~1 s per 1000 elements.
    ("coding-form", "coder", lambda page, ctx: page.goto(f"/coder/assignments/{ctx['assignment_id']}?category={ctx['category']}")),
    ("legal-sources", "coder", lambda page, ctx: page.goto(f"/coder/assignments/{ctx['assignment_id']}/sources")),
    ("progress-board", "supervisor", "/supervisor/"),
    ("country-round", "supervisor", lambda page, ctx: page.goto(f"/supervisor/country-rounds/{ctx['reconciling']}")),
    ("reconciliation-view", "supervisor", lambda page, ctx: _open_reconciliation(page, ctx["reconciling"])),
    ("round", "supervisor", lambda page, ctx: page.goto(f"/supervisor/rounds/{ctx['round_id']}")),
    ("reassign-slot", "supervisor", lambda page, ctx: page.goto(f"/supervisor/assignments/{ctx['assignment_id']}/reassign")),
    # Round 2026 only: the page for all rounds repeats the same markup for each round.
    ("reliability", "supervisor", lambda page, ctx: page.goto(f"/supervisor/reliability?round={ctx['round_id']}")),
    ("releases", "supervisor", "/releases-admin/"),
    ("team", "admin", "/admin/users"),
    ("comparison", "anonymous", "/"),
    ("country", "anonymous", "/countries/XFF"),  # one round (Arvenia has two: the same markup twice)
    ("indicator", "anonymous", lambda page, ctx: page.goto(f"/indicators/{ctx['indicator']}")),
    ("custom-table", "anonymous", "/table?country=XAA&category=EQP"),
    ("downloads", "anonymous", "/downloads"),
]


def _describe(violation: dict) -> str:
    """Summarise an axe violation on one line: impact, rule, help and the first few elements."""
    targets = ", ".join(" ".join(node["target"]) for node in violation["nodes"][:5])
    return f"[{violation['impact']}] {violation['id']}: {violation['help']} ({len(violation['nodes'])} node(s): {targets})"


@pytest.mark.parametrize("name,role,where", PAGES, ids=[p[0] for p in PAGES])
def test_no_serious_accessibility_violations(people, live_server, name, role, where):
    page = people["pages"][role]
    codebook = live_server.codebook
    context = {**people, "indicator": codebook.indicators[0].id, "category": codebook.categories[0].id}
    if callable(where):
        where(page, context)
    else:
        page.goto(where)
    page.wait_for_load_state()
    assert page.locator("main h1").count() == 1, f"{name}: no page heading at {page.url}"
    screenshot(page, f"a11y-{name}", full_page=False)
    violations = Axe().run(page).response["violations"]
    for violation in violations:
        print(f"{name}: {_describe(violation)}")
    blocking = [_describe(v) for v in violations if v["impact"] in BLOCKING]
    assert blocking == [], f"{name} ({page.url}):\n" + "\n".join(blocking)


def _focused(page) -> dict:
    """Describe the focused element and its computed outline."""
    return page.evaluate("""() => {
        const el = document.activeElement;
        const style = getComputedStyle(el);
        return {tag: el.tagName, type: el.type || '', name: el.name || '', text: (el.textContent || '').trim().slice(0, 40),
                outline: style.outlineStyle, outlineWidth: style.outlineWidth, inForm: !!el.closest('form.coder-form')};
    }""")


def test_keyboard_reaches_answers_and_save_with_visible_focus(people):
    page = people["pages"]["coder"]
    page.goto(f"/coder/assignments/{people['assignment_id']}")
    page.locator("body").click(position={"x": 1, "y": 1})  # start from the top of the document
    reached = {"radio": None, "save": None}
    for _ in range(600):
        page.keyboard.press("Tab")
        focused = _focused(page)
        # Every element the keyboard reaches shows where focus is.
        assert focused["outline"] != "none" and focused["outlineWidth"] != "0px", focused
        if focused["inForm"] and focused["type"] == "radio" and focused["name"].endswith("-value"):
            reached["radio"] = reached["radio"] or focused
            page.keyboard.press("ArrowDown")  # radios in a group move with the arrow keys
            assert _focused(page)["type"] == "radio"
        if focused["inForm"] and focused["tag"] == "BUTTON" and focused["name"] == "save":
            reached["save"] = focused
            break
    assert reached["radio"] is not None, "Tab never reached an answer radio"
    assert reached["save"] is not None, "Tab never reached the Save button"
    screenshot(page, "a11y-keyboard-save-focused", full_page=False)


def test_comparison_page_fits_a_phone(people, browser, live_server):
    page = people["maker"].new_page(viewport={"width": 390, "height": 844}, bypass_csp=True)
    page.goto("/")
    widths = page.evaluate(
        "() => ({body: document.body.scrollWidth, page: document.documentElement.scrollWidth, viewport: window.innerWidth})"
    )
    assert widths["body"] <= widths["viewport"] and widths["page"] <= widths["viewport"], widths
    # The wide comparison table scrolls inside its wrapper instead of widening the page.
    scroller = page.locator(".table-scroll").first
    assert scroller.evaluate("el => getComputedStyle(el).overflowX") == "auto"
    assert scroller.evaluate("el => el.scrollWidth > el.clientWidth")
    screenshot(page, "phone-comparison")
    violations = Axe().run(page).response["violations"]
    blocking = [_describe(v) for v in violations if v["impact"] in BLOCKING]
    assert blocking == [], "comparison page at phone width:\n" + "\n".join(blocking)
