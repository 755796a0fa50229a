"""rightsdb: a migrant rights legal coding database (Flask application factory)."""

from __future__ import annotations

import gc
from dataclasses import asdict
from typing import Any

from flask import Flask, render_template
from flask_wtf.csrf import CSRFProtect

from . import db
from .codebook import load_codebook
from .config import Settings

csrf = CSRFProtect()


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Create the application: settings, codebook, database, login, CSRF and the role blueprints."""
    app = Flask(__name__, instance_relative_config=False)
    settings = Settings.from_env()
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
        # X-Forwarded-* headers (absolute API links, secure cookies, the per-address login limit).
        from werkzeug.middleware.proxy_fix import ProxyFix

        hops = settings.TRUSTED_PROXIES
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops, x_prefix=hops)  # type: ignore[method-assign]

    # Refuse to start on a bad codebook: CodebookError names the file, line and indicator.
    app.extensions["rightsdb.codebook"] = load_codebook(settings.CODEBOOK_PATH)

    db.init_app(app)
    csrf.init_app(app)
    app.extensions["rightsdb.release_cache"] = {}
    if settings.WARM_CACHE:
        from .release_catalog import warm

        app.extensions["rightsdb.warm_thread"] = warm(
            engine=app.extensions["rightsdb.engine"], codebook=app.extensions["rightsdb.codebook"], cache=app.extensions["rightsdb.release_cache"])

    from . import auth, web

    auth.init_app(app)
    web.init_app(app)

    @app.errorhandler(403)
    def forbidden(_error):
        return render_template("error.html", code=403, message="You do not have access to this page."), 403

    @app.errorhandler(404)
    def not_found(_error):
        return render_template("error.html", code=404, message="There is nothing at this address."), 404

    @app.errorhandler(429)
    def too_many(_error):
        return render_template("error.html", code=429, message="Too many attempts. Wait a few minutes and try again."), 429

    if settings.ENV != "testing":
        freeze_startup_objects()
    return app


def freeze_startup_objects() -> None:
    """Move the objects alive after start-up (modules, codebook, forms, templates) out of the collector's reach.

    They live as long as the process, yet every full collection walked all ~190,000 of them again: a
    pause of about 100 ms in a random request under load. Frozen (`gc.freeze`), they are never
    scanned; reference counting still frees them. Not done for tests, which create many apps in one
    process and would keep the cycles of every one of them.
    """
    gc.collect()
    gc.freeze()
