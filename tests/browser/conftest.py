"""Browser fixtures: a live server on a fresh demo database, and Debian's headless Chromium driving it.

These tests run once, on SQLite (never the `app` fixtures parametrized over engines). They are marked
`browser` and skipped, saying why, when the Chromium executable is missing. Playwright cannot download
browsers here, so it launches `/usr/bin/chromium` (or RIGHTSDB_CHROMIUM).
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright
from sqlmodel import Session
from werkzeug.serving import make_server

from rightsdb import create_app
from rightsdb.ops.demo import DEMO_PASSWORD, load_demo
from rightsdb.ops.migrate import upgrade

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
SCREENSHOTS = ROOT / "test-output" / "screenshots"
DOCS_SCREENSHOTS = ROOT / "docs" / "screenshots"
#: The screenshots README.md shows: each run writes these to docs/screenshots/ too, so the README's
#: images are always the current pages (tests/system/test_readme_screenshots.py holds the two together).
README_SCREENSHOTS = (
    "coder-A-coding-form",
    "coder-A-blockers",
    "supervisor-progress-board",
    "supervisor-reconciliation-view",
    "public-comparison",
    "public-custom-table",
)
CHROMIUM = os.environ.get("RIGHTSDB_CHROMIUM", "/usr/bin/chromium")
# Without the background-networking flags Chromium phones home, and this machine's closed network refuses it.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
MAX_SCREENSHOT_HEIGHT = 4000
SKIP_REASON = f"Browser tests skipped: {CHROMIUM} not found; apt-get install chromium"


def pytest_collection_modifyitems(config, items):
    """Mark every test in this folder `browser`; skip them all when Chromium is missing."""
    missing = not Path(CHROMIUM).is_file()
    for item in items:
        if HERE not in Path(item.path).parents:
            continue
        item.add_marker(pytest.mark.browser)
        if missing:
            item.add_marker(pytest.mark.skip(reason=SKIP_REASON))


@dataclass
class LiveServer:
    """A running application on a fresh demo database."""

    url: str
    app: object
    exports_dir: Path
    logins: dict[str, str] = field(default_factory=dict)  # role or name -> email

    def session(self) -> Session:
        """Open a database session (for reading what the browser did)."""
        return Session(self.app.extensions["rightsdb.engine"], expire_on_commit=False)

    @property
    def codebook(self):
        """The served app's codebook."""
        return self.app.extensions["rightsdb.codebook"]


@pytest.fixture(scope="session")
def live_server(tmp_path_factory):
    """Serve the demo data (migrated SQLite database, demo release) on 127.0.0.1 and a free port.

    Shared by the whole browser run (loading the demo publishes a release: ~10 s). The accessibility
    tests only read; the journey changes Arvenia 2026 alone, which no other browser test relies on.
    """
    base = tmp_path_factory.mktemp("live")
    url = f"sqlite:///{base / 'rightsdb.sqlite'}"
    upgrade(url)
    app = create_app(
        {
            "ENV": "testing",
            "TESTING": False,  # behave like a deployment: real CSRF tokens, real error pages
            "SECRET_KEY": "browser-test-secret-key-0123456789abcdef",
            "DATABASE_URL": url,
            "EXPORTS_DIR": str(base / "exports"),
            "LOGIN_SLOWDOWN_SECONDS": 0,
        }
    )
    with Session(app.extensions["rightsdb.engine"], expire_on_commit=False) as session:
        report = load_demo(session=session, codebook=app.extensions["rightsdb.codebook"], app_config=app.config)
        session.commit()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    live = LiveServer(
        url=f"http://127.0.0.1:{server.server_port}",
        app=app,
        exports_dir=base / "exports",
        logins={email: role for email, role, _name in report.logins},
    )
    yield live
    server.shutdown()
    thread.join(timeout=10)
    server.server_close()
    app.extensions["rightsdb.engine"].dispose()


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium for the whole run."""
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class PageMaker:
    """Open pages in fresh browser contexts (one per person) and collect the console errors of each."""

    def __init__(self, browser, live: LiveServer):
        self.browser, self.live = browser, live
        self.contexts = []
        self.console_errors: list[str] = []

    def new_page(self, *, viewport=None, bypass_csp: bool = False):
        """Open a page in a new context (its own cookies) at the live server."""
        context = self.browser.new_context(
            base_url=self.live.url, accept_downloads=True, bypass_csp=bypass_csp, viewport=viewport or {"width": 1280, "height": 900}
        )
        context.set_default_timeout(15_000)
        self.contexts.append(context)
        page = context.new_page()
        page.on("console", lambda message: self._console(page, message))
        page.on("pageerror", lambda error: self.console_errors.append(f"{page.url}: {error}"))
        return page

    def _console(self, page, message) -> None:
        # Chromium asks every site for /favicon.ico; the app has none, which is no page error.
        if message.type == "error" and not message.location.get("url", "").endswith("/favicon.ico"):
            self.console_errors.append(f"{page.url}: {message.text}")

    def close(self):
        """Close every context this maker opened."""
        for context in self.contexts:
            context.close()


@pytest.fixture
def pages(browser, live_server):
    """Make pages on the live server; closes them after the test."""
    maker = PageMaker(browser, live_server)
    yield maker
    maker.close()


def sign_in(page, email: str) -> None:
    """Sign in through the login form with the demo password."""
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out"), f"{email} could not sign in").to_be_visible()


def sign_out(page) -> None:
    """Sign out through the header button."""
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("link", name="Sign in")).to_be_visible()


def screenshot(page, name: str, *, full_page: bool = True) -> Path:
    """Save a screenshot (the full page, or the viewport for very long pages) to test-output/screenshots/NAME.png.

    A name in README_SCREENSHOTS is also written to docs/screenshots/NAME.png, the file README.md shows.
    """
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    height = page.evaluate("document.documentElement.scrollHeight")
    if full_page and height > MAX_SCREENSHOT_HEIGHT:
        # Very tall pages take long to render whole in software; their top is what a README shows.
        width = page.viewport_size["width"]
        page.screenshot(path=str(path), full_page=True, clip={"x": 0, "y": 0, "width": width, "height": MAX_SCREENSHOT_HEIGHT})
    else:
        page.screenshot(path=str(path), full_page=full_page)
    if name in README_SCREENSHOTS:
        DOCS_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        (DOCS_SCREENSHOTS / f"{name}.png").write_bytes(path.read_bytes())
    return path
