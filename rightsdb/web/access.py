"""Login wiring and access rules: Flask-Login's user loader and one role gate per blueprint.

Every blueprint declares who may reach it with `gate()`. The access test walks the URL map and fails
for any endpoint whose blueprint declares no rule, so a new route cannot be added unguarded.
"""

from __future__ import annotations

from flask import Blueprint, Flask, abort, redirect, request, url_for
from flask_login import LoginManager, current_user

from rightsdb.models import User
from rightsdb.web.session import get_session

login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.login_message = "Please sign in to see this page."
login_manager.login_message_category = "info"
login_manager.session_protection = "basic"

#: blueprint name -> roles allowed, or None for public (no account needed)
ACCESS_RULES: dict[str, tuple[str, ...] | None] = {}


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    """Return the active user whose id and session nonce match the cookie, else None."""
    ident, _, nonce = user_id.partition(":")
    if not ident.isdigit() or not nonce:
        return None
    user = get_session().get(User, int(ident))
    if user is None or not user.active or user.session_nonce != nonce:
        return None
    return user


def gate(bp: Blueprint, *roles: str, public: bool = False) -> None:
    """Declare who may reach a blueprint: anyone (`public=True`) or signed-in users with one of `roles`."""
    if public == bool(roles):
        raise ValueError("gate() takes either roles or public=True")
    ACCESS_RULES[bp.name] = None if public else tuple(roles)
    if public:
        return

    @bp.before_request
    def _require_role():
        if not current_user.is_authenticated:
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        if current_user.role not in roles:
            abort(403)
        return None


def home_for(user) -> str:
    """Return the landing page URL for a user's role."""
    if not user.is_authenticated:
        return url_for("public.index")
    return {"coder": url_for("coder.dashboard"), "supervisor": url_for("supervisor.board"), "admin": url_for("supervisor.board")}.get(
        user.role, url_for("public.index")
    )


def init_app(app: Flask) -> None:
    """Install Flask-Login on the app."""
    login_manager.init_app(app)
