"""Blueprint registration, security headers and template helpers shared by every page."""

from __future__ import annotations

from flask import Flask, current_app
from flask_login import current_user

from .codebook import Codebook

# Pages satisfy this policy: no inline scripts or styles, nothing from other hosts.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)


def get_codebook() -> Codebook:
    """Return the application's validated codebook."""
    return current_app.extensions["rightsdb.codebook"]


def _security_headers(response):
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if current_app.config.get("ENV") == "production":
        response.headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
    return response


def _template_context():
    book = get_codebook()
    return {"codebook": book, "current_user": current_user}


def init_app(app: Flask) -> None:
    """Register every blueprint and the shared page helpers."""
    from .views import admin, api, auth, coder, public, releases, supervisor

    for module in (auth, coder, supervisor, admin, public, api, releases):
        app.register_blueprint(module.bp)
    app.after_request(_security_headers)
    app.context_processor(_template_context)

    @app.template_filter("answer_label")
    def answer_label(code: str | None) -> str:
        return get_codebook().answer_labels.get(code or "", "Not answered")

    @app.template_filter("group_label")
    def group_label(code: str) -> str:
        return get_codebook().group_labels.get(code, code)

    @app.template_filter("instrument_label")
    def instrument_label(code: str) -> str:
        return get_codebook().instrument_labels.get(code, code)

    @app.template_filter("pct")
    def pct(value: float | None, digits: int = 1) -> str:
        return "–" if value is None else f"{value * 100:.{digits}f}%"
