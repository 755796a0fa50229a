"""Coders' notes in a real browser: hostile, right-to-left and very long notes wrap inside their cell or card.

Its own small server (tiny codebook, one release written straight into the snapshot), so the shared
demo server's release stays as it is.
"""

from __future__ import annotations

import threading

import pytest
from axe_playwright_python.sync_playwright import Axe
from sqlmodel import Session
from werkzeug.serving import make_server

from rightsdb import create_app
from rightsdb.db import create_all
from tests.conftest import TINY_CODEBOOK
from tests.web.test_notes_published import ARABIC, HOSTILE, LONG, make_snapshot

from .conftest import PageMaker, screenshot

#: One unbroken "word" as long as a pasted URL or a run of underscores: it must wrap, not widen the page.
UNBROKEN = "https://example.org/" + "a" * 400


@pytest.fixture(scope="module")
def notes_server(tmp_path_factory):
    """Serve a release of Germany whose values carry hostile, Arabic, very long and unbroken notes."""
    base = tmp_path_factory.mktemp("notes")
    config = {
        "ENV": "testing",
        "TESTING": False,
        "SECRET_KEY": "browser-test-secret-key-0123456789abcdef",
        "DATABASE_URL": f"sqlite:///{base / 'rightsdb.sqlite'}",
        "EXPORTS_DIR": str(base / "exports"),
        "CODEBOOK_PATH": str(TINY_CODEBOOK),
    }
    app = create_app(config)
    create_all(app.extensions["rightsdb.engine"])
    with Session(app.extensions["rightsdb.engine"], expire_on_commit=False) as session:
        make_snapshot(
            session,
            app.extensions["rightsdb.codebook"],
            notes={"AAA-01": (HOSTILE, ARABIC), "AAA-02": (LONG, LONG), "BBB-01": (UNBROKEN, "")},
            cited_by={"AAA-01": "A;B", "AAA-02": "A", "BBB-01": "B"},
        )
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="notes-server", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)
    server.server_close()
    app.extensions["rightsdb.engine"].dispose()


#: For every note and citation list: how far it sticks out of its own box, and its text direction.
MEASURE = """() => {
  const boxes = [...document.querySelectorAll('.coder-notes dd, ul.citations')];
  return {
    page: document.documentElement.scrollWidth - document.documentElement.clientWidth,
    overflow: Math.max(0, ...boxes.map(b => b.scrollWidth - b.clientWidth)),
    directions: [...document.querySelectorAll('.coder-notes dd')].map(d => getComputedStyle(d).direction),
    notes: document.querySelectorAll('.coder-notes dd').length,
  };
}"""


@pytest.mark.parametrize("width", [1280, 390])
def test_notes_wrap_and_stay_text(browser, notes_server, width):
    maker = PageMaker(browser, type("Live", (), {"url": notes_server})())
    try:
        page = maker.new_page(viewport={"width": width, "height": 900})
        dialogs: list[str] = []
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        for path, name, notes in (("/countries/DEU", "country", 4), ("/indicators/AAA-01", "indicator", 2)):
            page.goto(path)
            measured = page.evaluate(MEASURE)
            screenshot(page, f"public-notes-{name}-{width}")
            assert measured["notes"] == notes, measured
            assert measured["overflow"] <= 1, measured  # every note and citation wraps inside its own box
            if name == "indicator":  # the country page's table may scroll sideways inside .table-scroll; the cards never
                assert measured["page"] <= 1, measured
            assert "rtl" in measured["directions"] and "ltr" in measured["directions"], measured
            assert page.get_by_text(HOSTILE).first.is_visible()  # shown as text
            assert page.locator(".coder-notes img").count() == 0
        assert dialogs == [] and maker.console_errors == []
    finally:
        maker.close()


def test_notes_pass_axe(browser, notes_server):
    """The notes' markup (a definition list per value, badges) has no serious or critical accessibility violation."""
    maker = PageMaker(browser, type("Live", (), {"url": notes_server})())
    try:
        page = maker.new_page(bypass_csp=True)  # axe-core is injected as a script
        for path in ("/countries/DEU", "/indicators/AAA-01"):
            page.goto(path)
            violations = Axe().run(page).response["violations"]
            assert [v["id"] for v in violations if v["impact"] in {"serious", "critical"}] == [], path
    finally:
        maker.close()
