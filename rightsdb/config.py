"""Settings: defaults in code, overridden by `RIGHTSDB_*` environment variables, then by a dict from tests."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, fields
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEV_SECRET_KEY = "dev-only-insecure-secret-key"


class ConfigError(Exception):
    """The configuration cannot be used (for example the default secret key in production)."""


@dataclass
class Settings:
    """Every setting the application reads; each one can be set as `RIGHTSDB_<NAME>`."""

    ENV: str = "development"  # development | production | testing
    SECRET_KEY: str = DEV_SECRET_KEY
    DATABASE_URL: str = f"sqlite:///{PROJECT_ROOT / 'instance' / 'rightsdb.sqlite'}"
    CODEBOOK_PATH: str = str(PROJECT_ROOT / "indicators.yaml")
    EXPORTS_DIR: str = str(PROJECT_ROOT / "exports")
    # Reliability thresholds for Krippendorff's alpha: below RED is red, below AMBER is amber.
    ALPHA_RED: float = 0.667
    ALPHA_AMBER: float = 0.8
    # Failed logins within LOGIN_WINDOW_SECONDS before refusing (429): per account from browsers it has
    # not signed in from, and per trusted browser (device cookie); per client address (higher: NAT).
    LOGIN_MAX_FAILURES: int = 5
    LOGIN_MAX_ADDRESS_FAILURES: int = 30
    LOGIN_WINDOW_SECONDS: int = 900
    SQL_ECHO: bool = False
    # Build the default release's public cache on a background thread when a server process starts.
    WARM_CACHE: bool = False
    # Reverse proxies in front of the application whose X-Forwarded-* headers are trusted (0: none).
    TRUSTED_PROXIES: int = 0
    # A signed-in user idle for longer is signed out at the next request (0: never).
    IDLE_TIMEOUT_MINUTES: int = 60
    # The address the public reaches the application at (https://data.example.org); the API's paging
    # links start with it. Unset: the links are relative to the site's root, never built from the Host header.
    PUBLIC_URL: str = ""
    # `rightsdb import` refuses larger files before reading them: the file's size in bytes, its data lines,
    # and for a workbook what its zip members unpack to (as the zip directory declares) and how far one member
    # may be compressed (x to 1). A world-sized round (200 countries, 65 indicators, 1-3 citations) is far below.
    IMPORT_MAX_BYTES: int = 100 * 1024 * 1024
    IMPORT_MAX_ROWS: int = 200_000
    IMPORT_MAX_UNCOMPRESSED_BYTES: int = 200 * 1024 * 1024
    IMPORT_MAX_COMPRESSION_RATIO: int = 100

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **defaults: object) -> Settings:
        """Build settings from `RIGHTSDB_`-prefixed environment variables, over `defaults` and the code's own."""
        environ = os.environ if environ is None else environ
        settings = cls(**defaults)  # type: ignore[arg-type]
        for field in fields(cls):
            raw = environ.get(f"RIGHTSDB_{field.name}")
            if raw is None:
                continue
            setattr(settings, field.name, _convert(f"RIGHTSDB_{field.name}", raw, getattr(settings, field.name)))
        return settings

    def check(self) -> None:
        """Refuse settings that are unsafe outside development."""
        if self.ENV not in ("development", "production", "testing"):
            raise ConfigError(f"RIGHTSDB_ENV must be development, production or testing, not {self.ENV!r}")
        if self.ENV == "production" and (self.SECRET_KEY == DEV_SECRET_KEY or len(self.SECRET_KEY) < 32):
            raise ConfigError(
                "RIGHTSDB_SECRET_KEY must be set to a random value of at least 32 characters in production "
                "(for example: python -c 'import secrets; print(secrets.token_hex(32))'); a WSGI server such as "
                "gunicorn runs in production unless RIGHTSDB_ENV says otherwise"
            )
        if not 0 <= self.ALPHA_RED <= self.ALPHA_AMBER <= 1:
            raise ConfigError("RIGHTSDB_ALPHA_RED must be <= RIGHTSDB_ALPHA_AMBER, both between 0 and 1")
        if not 0 <= self.TRUSTED_PROXIES <= 5:
            raise ConfigError("RIGHTSDB_TRUSTED_PROXIES must be the number of reverse proxies in front of the application, 0 to 5")
        if self.IDLE_TIMEOUT_MINUTES < 0:
            raise ConfigError("RIGHTSDB_IDLE_TIMEOUT_MINUTES must be a number of minutes, or 0 to never sign idle users out")
        if self.PUBLIC_URL and not re.fullmatch(r"https?://[^/?#\s]+(/[^?#\s]*)?", self.PUBLIC_URL):
            raise ConfigError(f"RIGHTSDB_PUBLIC_URL must be the site's address such as https://data.example.org, not {self.PUBLIC_URL!r}")
        for name in ("IMPORT_MAX_BYTES", "IMPORT_MAX_ROWS", "IMPORT_MAX_UNCOMPRESSED_BYTES", "IMPORT_MAX_COMPRESSION_RATIO"):
            if getattr(self, name) < 1:
                raise ConfigError(f"RIGHTSDB_{name} must be at least 1 (it limits what `rightsdb import` reads)")
        for name in ("LOGIN_MAX_FAILURES", "LOGIN_MAX_ADDRESS_FAILURES", "LOGIN_WINDOW_SECONDS"):
            if getattr(self, name) < 1:
                raise ConfigError(f"RIGHTSDB_{name} must be at least 1 (0 would refuse every sign-in)")


_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off", "")


def _convert(name: str, raw: str, default: object) -> object:
    """Convert an environment value to the type of the setting's default, or say which variable is wrong."""
    # bool before int: bool is a subclass of int.
    if isinstance(default, bool):
        word = raw.strip().lower()
        if word not in _TRUE + _FALSE:
            raise ConfigError(f"{name} must be one of {', '.join(_TRUE + _FALSE[:-1])}, not {raw!r}")
        return word in _TRUE
    try:
        if isinstance(default, int):
            return int(raw)
        if isinstance(default, float):
            return float(raw)
    except ValueError:
        kind = "a whole number" if isinstance(default, int) else "a number"
        raise ConfigError(f"{name} must be {kind}, not {raw!r}") from None
    return raw


def server_default_env(environ: dict[str, str] | None = None) -> str:
    """Return the ENV of an app whose environment sets no RIGHTSDB_ENV: production, but development under `flask run`.

    A WSGI server (gunicorn's `rightsdb:create_app()`) is a deployment unless told otherwise, so it refuses
    the development secret key. Flask's own command sets FLASK_RUN_FROM_CLI: its server is a development one.
    """
    environ = os.environ if environ is None else environ
    return "development" if environ.get("FLASK_RUN_FROM_CLI") == "true" else "production"


def documented_settings() -> list[str]:
    """Return the environment variable names of every setting (the README documents each)."""
    return [f"RIGHTSDB_{f.name}" for f in fields(Settings)]
