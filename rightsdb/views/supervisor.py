"""Supervisor pages: rounds, assignments, the progress board, reconciliation and reliability."""

from __future__ import annotations

from flask import Blueprint, render_template

from ..auth import gate

bp = Blueprint("supervisor", __name__, url_prefix="/supervisor")
gate(bp, "supervisor", "admin")


@bp.route("/")
def board():
    """Show the progress board of every round."""
    return render_template("supervisor/board.html")
