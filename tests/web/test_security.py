"""Sign-in, sessions, throttling, CSRF and the content security policy."""

from __future__ import annotations

import re

import pytest
from sqlmodel import select

from rightsdb.accounts import users as accounts
from rightsdb.models import AuditEvent, LoginFailure, User
from tests.conftest import ROOT, make_app
from tests.factories.people import PASSWORD, make_user
from tests.factories.querycount import count_queries

TEMPLATES = ROOT / "rightsdb" / "templates"


def _sign_in(client, email, password=PASSWORD):
    return client.post("/login", data={"email": email, "password": password})


def test_login_and_logout_round_trip(app, session, client):
    coder = make_user(session, "coder")
    session.commit()
    response = _sign_in(client, coder.email)
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/coder/")
    assert client.get("/coder/").status_code == 200
    assert client.post("/logout").status_code == 302
    assert client.get("/coder/").status_code == 302


def test_unknown_user_and_wrong_password_get_the_same_answer(app, session, client):
    coder = make_user(session, "coder")
    session.commit()
    unknown = _sign_in(client, "nobody@example.org")
    wrong = _sign_in(client, coder.email, "wrong password!")
    assert unknown.status_code == wrong.status_code == 200
    assert b"Unknown email or wrong password." in unknown.data
    strip = lambda body: re.sub(rb'name="csrf_token"[^>]*>|value="[^"]*"', b"", body)  # noqa: E731
    assert strip(unknown.data) == strip(wrong.data)


def test_deactivated_user_cannot_sign_in(app, session, client):
    coder = make_user(session, "coder", active=False)
    session.commit()
    response = _sign_in(client, coder.email)
    assert b"Unknown email or wrong password." in response.data
    assert client.get("/coder/").status_code == 302


def test_repeated_failures_are_refused_across_workers(db_url, tmp_path, session_factory=None):
    """Two app instances (two worker processes) share the failure count through the database."""
    worker_1 = make_app(db_url, tmp_path, LOGIN_MAX_FAILURES=3)
    worker_2 = make_app(db_url, tmp_path, LOGIN_MAX_FAILURES=3)
    from sqlmodel import Session

    with Session(worker_1.extensions["rightsdb.engine"]) as session:
        user = make_user(session, "coder")
        session.commit()
        email = user.email
    c1, c2 = worker_1.test_client(), worker_2.test_client()
    assert _sign_in(c1, email, "bad password 1").status_code == 200
    assert _sign_in(c2, email, "bad password 2").status_code == 200
    assert _sign_in(c1, email, "bad password 3").status_code == 200
    # The limit is reached: even the right password is refused now, on either worker.
    assert _sign_in(c2, email).status_code == 429
    assert _sign_in(c1, email).status_code == 429
    for app in (worker_1, worker_2):
        app.extensions["rightsdb.engine"].dispose()


def test_successful_login_keeps_the_failure_count_and_is_not_counted(app, session, client):
    """The failures stand until they expire: a success (perhaps the attacker's own account) resets nothing."""
    coder = make_user(session, "coder")
    session.commit()
    for _ in range(3):
        _sign_in(client, coder.email, "bad password")
    assert _sign_in(client, coder.email).status_code == 302
    counted = session.exec(select(LoginFailure.key)).all()
    assert sorted(counted) == ["account:" + coder.email] * 3 + ["address:127.0.0.1"] * 3


def _cookie_after_login(app, email):
    client = app.test_client()
    assert _sign_in(client, email).status_code == 302
    return client


def _replay(app, client):
    """Send the same session cookie from a fresh client, as a thief holding a copy would."""
    cookie = client.get_cookie("session")
    thief = app.test_client()
    thief.set_cookie("session", cookie.value)
    return thief


def test_old_cookie_dies_at_logout(app, session):
    coder = make_user(session, "coder")
    session.commit()
    client = _cookie_after_login(app, coder.email)
    thief = _replay(app, client)
    assert thief.get("/coder/").status_code == 200
    client.post("/logout")
    assert thief.get("/coder/").status_code == 302


def test_old_cookie_dies_at_password_change(app, session):
    coder = make_user(session, "coder")
    session.commit()
    client = _cookie_after_login(app, coder.email)
    thief = _replay(app, client)
    response = client.post(
        "/account/password", data={"current_password": PASSWORD, "new_password": "a new long password", "confirm": "a new long password"}
    )
    assert response.status_code == 302
    assert client.get("/coder/").status_code == 200  # this browser keeps its session
    assert thief.get("/coder/").status_code == 302  # every other copy is signed out
    events = session.exec(select(AuditEvent).where(AuditEvent.action == "user.password_change")).all()
    assert len(events) == 1


def test_password_change_needs_the_current_password(app, session):
    coder = make_user(session, "coder")
    session.commit()
    client = _cookie_after_login(app, coder.email)
    response = client.post(
        "/account/password",
        data={"current_password": "not it at all", "new_password": "a new long password", "confirm": "a new long password"},
    )
    assert response.status_code == 400
    assert b"The current password is not correct." in response.data


def test_old_cookie_dies_at_deactivation(app, session):
    coder = make_user(session, "coder")
    admin = make_user(session, "admin")
    session.commit()
    client = _cookie_after_login(app, coder.email)
    assert client.get("/coder/").status_code == 200
    user = session.get(User, coder.id)
    accounts.set_active(session=session, user=user, active=False, actor_id=admin.id)
    session.commit()
    assert client.get("/coder/").status_code == 302


def test_post_without_csrf_token_is_refused(db_url, tmp_path):
    app = make_app(db_url, tmp_path, WTF_CSRF_ENABLED=True)
    client = app.test_client()
    assert client.post("/login", data={"email": "x@example.org", "password": "whatever"}).status_code == 400
    assert client.post("/logout").status_code == 400
    app.extensions["rightsdb.engine"].dispose()


def test_open_redirect_after_login_is_refused(app, session, client):
    coder = make_user(session, "coder")
    session.commit()
    response = client.post("/login?next=https://evil.example/", data={"email": coder.email, "password": PASSWORD})
    assert response.headers["Location"].endswith("/coder/")
    response = app.test_client().post("/login?next=//evil.example/x", data={"email": coder.email, "password": PASSWORD})
    assert "evil" not in response.headers["Location"]


def test_security_headers_on_every_page(client):
    response = client.get("/login")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "style-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"


@pytest.mark.parametrize("template", sorted(str(p.relative_to(TEMPLATES)) for p in TEMPLATES.rglob("*.html")))
def test_templates_satisfy_the_content_security_policy(template):
    """No inline scripts, inline styles, event handlers or external hosts: the CSP would block them."""
    text = (TEMPLATES / template).read_text(encoding="utf-8")
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text), "inline <script>"
    assert not re.search(r"\sstyle\s*=", text), "inline style attribute"
    assert not re.search(r"<style\b", text), "inline <style> block"
    assert not re.search(r"\son[a-z]+\s*=", text), "inline event handler"
    assert not re.search(r"(src|href)=\"https?://", text), "external host"


def test_production_cookies_are_secure(db_url, tmp_path):
    app = make_app(db_url, tmp_path, ENV="production")
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert app.config["REMEMBER_COOKIE_SECURE"] is True
    assert app.debug is False
    response = app.test_client().get("/login")
    assert "max-age" in response.headers["Strict-Transport-Security"]
    app.extensions["rightsdb.engine"].dispose()


def test_signed_in_pages_are_never_stored_by_a_browser_or_proxy_cache(app, session, client, client_for):
    coder = make_user(session, "coder")
    supervisor = make_user(session, "supervisor")
    session.commit()
    for user, path in ((coder, "/coder/"), (supervisor, "/supervisor/"), (supervisor, "/")):
        response = client_for(user).get(path)
        assert response.status_code == 200 and response.headers.get("Cache-Control") == "no-store", (path, response.headers)
    assert "no-store" not in client.get("/").headers.get("Cache-Control", "")  # public pages stay cacheable
    signed_in = client_for(coder)
    engine = app.extensions["rightsdb.engine"]
    with count_queries(engine) as queries:
        static = signed_in.get("/static/style.css")
        static.close()
    assert static.status_code == 200 and queries.count == 0  # a static file loads no user to decide
