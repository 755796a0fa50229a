"""rightsdb: a migrant rights legal coding database (Flask application factory)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from flask import Flask
from flask_wtf.csrf import CSRFProtect

from rightsdb import db, process
from rightsdb.codebook import load_codebook
from rightsdb.config import Settings, server_default_env

csrf = CSRFProtect()


def create_app(test_config: dict[str, Any] | None = None, *, server: bool = True, default_env: str | None = None) -> Flask:
    """Create the application: settings, codebook, database, login, CSRF and the role blueprints.

    `server` is False for the `rightsdb` commands other than `serve`: only a process that serves
    requests warms the release cache and clears dead builds' folders as it starts. `default_env` is
    the ENV when RIGHTSDB_ENV is not set: production for a WSGI server (gunicorn's
    `rightsdb:create_app()`), development for the `rightsdb` command and `flask run`.
    """
    app = Flask(__name__, instance_relative_config=False)
    settings = Settings.from_env(ENV=default_env or server_default_env())
    for key, value in (test_config or {}).items():
        setattr(settings, key, value)
    settings.check()
    app.config.update(asdict(settings))
    app.config.update(
        WTF_CSRF_TIME_LIMIT=None,  # a coder's form may stay open for a whole working session
        MAX_CONTENT_LENGTH=20 * 1024 * 1024,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
    )
    if settings.ENV == "production":
        app.config.update(SESSION_COOKIE_SECURE=True, REMEMBER_COOKIE_SECURE=True, DEBUG=False)
    if settings.ENV == "testing":
        app.config["TESTING"] = True
    for key, value in (test_config or {}).items():
        app.config[key] = value

    if settings.TRUSTED_PROXIES:
        # Behind TLS-terminating proxies: take the client's address, scheme and host from their
        # X-Forwarded-* headers (secure cookies, the per-address login limit).
        from werkzeug.middleware.proxy_fix import ProxyFix

        hops = settings.TRUSTED_PROXIES
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops, x_prefix=hops)  # type: ignore[method-assign]

    # Refuse to start on a bad codebook: CodebookError names the file, line and indicator.
    app.extensions["rightsdb.codebook"] = load_codebook(settings.CODEBOOK_PATH)

    db.init_app(app)
    csrf.init_app(app)
    # Imported here, like the web layer below: the catalog brings pyarrow, which the command line,
    # the migrations and the bench do not all need.
    from rightsdb.public.catalog import catalog_cache, warm

    app.extensions["rightsdb.release_cache"] = catalog_cache()
    if server:
        from rightsdb.publishing.staging import remove_stale_builds

        remove_stale_builds(settings.EXPORTS_DIR)
    if settings.WARM_CACHE and server:
        app.extensions["rightsdb.warm_thread"] = warm(
            engine=app.extensions["rightsdb.engine"],
            codebook=app.extensions["rightsdb.codebook"],
            cache=app.extensions["rightsdb.release_cache"],
        )

    # Imported here, not at the top: `import rightsdb.models` (the CLI, migrations, the bench) must not
    # pull in every blueprint and, through them, pandas, matplotlib and pygal.
    from rightsdb import web

    web.init_app(app)

    if settings.ENV != "testing":
        process.freeze_startup_objects()
    return app
