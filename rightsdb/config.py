"""Settings: defaults in code, overridden by `RIGHTSDB_*` environment variables, then by a dict from tests."""

from __future__ import annotations

import os
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
    # Failed logins per account and per address within LOGIN_WINDOW_SECONDS before refusing (429).
    LOGIN_MAX_FAILURES: int = 5
    LOGIN_WINDOW_SECONDS: int = 900
    SQL_ECHO: bool = False
    # Build the default release's public cache on a background thread when a server process starts.
    WARM_CACHE: bool = False
    # Reverse proxies in front of the application whose X-Forwarded-* headers are trusted (0: none).
    TRUSTED_PROXIES: int = 0

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        """Build settings from `RIGHTSDB_`-prefixed environment variables."""
        environ = os.environ if environ is None else environ
        settings = cls()
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
                "(for example: python -c 'import secrets; print(secrets.token_hex(32))')"
            )
        if not 0 <= self.ALPHA_RED <= self.ALPHA_AMBER <= 1:
            raise ConfigError("RIGHTSDB_ALPHA_RED must be <= RIGHTSDB_ALPHA_AMBER, both between 0 and 1")
        if not 0 <= self.TRUSTED_PROXIES <= 5:
            raise ConfigError("RIGHTSDB_TRUSTED_PROXIES must be the number of reverse proxies in front of the application, 0 to 5")


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


def documented_settings() -> list[str]:
    """Return the environment variable names of every setting (the README documents each)."""
    return [f"RIGHTSDB_{f.name}" for f in fields(Settings)]
