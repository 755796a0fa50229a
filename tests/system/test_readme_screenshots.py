"""Every image README.md shows is written by a browser test, so none shows an old page or one no test makes.

The browser tests' `screenshot()` writes each name in README_SCREENSHOTS (tests/browser/conftest.py) to
docs/screenshots/NAME.png as well as test-output/screenshots/; this test reads the README's image links,
that tuple and the tests' `screenshot(page, ...)` calls, without running a browser.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BROWSER_TESTS = ROOT / "tests" / "browser"
DOCS = ROOT / "docs" / "screenshots"


def _readme_images() -> list[str]:
    return re.findall(r"!\[[^\]]*\]\(([^)\s]+)\)", (ROOT / "README.md").read_text(encoding="utf-8"))


def _readme_screenshots() -> tuple[str, ...]:
    tree = ast.parse((BROWSER_TESTS / "conftest.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "README_SCREENSHOTS" for t in node.targets):
            return ast.literal_eval(node.value)
    raise AssertionError("tests/browser/conftest.py defines no README_SCREENSHOTS")


def _name_pattern(argument: ast.expr) -> re.Pattern:
    """The names a screenshot call's name argument can take: a literal, or an f-string whose fields match any word."""
    if isinstance(argument, ast.Constant):
        return re.compile(re.escape(argument.value))
    assert isinstance(argument, ast.JoinedStr), ast.unparse(argument)
    parts = [re.escape(p.value) if isinstance(p, ast.Constant) else r"[\w-]+" for p in argument.values]
    return re.compile("".join(parts))


def _screenshot_calls() -> dict[re.Pattern, str]:
    """Each `screenshot(page, NAME, ...)` call of the browser tests: its name pattern and where it is."""
    calls = {}
    for path in sorted(BROWSER_TESTS.glob("test_*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "screenshot":
                calls[_name_pattern(node.args[1])] = f"{path.relative_to(ROOT)}:{node.lineno}"
    return calls


def test_every_readme_image_is_a_screenshot_a_browser_test_writes():
    images = _readme_images()
    assert images, "README.md shows screenshots"
    outside = [i for i in images if not re.fullmatch(r"docs/screenshots/[\w-]+\.png", i)]
    assert outside == [], f"README images outside docs/screenshots/: {outside}"
    names = [Path(i).stem for i in images]
    kept = _readme_screenshots()
    assert sorted(names) == sorted(kept), "README.md's images and README_SCREENSHOTS in tests/browser/conftest.py differ"
    calls = _screenshot_calls()
    unmade = [n for n in names if not any(pattern.fullmatch(n) for pattern in calls)]
    assert unmade == [], f"README images no browser test takes: {unmade}"
    missing = [i for i in images if not (ROOT / i).is_file()]
    assert missing == [], f"run the browser tests to write {missing}"


def test_docs_screenshots_holds_only_what_the_readme_shows():
    shown = {Path(i).name for i in _readme_images()}
    stale = sorted(p.name for p in DOCS.glob("*") if p.name not in shown)
    assert stale == [], f"images in docs/screenshots/ that README.md does not show (delete them): {stale}"
