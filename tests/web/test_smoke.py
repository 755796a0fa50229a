from tests.conftest import login
from tests.factories.people import make_user


def test_app_serves_public_and_login_pages(client):
    assert client.get("/").status_code == 200
    response = client.get("/login")
    assert response.status_code == 200
    assert b"Sign in" in response.data
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]


def test_coder_dashboard_needs_login_and_role(app, session, client):
    coder = make_user(session, "coder")
    supervisor = make_user(session, "supervisor")
    session.commit()
    assert client.get("/coder/").status_code == 302
    assert login(app.test_client(), coder).get("/coder/").status_code == 200
    assert login(app.test_client(), supervisor).get("/coder/").status_code == 403
