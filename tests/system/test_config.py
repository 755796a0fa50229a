"""Settings: typed RIGHTSDB_* variables, production safety, and the README documenting every setting."""

from __future__ import annotations

import os
import re
from dataclasses import fields

import pytest

from rightsdb import create_app
from rightsdb.config import DEV_SECRET_KEY, PROJECT_ROOT, ConfigError, Settings, documented_settings

GOOD_KEY = "k" * 32


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    """Start every test without any RIGHTSDB_* variable from the calling shell."""
    for name in list(os.environ):
        if name.startswith("RIGHTSDB_"):
            monkeypatch.delenv(name)


def production_app(tmp_path, **overrides):
    config = {
        "ENV": "production",
        "SECRET_KEY": GOOD_KEY,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'p.sqlite'}",
        "EXPORTS_DIR": str(tmp_path / "exports"),
    }
    config.update(overrides)
    return create_app(config)


def test_defaults_without_environment():
    settings = Settings.from_env({})
    assert settings == Settings()
    assert settings.ENV == "development" and settings.SECRET_KEY == DEV_SECRET_KEY
    settings.check()


def test_environment_values_are_read_with_the_setting_types():
    settings = Settings.from_env(
        {
            "RIGHTSDB_SQL_ECHO": "yes",
            "RIGHTSDB_LOGIN_MAX_FAILURES": "7",
            "RIGHTSDB_ALPHA_RED": "0.5",
            "RIGHTSDB_DATABASE_URL": "postgresql+psycopg://db/x",
            "OTHER_SQL_ECHO": "1",
        }
    )
    assert settings.SQL_ECHO is True
    assert settings.LOGIN_MAX_FAILURES == 7 and type(settings.LOGIN_MAX_FAILURES) is int
    assert settings.ALPHA_RED == 0.5 and type(settings.ALPHA_RED) is float
    assert settings.DATABASE_URL == "postgresql+psycopg://db/x"


@pytest.mark.parametrize(
    ("raw", "expected"), [("1", True), ("TRUE", True), (" on ", True), ("0", False), ("no", False), ("off", False), ("", False)]
)
def test_boolean_words(raw, expected):
    assert Settings.from_env({"RIGHTSDB_SQL_ECHO": raw}).SQL_ECHO is expected


def test_float_setting_accepts_an_integer_text():
    assert Settings.from_env({"RIGHTSDB_ALPHA_AMBER": "1"}).ALPHA_AMBER == 1.0


@pytest.mark.parametrize(
    ("name", "raw", "fragment"),
    [
        ("RIGHTSDB_SQL_ECHO", "maybe", "RIGHTSDB_SQL_ECHO must be one of 1, true"),
        ("RIGHTSDB_LOGIN_MAX_FAILURES", "five", "RIGHTSDB_LOGIN_MAX_FAILURES must be a whole number, not 'five'"),
        ("RIGHTSDB_LOGIN_WINDOW_SECONDS", "1.5", "must be a whole number"),
        ("RIGHTSDB_ALPHA_RED", "high", "RIGHTSDB_ALPHA_RED must be a number, not 'high'"),
    ],
)
def test_badly_typed_values_name_the_variable(name, raw, fragment):
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({name: raw})
    assert fragment in str(caught.value)


def test_from_env_reads_the_process_environment(monkeypatch):
    monkeypatch.setenv("RIGHTSDB_LOGIN_WINDOW_SECONDS", "60")
    assert Settings.from_env().LOGIN_WINDOW_SECONDS == 60


@pytest.mark.parametrize("key", [DEV_SECRET_KEY, "short-key", "x" * 31])
def test_production_refuses_default_or_short_secret_key(key):
    settings = Settings.from_env({"RIGHTSDB_ENV": "production", "RIGHTSDB_SECRET_KEY": key})
    with pytest.raises(ConfigError) as caught:
        settings.check()
    assert "RIGHTSDB_SECRET_KEY" in str(caught.value) and "at least 32 characters" in str(caught.value)


def test_production_refuses_default_secret_key_at_app_creation(tmp_path):
    with pytest.raises(ConfigError, match="RIGHTSDB_SECRET_KEY"):
        production_app(tmp_path, SECRET_KEY=DEV_SECRET_KEY)


def test_development_accepts_the_default_secret_key():
    Settings.from_env({"RIGHTSDB_ENV": "development"}).check()


def test_production_sets_secure_cookies(tmp_path):
    app = production_app(tmp_path)
    try:
        assert app.config["SESSION_COOKIE_SECURE"] is True
        assert app.config["REMEMBER_COOKIE_SECURE"] is True
        assert app.config["SESSION_COOKIE_HTTPONLY"] is True and app.config["REMEMBER_COOKIE_HTTPONLY"] is True
        assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"
        assert app.config["DEBUG"] is False and not app.config.get("TESTING")
        assert app.config["SECRET_KEY"] == GOOD_KEY
    finally:
        app.extensions["rightsdb.engine"].dispose()


def test_development_does_not_require_https_cookies(tmp_path):
    app = production_app(tmp_path, ENV="development")
    try:
        assert not app.config.get("SESSION_COOKIE_SECURE")
    finally:
        app.extensions["rightsdb.engine"].dispose()


def test_environment_variables_reach_the_app(tmp_path, monkeypatch):
    monkeypatch.setenv("RIGHTSDB_ENV", "production")
    monkeypatch.setenv("RIGHTSDB_SECRET_KEY", GOOD_KEY)
    monkeypatch.setenv("RIGHTSDB_DATABASE_URL", f"sqlite:///{tmp_path / 'env.sqlite'}")
    monkeypatch.setenv("RIGHTSDB_LOGIN_MAX_FAILURES", "3")
    app = create_app()
    try:
        assert app.config["ENV"] == "production" and app.config["LOGIN_MAX_FAILURES"] == 3
        assert app.config["SESSION_COOKIE_SECURE"] is True
    finally:
        app.extensions["rightsdb.engine"].dispose()


@pytest.mark.parametrize("env", ["staging", "Production", ""])
def test_unknown_env_is_refused(env):
    with pytest.raises(ConfigError, match="RIGHTSDB_ENV must be development, production or testing"):
        Settings.from_env({"RIGHTSDB_ENV": env}).check()


@pytest.mark.parametrize(("red", "amber"), [("0.9", "0.8"), ("-0.1", "0.8"), ("0.5", "1.5")])
def test_reliability_thresholds_must_be_ordered_in_zero_one(red, amber):
    with pytest.raises(ConfigError, match="ALPHA_RED"):
        Settings.from_env({"RIGHTSDB_ALPHA_RED": red, "RIGHTSDB_ALPHA_AMBER": amber}).check()


def test_documented_settings_are_every_field_with_the_prefix():
    assert documented_settings() == [f"RIGHTSDB_{f.name}" for f in fields(Settings)]
    assert "RIGHTSDB_SECRET_KEY" in documented_settings()


def test_readme_documents_every_setting():
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(r"^## Configuration\s*$(.*?)(?=^## |\Z)", readme, flags=re.M | re.S)
    assert match, "README.md has no '## Configuration' section documenting the RIGHTSDB_* settings"
    section = match.group(1)
    missing = [name for name in documented_settings() if not re.search(rf"\b{name}\b", section)]
    assert missing == [], f"settings not documented under '## Configuration' in README.md: {missing}"
