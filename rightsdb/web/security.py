"""What every response and request goes through: security headers, and refusal of text that cannot be stored."""

from __future__ import annotations

from flask import abort, current_app, g, request

# Pages satisfy this policy: no inline scripts or styles, nothing from other hosts.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)


def refuse_unstorable_input():
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


def add_security_headers(response):
    """Set the content security policy and the other protective headers on every response."""
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    user = g.get("_login_user")  # the signed-in user, if this request loaded one (Flask-Login keeps it on g)
    if user is not None and user.is_authenticated:
        # A signed-in page holds work in progress and names; a shared computer's back button or a proxy must not keep it.
        response.headers["Cache-Control"] = "no-store"
    if current_app.config.get("ENV") == "production":
        response.headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
    return response
