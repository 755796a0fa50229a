"""The per-request database session (opened lazily on `g`, closed at teardown) and the idle sign-out.

A signed-in user who sends no request for IDLE_TIMEOUT_MINUTES is signed out at the next one, so a
browser left open on a shared computer does not stay signed in. The time of the last request rides in
Flask's signed session cookie: it cannot be forged, and an old copy of the cookie is just as idle.
"""

from __future__ import annotations

import time

from flask import Flask, current_app, flash, g, request
from flask import session as cookie_session
from flask_login import logout_user
from sqlalchemy.engine import Engine
from sqlmodel import Session

#: The session cookie's key for the time (whole seconds since the epoch) of the user's last request.
LAST_SEEN = "_last_seen"


def get_engine() -> Engine:
    """Return the current application's engine."""
    return current_app.extensions["rightsdb.engine"]


def get_session() -> Session:
    """Return this request's session, opening it on first use."""
    if "db_session" not in g:
        g.db_session = Session(get_engine(), expire_on_commit=False)
    return g.db_session


def close_session(_exc: BaseException | None = None) -> None:
    """Roll back anything uncommitted and close the request's session."""
    session = g.pop("db_session", None)
    if session is not None:
        session.rollback()
        session.close()


def now() -> float:
    """Return the time the idle sign-out reads (seconds since the epoch)."""
    return time.time()


def sign_out_when_idle() -> None:
    """Sign out a user whose last request is older than IDLE_TIMEOUT_MINUTES; otherwise count this request as activity."""
    minutes = current_app.config["IDLE_TIMEOUT_MINUTES"]
    if current_app.config["SESSION_COOKIE_NAME"] not in request.cookies:
        return  # nobody signed in, and nothing to read
    if "_user_id" not in cookie_session:
        cookie_session.pop(LAST_SEEN, None)
        return
    moment = now()
    last = cookie_session.get(LAST_SEEN)
    if minutes and isinstance(last, int) and moment - last > minutes * 60:
        logout_user()
        cookie_session.pop(LAST_SEEN, None)
        flash(f"You were signed out after {minutes} minute{'' if minutes == 1 else 's'} without activity. Sign in again to go on.", "info")
        return
    if last != int(moment):
        cookie_session[LAST_SEEN] = int(moment)


def init_app(app: Flask) -> None:
    """Sign idle users out before each request and close each request's session at teardown."""
    app.before_request(sign_out_when_idle)
    app.teardown_appcontext(close_session)
