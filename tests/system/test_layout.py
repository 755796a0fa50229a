"""The layout's rules, read from the code itself: who imports whom, where the answer codes live, module sizes.

Each rule is stated in the README's "Development layout" section; these tests fail on the first file
that breaks one, naming it, so a change that bends the architecture is caught in review, not later.
"""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

import pytest

from rightsdb.codebook.rules import ANSWER_CODES

ROOT = Path(__file__).resolve().parent.parent.parent
PACKAGES = ("rightsdb", "coding_forms")
#: The domain: never imports Flask, WTForms, the web layer or the forms.
DOMAIN = ("codebook", "coding", "review", "publishing", "public", "importing", "accounts")
WEB_LIBRARIES = ("flask", "flask_login", "flask_wtf", "wtforms", "markupsafe")
MAX_LINES = 400


def source_files() -> list[Path]:
    """Every Python file of the application (the Alembic revisions included)."""
    return sorted(p for package in PACKAGES for p in (ROOT / package).rglob("*.py"))


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def modules() -> dict[str, Path]:
    return {module_name(p): p for p in source_files() if "migrations" not in p.parts}


@cache
def tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def imported(path: Path) -> set[str]:
    """Every module `path` imports, at the top or inside a function, as full names."""
    found: set[str] = set()
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(tree(path)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            submodules = {f"{base}.{alias.name}" for alias in node.names if f"{base}.{alias.name}" in modules()}
            # `from package import module` imports the module; a name that is no module comes from `base` itself.
            found.update(submodules)
            if len(submodules) < len(node.names):
                found.add(base)
    return found


def internal_graph() -> dict[str, set[str]]:
    """The import graph between the application's own modules (a package's __init__ is its own node)."""
    known = modules()
    graph = {}
    for name, path in known.items():
        graph[name] = {target for target in imported(path) if target in known and target != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Return the strongly connected components with more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_cycle_finder_finds_a_circle_and_a_clean_graph_has_none():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set(), "c": {"a", "b"}}) == []


def test_no_import_circles():
    assert cycles(internal_graph()) == []


def test_the_graph_sees_imports_inside_functions():
    # rightsdb/__init__.py imports the web layer inside create_app: the walk must see it.
    assert "rightsdb.web" in internal_graph()["rightsdb"]


@pytest.mark.parametrize(
    "name",
    sorted(
        n
        for n in modules()
        if n.split(".")[1:2]
        and n.split(".")[1] in DOMAIN
        or n in ("rightsdb.db", "rightsdb.models", "rightsdb.errors", "rightsdb.config", "rightsdb.process")
    ),
)
def test_the_domain_never_imports_the_web_layer(name):
    path = modules()[name]
    bad = sorted(
        t
        for t in imported(path)
        if t.split(".")[0] in WEB_LIBRARIES or t == "coding_forms" or t.startswith(("coding_forms.", "rightsdb.web"))
    )
    assert bad == [], f"{path.relative_to(ROOT)} imports {', '.join(bad)}"


def test_nothing_but_the_app_factory_imports_the_web_layer():
    outside = {name: path for name, path in modules().items() if not name.startswith("rightsdb.web") and name != "rightsdb"}
    bad = {name: sorted(t for t in imported(path) if t.startswith("rightsdb.web")) for name, path in outside.items()}
    assert {name: targets for name, targets in bad.items() if targets} == {}


def string_constants(path: Path):
    for node in ast.walk(tree(path)):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            yield node


def test_only_the_rules_module_names_an_answer_code():
    rules = ROOT / "rightsdb" / "codebook" / "rules.py"
    named = [
        f"{p.relative_to(ROOT)}:{c.lineno} {c.value!r}"
        for p in source_files()
        if p != rules and "migrations" not in p.parts
        for c in string_constants(p)
        if c.value in ANSWER_CODES
    ]
    assert named == []
    assert {c.value for c in string_constants(rules)} >= set(ANSWER_CODES)


def test_templates_and_scripts_take_answer_codes_from_the_codebook():
    quoted = re.compile("['\"](" + "|".join(ANSWER_CODES) + ")['\"]")
    files = sorted((ROOT / "rightsdb" / "templates").rglob("*.html")) + sorted((ROOT / "rightsdb" / "static").rglob("*.js"))
    assert files
    named = [
        f"{p.relative_to(ROOT)}:{n}"
        for p in files
        for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
        if quoted.search(line)
    ]
    assert named == []


def test_the_answer_code_check_would_see_a_literal(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text('value = "conditional"\n', encoding="utf-8")
    assert [c.value for c in string_constants(sample)] == ["conditional"]


@pytest.mark.parametrize("path", source_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_module_is_longer_than_the_limit(path):
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{path.relative_to(ROOT)} has {lines} lines; split it by concern (README: Development layout)"


#: Reading the environment is configuration's job; the one other reader passes it on to pg_dump.
ENVIRONMENT_READERS = {"rightsdb/config.py", "rightsdb/ops/backup_postgres.py"}


def test_production_code_has_no_test_hooks():
    readers = sorted(
        str(p.relative_to(ROOT)) for p in source_files() if re.search(r"os\.environ|os\.getenv|getenv\(", p.read_text(encoding="utf-8"))
    )
    assert set(readers) <= ENVIRONMENT_READERS, readers
    hooks = [
        str(p.relative_to(ROOT))
        for p in source_files()
        if re.search(r"(?i)test hook|for (the )?tests? only|RIGHTSDB_\w*PAUSE", p.read_text(encoding="utf-8"))
    ]
    assert hooks == []


def comments_and_docstrings(path: Path):
    text = path.read_text(encoding="utf-8")
    for node in ast.walk(tree(path)):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            doc = ast.get_docstring(node, clean=False)
            if doc:
                yield node.lineno if not isinstance(node, ast.Module) else 1, doc
    for number, line in enumerate(text.splitlines(), 1):
        if "#" in line:
            comment = line.split("#", 1)[1]
            yield number, comment


#: A measured duration or speed-up: "0.4 s", "120 ms", "3-4 s", "3x faster", "10% less CPU".
FIGURE = re.compile(r"\b\d+(\.\d+)?(-\d+(\.\d+)?)? ?(ms|s|seconds?)\b|\b\d+(\.\d+)?x (faster|slower)\b|\b\d+% (less|more|faster|slower)\b")


def test_benchmark_figures_live_in_the_bench_readme_not_in_comments():
    found = [
        f"{p.relative_to(ROOT)}:{line}: {FIGURE.search(text).group(0)}"
        for p in source_files()
        for line, text in comments_and_docstrings(p)
        if FIGURE.search(text)
    ]
    assert found == []
    assert FIGURE.search("took 4.4 s at world scale") and FIGURE.search("about 10% less CPU") and not FIGURE.search("60-day window")


def test_process_wide_settings_are_made_in_one_module():
    process = ROOT / "rightsdb" / "process.py"
    touching = sorted(
        str(p.relative_to(ROOT))
        for p in source_files()
        if p != process and re.search(r"\bgc\.|sys\.meta_path|import gc\b", p.read_text(encoding="utf-8"))
    )
    assert touching == []
