"""Public pages (no account needed): comparison, country and indicator pages, custom tables, downloads."""

from __future__ import annotations

from flask import Blueprint, render_template

from ..auth import gate

bp = Blueprint("public", __name__)
gate(bp, public=True)


@bp.route("/")
def index():
    """Show the cross-country comparison of the latest release."""
    return render_template("public/index.html")


@bp.route("/downloads")
def downloads():
    """List the published releases."""
    return render_template("public/downloads.html")
