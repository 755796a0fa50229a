"""The team: admins create users, change roles, deactivate and reactivate, reset passwords; all audited."""

from __future__ import annotations

import pytest
from sqlmodel import select

from rightsdb.models import Answer, AuditEvent, User
from tests.conftest import login
from tests.factories.people import PASSWORD, make_user
from tests.factories.rounds import make_round
from tests.factories.supervision import make_double_coding


@pytest.mark.parametrize("role, expected", [("coder", 403), ("supervisor", 403), ("admin", 200)])
def test_only_admins_reach_admin_pages(app, session, role, expected):
    user = make_user(session, role)
    session.commit()
    assert login(app.test_client(), user).get("/admin/users").status_code == expected


def test_anonymous_is_sent_to_login(client):
    response = client.get("/admin/users")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert client.post("/admin/users", data={}).status_code == 302


def test_admin_creates_a_user_who_can_sign_in(app, session, client_for):
    admin = make_user(session, "admin")
    session.commit()
    client = client_for(admin)
    response = client.post(
        "/admin/users", data={"name": "Nadia Coder", "email": "Nadia@Example.org", "role": "coder", "password": "a long enough password"}
    )
    assert response.status_code == 302
    user = session.exec(select(User).where(User.email == "nadia@example.org")).one()
    assert (user.name, user.role, user.active) == ("Nadia Coder", "coder", True)
    event = session.exec(select(AuditEvent).where(AuditEvent.action == "user.create")).one()
    assert event.user_id == admin.id and event.new["role"] == "coder"
    signed_in = app.test_client().post("/login", data={"email": "nadia@example.org", "password": "a long enough password"})
    assert signed_in.status_code == 302
    duplicate = client.post(
        "/admin/users", data={"name": "N", "email": "nadia@example.org", "role": "coder", "password": "a long enough password"}
    )
    assert duplicate.status_code == 400 and "already exists" in duplicate.get_data(as_text=True)
    short = client.post("/admin/users", data={"name": "M", "email": "m@example.org", "role": "coder", "password": "short"})
    assert short.status_code == 400 and session.exec(select(User).where(User.email == "m@example.org")).first() is None


def test_role_change_is_audited(session, client_for):
    admin, coder = make_user(session, "admin"), make_user(session, "coder")
    session.commit()
    client_for(admin).post(f"/admin/users/{coder.id}/role", data={"role": "supervisor"})
    session.expire_all()
    assert session.get(User, coder.id).role == "supervisor"
    event = session.exec(select(AuditEvent).where(AuditEvent.action == "user.role")).one()
    assert (event.old, event.new, event.user_id) == ("coder", "supervisor", admin.id)


def test_deactivation_ends_sessions_at_once_and_keeps_the_work(app, session, client_for, codebook):
    admin = make_user(session, "admin")
    round_ = make_round(session, codebook)
    _cr, a, _b = make_double_coding(session, codebook, round_)
    coder = session.get(User, a.coder_id)
    session.commit()
    coder_client = login(app.test_client(), coder)
    assert coder_client.get("/coder/").status_code == 200
    client_for(admin).post(f"/admin/users/{coder.id}/deactivate")
    after = coder_client.get("/coder/")
    assert after.status_code == 302 and "/login" in after.headers["Location"]
    session.expire_all()
    assert session.get(User, coder.id).active is False
    answers = session.exec(select(Answer).where(Answer.assignment_id == a.id)).all()
    assert answers and {x.updated_by_id for x in answers} == {coder.id}
    assert app.test_client().post("/login", data={"email": coder.email, "password": PASSWORD}).status_code == 200  # refused
    client_for(admin).post(f"/admin/users/{coder.id}/reactivate")
    actions = session.exec(select(AuditEvent.action).where(AuditEvent.entity == "user", AuditEvent.entity_id == str(coder.id))).all()
    assert actions == ["user.deactivate", "user.activate"]
    assert app.test_client().post("/login", data={"email": coder.email, "password": PASSWORD}).status_code == 302


def test_admin_cannot_deactivate_themself(session, client_for):
    admin = make_user(session, "admin")
    session.commit()
    response = client_for(admin).post(f"/admin/users/{admin.id}/deactivate", follow_redirects=True)
    assert "cannot deactivate your own account" in response.get_data(as_text=True)
    session.expire_all()
    assert session.get(User, admin.id).active


def test_password_reset_is_audited_and_signs_the_user_out(app, session, client_for):
    admin, coder = make_user(session, "admin"), make_user(session, "coder")
    session.commit()
    coder_client = login(app.test_client(), coder)
    too_short = client_for(admin).post(f"/admin/users/{coder.id}/password", data={"password": "short"}, follow_redirects=True)
    assert "at least" in too_short.get_data(as_text=True)
    client_for(admin).post(f"/admin/users/{coder.id}/password", data={"password": "a brand new password"})
    assert coder_client.get("/coder/").status_code == 302
    event = session.exec(select(AuditEvent).where(AuditEvent.action == "user.password_reset")).one()
    assert event.user_id == admin.id and event.entity_id == str(coder.id)
    assert app.test_client().post("/login", data={"email": coder.email, "password": "a brand new password"}).status_code == 302


def test_team_page_lists_users(session, client_for):
    admin = make_user(session, "admin", name="Ada Admin")
    make_user(session, "coder", name="Gone Coder", active=False)
    session.commit()
    html = client_for(admin).get("/admin/users").get_data(as_text=True)
    assert "Ada Admin" in html and "Gone Coder" in html and "deactivated" in html and "Reactivate" in html
