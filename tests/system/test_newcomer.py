"""What a newcomer meets first (issue 14, item 11): make's targets, the venv, the test summary, the bench's
exit status, CI's wait for PostgreSQL, the README's API example and the words for a coding's state.

The Makefile is run with GNU make in a temporary copy of its context (Makefile, pyproject.toml, constraints.txt), with
fake interpreters; nothing is installed and the project's own .venv and database are never touched.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from sqlmodel import Session, select

from rightsdb.models import Assignment, CountryRound, Round, User
from rightsdb.ops.demo import load_demo
from rightsdb.review.progress import CODING_LABELS
from tests.conftest import login, make_app

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
OLD_PYTHON = '#!/bin/sh\necho "Python 3.9.18"\n'


def _clean_env(**extra: str) -> dict[str, str]:
    """The environment without anything that would change what make or pytest does here."""
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHON", "CONFIRM", "MAKEFLAGS", "MAKELEVEL", "MFLAGS", "PYTEST_ADDOPTS"}}
    env.update(extra)
    return env


@pytest.fixture
def context(tmp_path) -> Path:
    """A temporary copy of what the Makefile reads."""
    shutil.copy(ROOT / "Makefile", tmp_path / "Makefile")
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    shutil.copy(ROOT / "constraints.txt", tmp_path / "constraints.txt")
    return tmp_path


def make(folder: Path, *args: str, stdin: str = "", **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["make", "--no-print-directory", "-C", str(folder), *args],
        capture_output=True,
        text=True,
        input=stdin,
        env=_clean_env(**env),
        timeout=60,
    )


def _venv(folder: Path, python: str | Path) -> None:
    """Make `.venv` with bin/python (a script's text, or a symlink to a path) and an up-to-date install stamp."""
    bin_dir = folder / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    if isinstance(python, Path):
        (bin_dir / "python").symlink_to(python)
    else:
        (bin_dir / "python").write_text(python)
        (bin_dir / "python").chmod(0o755)
    stamp = folder / ".venv" / ".installed-stamp"
    stamp.touch()
    later = max((folder / name).stat().st_mtime for name in ("pyproject.toml", "constraints.txt")) + 60
    os.utime(stamp, (later, later))  # newer than pyproject.toml and constraints.txt: only the venv check can make install run


def _plan(result: subprocess.CompletedProcess) -> list[str]:
    return result.stdout.splitlines()


@pytest.mark.parametrize(
    "python, problem",
    [
        (OLD_PYTHON, ".venv/bin/python is Python 3.9, rightsdb needs 3.11 or later"),
        (Path("/nonexistent/python3.11"), ".venv/bin/python does not run"),
    ],
    ids=["python-3.9", "broken-python"],
)
def test_make_recreates_a_venv_whose_python_is_too_old_or_broken(context, python, problem):
    _venv(context, python)
    checked = make(context, "check-venv")
    assert checked.returncode != 0
    assert f"{problem}: make install (or run, test, ...) will recreate .venv" in checked.stdout

    plan = _plan(make(context, "-n", "install", f"PYTHON={sys.executable}"))
    message = next(i for i, line in enumerate(plan) if problem in line and "recreating .venv" in line)
    removal = plan.index("rm -rf .venv")
    creation = plan.index(f"{sys.executable} -m venv .venv")
    assert message < removal < creation
    assert plan[-1] == "touch .venv/.installed-stamp"


def test_make_keeps_a_venv_with_a_good_python(context):
    _venv(context, Path(sys.executable))
    assert make(context, "check-venv").stdout.strip() == f".venv/bin/python is Python {sys.version_info[0]}.{sys.version_info[1]}: usable"
    planned = make(context, "-n", "install", f"PYTHON={sys.executable}")
    assert "rm -rf" not in planned.stdout and "-m venv" not in planned.stdout
    assert "Nothing to be done for 'install'" in planned.stdout


def test_make_refuses_to_create_the_venv_with_an_old_python(context):
    old = context / "python3.9"
    old.write_text(OLD_PYTHON)
    old.chmod(0o755)
    result = make(context, "install", f"PYTHON={old}")
    assert result.returncode != 0
    assert f"{old} is Python 3.9; rightsdb needs 3.11 or later: make PYTHON=/path/to/python3.11" in result.stdout
    assert not (context / ".venv").exists()


def test_makefile_minimum_python_is_pyprojects_requires_python():
    makefile = (ROOT / "Makefile").read_text()
    pyproject = (ROOT / "pyproject.toml").read_text()
    minimum = re.search(r"^PYTHON_MIN := (\S+)$", makefile, re.M).group(1)
    assert re.search(r'^requires-python = ">=(\S+)"$', pyproject, re.M).group(1) == minimum


def test_the_first_install_says_what_it_does_and_shows_pips_progress(context):
    plan = _plan(make(context, "-n", "install", f"PYTHON={sys.executable}"))
    announce = plan.index('echo "Installing rightsdb and its dependencies into .venv (first run: about 2 minutes)"')
    installs = [i for i, line in enumerate(plan) if "pip install" in line]
    assert len(installs) == 2 and announce < installs[0]
    for i in installs:
        assert not re.search(r"\s(-q|--quiet)\b", plan[i]), plan[i]


def _make_targets() -> set[str]:
    makefile = (ROOT / "Makefile").read_text()
    rules = {m.group(1) for m in re.finditer(r"^([A-Za-z][\w-]*):(?!=)", makefile, re.M)}
    phony = set(re.search(r"^\.PHONY: (.*)$", makefile, re.M).group(1).split())
    assert rules == phony, "every rule named in .PHONY and the other way round"
    return rules - {"FORCE"}


def test_every_make_target_is_in_make_help_and_the_readme(context):
    targets = _make_targets()
    assert {"run", "test", "clean", "clean-db", "install", "demo", "bench", "help"} <= targets
    helped = make(context, "help")
    assert helped.returncode == 0
    listed = {m.group(1) for m in re.finditer(r"^make ([\w-]+)\s", helped.stdout, re.M)}
    readme = README.read_text(encoding="utf-8")
    in_readme = set(re.findall(r"^\| `make ([\w-]+)` \|", readme, re.M))
    assert listed == targets
    assert in_readme == targets
    # HOST and PORT, which `make run` takes, are named in both.
    assert "HOST=" in helped.stdout and "PORT=" in helped.stdout
    run_row = next(line for line in readme.splitlines() if line.startswith("| `make run` |"))
    assert "`HOST`" in run_row and "`PORT`" in run_row


def test_make_clean_removes_artefacts_but_never_the_database(context):
    for folder in (".venv/bin", ".pytest_cache", ".hypothesis", ".ruff_cache", "test-output/screenshots", "pkg/__pycache__", "instance"):
        (context / folder).mkdir(parents=True)
    (context / "instance" / "rightsdb.sqlite").write_bytes(b"the data")
    assert make(context, "clean").returncode == 0
    for folder in (".venv", ".pytest_cache", ".hypothesis", ".ruff_cache", "test-output", "pkg/__pycache__"):
        assert not (context / folder).exists(), folder
    assert (context / "instance" / "rightsdb.sqlite").read_bytes() == b"the data"


@pytest.fixture
def database(context) -> Path:
    (context / "instance").mkdir()
    for suffix in ("", "-wal", "-shm"):
        (context / "instance" / f"rightsdb.sqlite{suffix}").write_bytes(b"the data")
    return context / "instance" / "rightsdb.sqlite"


@pytest.mark.parametrize("stdin", ["", "no\n", "y\n"], ids=["no-answer", "no", "y"])
def test_make_clean_db_deletes_nothing_without_a_yes(context, database, stdin):
    result = make(context, "clean-db", stdin=stdin)
    assert result.returncode != 0
    assert "Delete the database instance/rightsdb.sqlite and everything in it? Type yes to delete:" in result.stdout
    assert "Nothing deleted (answer yes, or run make clean-db CONFIRM=yes)." in result.stdout
    assert database.read_bytes() == b"the data"


@pytest.mark.parametrize("how", ["answer", "CONFIRM"])
def test_make_clean_db_deletes_the_default_database_when_confirmed(context, database, how):
    result = make(context, "clean-db", stdin="yes\n") if how == "answer" else make(context, "clean-db", CONFIRM="yes")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Deleted instance/rightsdb.sqlite" in result.stdout
    assert list((context / "instance").iterdir()) == []
    assert ("Type yes" in result.stdout) == (how == "answer")


def _pytest(*args: str, **env: str) -> subprocess.CompletedProcess:
    environment = _clean_env(**env)
    environment.pop("RIGHTSDB_TEST_POSTGRES_URL", None)
    if "RIGHTSDB_TEST_REQUIRE_ALL" not in env:
        environment.pop("RIGHTSDB_TEST_REQUIRE_ALL", None)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=environment,
        timeout=300,
    )


def test_without_postgresql_the_summary_has_one_line_for_every_skipped_variant_and_ci_still_fails():
    # One run under CI's rule (the summary is the same without it, which only changes the exit status).
    result = _pytest("tests/web/test_smoke.py", RIGHTSDB_TEST_REQUIRE_ALL="1")
    lines = result.stdout.splitlines()
    skipped = int(re.search(r"(\d+) skipped", lines[-1]).group(1))
    assert skipped >= 2  # several PostgreSQL variants, from different tests
    assert [line for line in lines if "PostgreSQL" in line] == [
        f"SKIPPED [{skipped}] tests/conftest.py: PostgreSQL tests skipped: set RIGHTSDB_TEST_POSTGRES_URL (CI sets it; .ci/run uses 127.0.0.1:5432)"
    ]
    assert len([line for line in lines if line.startswith("SKIPPED")]) == 1
    assert result.returncode == 1
    assert f"RIGHTSDB_TEST_REQUIRE_ALL: {skipped} test(s) were skipped; CI requires every test to run." in result.stdout


def test_bench_exits_1_when_a_check_fails_or_cannot_be_measured_and_0_when_all_pass(monkeypatch, capsys):
    import bench.run as bench

    args = ["--quick", "--requests", "1", "--no-tracemalloc", "--no-breakdown"]
    for target in ("RELEASE_SECONDS", "RELEASE_RATIO", "RELEASE_BYTES", "PAGE_MEDIAN_MS", "PAGE_P95_MS"):
        monkeypatch.setattr(bench, target, float("inf"))
    assert bench.main(args) == 0
    lines = capsys.readouterr().out.splitlines()
    assert not [line for line in lines if line.endswith("FAIL") or "not available" in line]
    assert lines[-1] == "bench: every check passed"

    # Impossible page targets, and a release build that breaks.
    monkeypatch.setattr(bench, "PAGE_MEDIAN_MS", 0.0)

    def broken(*_args, **_kwargs):
        raise RuntimeError("the release build broke")

    monkeypatch.setattr(bench, "build_release", broken)
    assert bench.main(args) == 1
    lines = capsys.readouterr().out.splitlines()
    assert "release build: not available (RuntimeError: the release build broke)" in lines
    failed_pages = [line.split(" (/")[0] for line in lines if line.endswith("FAIL")]
    assert len(failed_pages) == 4  # the coder's form, two reconciliation views, the board
    unpublished = [line.split(":")[0] for line in lines if line.endswith("not available (no published release)")]
    assert len(unpublished) == 5
    assert lines[-1] == f"bench: {1 + 4 + 5} check(s) failed: " + "; ".join(["release build", *failed_pages, *unpublished])


def _fake_ci(tmp_path: Path, pg_isready_status: int) -> Path:
    """A copy of .ci/run beside a Makefile stub, with a pg_isready that always exits with this status."""
    (tmp_path / ".ci").mkdir()
    shutil.copy(ROOT / ".ci" / "run", tmp_path / ".ci" / "run")
    (tmp_path / "Makefile").write_text("lint test:\n\t@echo 'make $@ ran'\n")
    (tmp_path / "bin").mkdir()
    fake = tmp_path / "bin" / "pg_isready"
    fake.write_text(f"#!/bin/sh\nexit {pg_isready_status}\n")
    fake.chmod(0o755)
    return tmp_path


def _ci(folder: Path, **env: str) -> subprocess.CompletedProcess:
    environment = _clean_env(
        PATH=f"{folder / 'bin'}:{os.environ['PATH']}",
        RIGHTSDB_CHROMIUM="/bin/sh",  # any executable: .ci/run installs Chromium only when it is missing
        RIGHTSDB_TEST_POSTGRES_URL="postgresql+psycopg://postgres@127.0.0.2:6543/none",  # never started by .ci/run
        **env,
    )
    return subprocess.run(["bash", str(folder / ".ci" / "run")], capture_output=True, text=True, env=environment, timeout=60)


def test_ci_stops_with_one_message_when_postgresql_never_answers(tmp_path):
    result = _ci(_fake_ci(tmp_path, 2), PG_WAIT_SECONDS="0")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        ".ci/run: PostgreSQL at 127.0.0.2:6543 is not accepting connections after 0 s; start it (pg_ctlcluster ... main start) "
        "or set RIGHTSDB_TEST_POSTGRES_URL to one that runs."
    ]
    assert "ran" not in result.stdout  # neither make lint nor make test


def test_ci_runs_lint_and_tests_once_postgresql_answers(tmp_path):
    result = _ci(_fake_ci(tmp_path, 0), PG_WAIT_SECONDS="0")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["PostgreSQL at 127.0.0.2:6543 is ready.", "make lint ran", "make test ran"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The demonstration data on SQLite, loaded once for this module's read-only tests."""
    base = tmp_path_factory.mktemp("demo")
    app = make_app(f"sqlite:///{base / 'demo.sqlite'}", base)
    with Session(app.extensions["rightsdb.engine"], expire_on_commit=False) as session:
        load_demo(session=session, codebook=app.extensions["rightsdb.codebook"], app_config=app.config)
        session.commit()
    yield app
    app.extensions["rightsdb.engine"].dispose()


def _shape(value):
    """The keys of every object and the types of every value, recursively (lists: their items' shapes)."""
    if isinstance(value, dict):
        return {key: _shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_shape(item) for item in value]
    return type(value).__name__


def test_readme_matrix_example_is_a_real_response(demo):
    readme = README.read_text(encoding="utf-8")
    found = re.search(r"`GET (/api/v1/matrix\?[^`]+)` on the demo data.*?```json\n(.*?)```", readme, re.S)
    assert found, "the README's /api/v1/matrix example"
    url, example = found.group(1), json.loads(found.group(2))
    response = demo.test_client().get(url)
    assert response.status_code == 200
    real = response.get_json()
    assert _shape(example) == _shape(real)
    assert example["matrix"] == real["matrix"]  # the demo data is fixed: the values shown are the real ones
    assert example["notice"] == real["notice"]
    row = re.search(r"^\| `/api/v1/matrix` \| (.*?) \|", readme, re.M).group(1)
    assert "matrix: {columns, rows: [{" in row and all(key in row for key in real["matrix"]["rows"][0])


def _rows(html: str) -> list[tuple[str, list[tuple[str, str]]]]:
    """Every table row: its HTML and its cells as (HTML, text)."""
    rows = []
    for chunk in html.split("<tr")[1:]:
        chunk = chunk.split("</tr>")[0]
        cells = ["<td" + c for c in chunk.split("<td")[1:]]
        rows.append((chunk, [(c, " ".join(re.sub(r"<[^>]+>", " ", c).split())) for c in cells]))
    return rows


def test_the_board_and_the_coders_page_use_the_same_words_for_each_coding(demo):
    with Session(demo.extensions["rightsdb.engine"]) as session:
        codings = session.exec(
            select(User, Round.id, Round.name, CountryRound.country_iso3, Assignment.slot)
            .join(Assignment, Assignment.coder_id == User.id)
            .join(CountryRound, CountryRound.id == Assignment.country_round_id)
            .join(Round, Round.id == CountryRound.round_id)
        ).all()
        session.expunge_all()
    supervisor = demo.test_client()
    with Session(demo.extensions["rightsdb.engine"]) as session:
        login(supervisor, session.exec(select(User).where(User.role == "supervisor")).first())

    on_board: dict[tuple[str, str, str], str] = {}
    for round_id, round_name in {(r_id, r_name) for _u, r_id, r_name, _i, _s in codings}:
        html = supervisor.get(f"/supervisor/?round={round_id}").get_data(as_text=True)
        table = html.split('<section class="round-block"', 1)[1]
        for _html, cells in _rows(table):
            if len(cells) != 5:
                continue
            iso3 = re.search(r"\b(X[A-Z]{2})\b", cells[0][1]).group(1)
            for slot, (cell, _text) in zip("AB", cells[2:4]):
                on_board[(round_name, iso3, slot)] = re.search(r'class="badge coding-[a-z_]+[^"]*">([^<]+)</span>', cell).group(1)

    on_coder_page: dict[tuple[str, str, str], str] = {}
    for user in {u.id: u for u, *_rest in codings}.values():
        html = login(demo.test_client(), user).get("/coder/").get_data(as_text=True)
        slots = {(r, i): s for u, _id, r, i, s in codings if u.id == user.id}
        for _html, cells in _rows(html):
            if len(cells) != 7:
                continue
            iso3 = re.search(r"\b(X[A-Z]{2})\b", cells[0][1]).group(1)
            round_name = cells[1][1]
            on_coder_page[(round_name, iso3, slots[(round_name, iso3)])] = cells[3][1]

    assert len(on_coder_page) == len(codings)
    assert on_board == on_coder_page
    # The demo has codings in every state: the board and the coder's page agree on each word.
    assert set(on_board.values()) == set(CODING_LABELS.values()) == {"Not started", "In progress", "Submitted"}
