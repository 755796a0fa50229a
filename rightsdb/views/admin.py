"""Admin pages: the team (users, roles, deactivation, password resets)."""

from __future__ import annotations

from flask import Blueprint, render_template

from ..auth import gate

bp = Blueprint("admin", __name__, url_prefix="/admin")
gate(bp, "admin")


@bp.route("/users")
def users():
    """List the team."""
    return render_template("admin/users.html")
