"""Blueprint registration, security headers and template helpers shared by every page."""

from __future__ import annotations

from flask import Flask, abort, current_app, request
from flask_login import current_user
from werkzeug.routing import IntegerConverter

from .codebook import Codebook

# Pages satisfy this policy: no inline scripts or styles, nothing from other hosts.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)


#: The largest id a row can have on either engine (SQLite's INTEGER is signed 64-bit): a larger number
#: names nothing, and passing it to the SQLite driver would raise OverflowError (a 500).
MAX_ROW_ID = 2**63 - 1


class RowIdConverter(IntegerConverter):
    """`<int:...>` URL parts, bounded by MAX_ROW_ID so that a huge number is a 404, never a 500."""

    def __init__(self, map, fixed_digits=0, min=None, max=MAX_ROW_ID, signed=False):  # noqa: A002 (werkzeug's names)
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


def parse_row_id(raw: str | None) -> int | None:
    """Return the id an ASCII decimal string names (0..MAX_ROW_ID), or None ('²', '١', '9' * 5000, '-1')."""
    raw = (raw or "").strip()
    if not raw.isascii() or not raw.isdecimal() or len(raw) > 19:
        return None
    value = int(raw)
    return value if value <= MAX_ROW_ID else None


def _refuse_unstorable_input():
    """Refuse, with a message, a query string that is not UTF-8 and any NUL character.

    Werkzeug cannot decode raw non-UTF-8 bytes in a query string (a 500 on first use of request.args),
    and PostgreSQL refuses NUL in text, so both are stopped here once for every form and filter.
    """
    try:
        request.query_string.decode("utf-8")
    except UnicodeDecodeError:
        abort(400, "The address contains bytes that are not valid UTF-8.")
    texts = [request.path]
    for values in (request.args, request.form):
        for key, items in values.lists():
            texts.append(key)
            texts.extend(items)
    if any("\x00" in text for text in texts):
        abort(400, "The text sent contains a NUL character, which cannot be stored. Remove it and try again.")
    return None


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

    app.url_map.converters["int"] = RowIdConverter  # before any rule is added
    app.before_request(_refuse_unstorable_input)
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
