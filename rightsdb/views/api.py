"""The read-only public JSON API (`/api/v1/...`), serving released data only."""

from __future__ import annotations

from flask import Blueprint, jsonify

from ..auth import gate

bp = Blueprint("api", __name__, url_prefix="/api/v1")
gate(bp, public=True)


@bp.route("/")
def index():
    """List the API's endpoints."""
    return jsonify({"endpoints": []})
