"""The web layer: one blueprint per role, wired onto the app with the page helpers they share.

Views parse the request, call one domain function, commit and redirect; the domain never imports this
package. `init_app` registers every blueprint, the security headers, the error handlers and the
template filters that turn codebook codes into labels.
"""

from __future__ import annotations

from flask import Flask
from flask_login import current_user

from rightsdb.db import json_text
from rightsdb.review.progress import coding_label
from rightsdb.web import (
    access,
    admin,
    api,
    auth,
    charts,
    coder,
    downloads,
    errors,
    public,
    reconcile,
    releases,
    session,
    sources,
    supervisor,
)
from rightsdb.web.loaders import RowIdConverter, get_codebook
from rightsdb.web.security import add_security_headers, refuse_unstorable_input

#: Every blueprint of the application.
BLUEPRINTS = (auth.bp, coder.bp, supervisor.bp, sources.bp, admin.bp, public.bp, api.bp, releases.bp)
#: Modules that add routes to a blueprint above: `reconcile` to the supervisor's, `charts` and
#: `downloads` to the public one. Imported here so that their routes exist before registration.
ROUTE_MODULES = (reconcile, charts, downloads)


def _template_context():
    return {"codebook": get_codebook(), "current_user": current_user}


def answer_label(code: str | None) -> str:
    """Return the codebook's label of an answer code ("Not answered" for none)."""
    return get_codebook().answer_labels.get(code or "", "Not answered")


def group_label(code: str) -> str:
    """Return the codebook's label of a migrant group code."""
    return get_codebook().group_labels.get(code, code)


def instrument_label(code: str) -> str:
    """Return the codebook's label of an instrument type code."""
    return get_codebook().instrument_labels.get(code, code)


def pct(value: float | None, digits: int = 1) -> str:
    """Show a share as a percentage ("–" for no value)."""
    return "–" if value is None else f"{value * 100:.{digits}f}%"


def init_app(app: Flask) -> None:
    """Register login, every blueprint, the shared page helpers and the error handlers."""
    session.init_app(app)
    access.init_app(app)
    app.url_map.converters["int"] = RowIdConverter  # before any rule is added
    app.before_request(refuse_unstorable_input)
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
    app.after_request(add_security_headers)
    app.context_processor(_template_context)
    for name, function in (
        ("answer_label", answer_label),
        ("group_label", group_label),
        ("instrument_label", instrument_label),
        ("pct", pct),
        ("coding_label", coding_label),  # a coding's state in the words of every page: status|coding_label(answered)
        # JSON shown as text (the audit trail's old and new values): every script as written, autoescaped like any
        # text. Flask's `tojson` is for <script> and writes \u escapes of every non-ASCII character and of <, >, &, '.
        ("json_text", json_text),
    ):
        app.add_template_filter(function, name)
    errors.init_app(app)
