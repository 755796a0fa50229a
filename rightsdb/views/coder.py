"""Coder pages: the assignment dashboard and the coding form."""

from __future__ import annotations

from flask import Blueprint, render_template

from ..auth import gate

bp = Blueprint("coder", __name__, url_prefix="/coder")
gate(bp, "coder")


@bp.route("/")
def dashboard():
    """List the signed-in coder's assignments."""
    return render_template("coder/dashboard.html")
