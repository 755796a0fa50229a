"""The console command's foundation: `codebook check`, refusing to start on a bad codebook, `init-db`."""

from __future__ import annotations

import os
import re

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from rightsdb import create_app
from rightsdb.codebook import CodebookError, load_codebook
from rightsdb.config import PROJECT_ROOT
from rightsdb.db import make_engine
from rightsdb.ops.cli import main
from tests.conftest import DATA, TINY_CODEBOOK

BROKEN = DATA / "broken_codebooks"
TINY = DATA / "tiny_codebook.yaml"


@pytest.fixture(autouse=True)
def environment(monkeypatch, tmp_path):
    """No RIGHTSDB_* variable from the calling shell; a temporary database and exports directory."""
    for name in list(os.environ):
        if name.startswith("RIGHTSDB_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("RIGHTSDB_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.sqlite'}")
    monkeypatch.setenv("RIGHTSDB_EXPORTS_DIR", str(tmp_path / "exports"))
    return tmp_path


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def test_codebook_check_default_path_prints_each_category_and_totals(real_codebook):
    result = run("codebook", "check")
    assert result.exit_code == 0, result.output
    book = real_codebook
    assert f"{PROJECT_ROOT / 'indicators.yaml'}: codebook {book.codebook.id} version {book.version} is valid." in result.output
    for category in book.categories:
        count = len(book.indicators_by_category[category.id])
        assert re.search(rf"^\s+{category.id}\s+{re.escape(category.name)}\s+{count}$", result.output, re.M), category.id
    assert "17 categories, 65 indicators" in result.output


def test_codebook_check_follows_the_configured_path(monkeypatch):
    monkeypatch.setenv("RIGHTSDB_CODEBOOK_PATH", str(TINY))
    result = run("codebook", "check")
    assert result.exit_code == 0, result.output
    assert "2 categories, 3 indicators, schemes: binary, strict" in result.output


@pytest.mark.parametrize("name", sorted(p.stem for p in BROKEN.glob("*.yaml")))
def test_codebook_check_of_a_broken_file_prints_every_problem_with_file_and_line(name):
    path = BROKEN / f"{name}.yaml"
    with pytest.raises(CodebookError) as caught:
        load_codebook(path)
    result = run("codebook", "check", str(path))
    assert result.exit_code == 1
    assert f"{path}: {len(caught.value.problems)} problem(s):" in result.stderr
    for problem in caught.value.problems:
        assert problem.line is not None
        assert f"  {path}:{problem.line}: " in result.stderr
        assert f"  {problem}\n" in result.stderr
    assert "is valid" not in result.output


def test_codebook_check_of_a_missing_file_fails(tmp_path):
    result = run("codebook", "check", str(tmp_path / "absent.yaml"))
    assert result.exit_code == 1
    assert "cannot read the file" in result.stderr


def test_create_app_refuses_a_bad_codebook(tmp_path):
    with pytest.raises(CodebookError) as caught:
        create_app({"ENV": "testing", "CODEBOOK_PATH": str(BROKEN / "scheme_missing_score.yaml")})
    assert "answer 'conditional' has no score" in str(caught.value)


def test_cli_refuses_to_start_on_a_bad_codebook(monkeypatch, tmp_path):
    path = BROKEN / "three_errors.yaml"
    monkeypatch.setenv("RIGHTSDB_CODEBOOK_PATH", str(path))
    result = run("init-db")
    assert result.exit_code == 2
    assert "The codebook is not valid; the application cannot start:" in result.stderr
    assert result.stderr.count(f"  {path}:") == 3
    assert not (tmp_path / "cli.sqlite").exists()


def test_cli_refuses_to_start_on_an_unsafe_configuration(monkeypatch, tmp_path):
    monkeypatch.setenv("RIGHTSDB_ENV", "production")
    result = run("init-db")
    assert result.exit_code == 2
    assert "The configuration is not valid" in result.stderr and "RIGHTSDB_SECRET_KEY" in result.stderr
    assert not (tmp_path / "cli.sqlite").exists()


def test_init_db_creates_the_schema_and_loads_real_countries(tmp_path):
    result = run("init-db")
    assert result.exit_code == 0, result.output
    engine = make_engine(f"sqlite:///{tmp_path / 'cli.sqlite'}")
    try:
        with engine.connect() as connection:
            assert "alembic_version" in sa.inspect(connection).get_table_names()
            count = connection.exec_driver_sql("SELECT count(*) FROM countries").scalar()
            kosovo = connection.exec_driver_sql("SELECT name, synthetic FROM countries WHERE iso3 = 'XKX'").one()
            synthetic = connection.exec_driver_sql("SELECT count(*) FROM countries WHERE synthetic").scalar()
    finally:
        engine.dispose()
    assert count > 240
    assert tuple(kosovo) == ("Kosovo", 0)
    assert synthetic == 0
    assert f"({count} countries added)" in result.output

    again = run("init-db")
    assert again.exit_code == 0, again.output
    assert "(0 countries added)" in again.output


def _demo_users(tmp_path) -> list[str]:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'cli.sqlite'}")
    try:
        with engine.connect() as connection:
            return sorted(connection.exec_driver_sql("SELECT email FROM users").scalars())
    finally:
        engine.dispose()


def test_demo_refuses_outside_development_unless_forced(monkeypatch, tmp_path):
    monkeypatch.setenv("RIGHTSDB_ENV", "production")
    monkeypatch.setenv("RIGHTSDB_SECRET_KEY", "a-production-secret-key-that-is-long-enough-0123")
    monkeypatch.setenv("RIGHTSDB_CODEBOOK_PATH", str(TINY_CODEBOOK))
    refused = run("demo")
    assert refused.exit_code == 1
    assert "RIGHTSDB_ENV=development" in refused.stderr and "--force" in refused.stderr
    assert "Demo logins" not in refused.output
    assert _demo_users(tmp_path) == []  # the schema may exist; no account was added
    forced = run("demo", "--force")
    assert forced.exit_code == 0, forced.output
    assert "admin@demo.rightsdb.org" in _demo_users(tmp_path)


def test_demo_never_loads_beside_real_users(monkeypatch, tmp_path):
    monkeypatch.setenv("RIGHTSDB_CODEBOOK_PATH", str(TINY_CODEBOOK))
    assert run("init-db").exit_code == 0
    added = CliRunner().invoke(
        main,
        ["users", "add", "lead@university.example", "--name", "Lead", "--role", "admin"],
        input="a-long-password-1\na-long-password-1\n",
    )
    assert added.exit_code == 0, added.output
    for arguments in (["demo"], ["demo", "--force"]):
        refused = run(*arguments)
        assert refused.exit_code == 1 and "not demo accounts" in refused.stderr, refused.output
    assert _demo_users(tmp_path) == ["lead@university.example"]
