"""Issue #14, item 4: the sign-in limit per account, per address and per trusted browser (device cookie).

A browser that signed in to an account holds a signed device cookie for it; its attempts are limited
per device cookie only, so a third party's failures cannot lock that user out. Attempts from other
browsers face the account's limit and the address's. A success removes its own reserved attempt but
no one's failures. The clock of the limit is a fixed one the tests move.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from alembic import command
from sqlmodel import select

from rightsdb.accounts import users as accounts
from rightsdb.config import ConfigError, Settings
from rightsdb.models import LoginFailure, User
from rightsdb.ops.migrate import alembic_config, upgrade
from rightsdb.web.auth import DEVICE_COOKIE
from tests.conftest import PG_SKIP, PG_URL, make_app
from tests.factories.people import PASSWORD, make_user

LIMIT = 3
WINDOW = 900
VICTIM_ADDRESS = "198.51.100.7"
ATTACKER_ADDRESS = "203.0.113.66"


@pytest.fixture
def clock(monkeypatch):
    """The limit's clock, standing still until a test moves it (`clock.now += timedelta(...)`)."""

    class Clock:
        now = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)

    monkeypatch.setattr(accounts, "utcnow", lambda: Clock.now)
    return Clock


@pytest.fixture
def app(db_url, tmp_path):
    app = make_app(db_url, tmp_path, LOGIN_MAX_FAILURES=LIMIT, LOGIN_MAX_ADDRESS_FAILURES=LIMIT, LOGIN_WINDOW_SECONDS=WINDOW)
    yield app
    app.extensions["rightsdb.engine"].dispose()


def browser(app, address: str, **kwargs):
    """A test client that keeps its cookies, at a client address."""
    client = app.test_client(**kwargs)
    client.environ_base["REMOTE_ADDR"] = address
    return client


def sign_in(client, email: str, password: str = PASSWORD):
    return client.post("/login", data={"email": email, "password": password})


def failures(session, key: str) -> int:
    session.expire_all()
    return len(session.exec(select(LoginFailure).where(LoginFailure.key == key)).all())


def users(session, *roles):
    made = [make_user(session, role) for role in roles]
    session.commit()
    return made


def known_browser(app, email: str):
    """A browser the user signed in with (and out of again): it holds the account's device cookie."""
    client = browser(app, VICTIM_ADDRESS)
    assert sign_in(client, email).status_code == 302
    assert client.get_cookie(DEVICE_COOKIE, path="/login") is not None
    assert client.post("/logout").status_code == 302
    return client


def lock_out(app, email: str):
    """A third party, elsewhere, fails LIMIT times at the email; then even the right password is refused there."""
    attacker = browser(app, ATTACKER_ADDRESS)
    for n in range(LIMIT):
        assert sign_in(attacker, email, f"guess number {n}").status_code == 200
    assert sign_in(attacker, email).status_code == 429
    return attacker


def test_retry_after_says_when_the_oldest_counting_failure_expires(app, session, clock):
    (coder,) = users(session, "coder")
    client = browser(app, VICTIM_ADDRESS)
    for _ in range(LIMIT):
        assert sign_in(client, coder.email, "wrong password").status_code == 200
        clock.now += timedelta(seconds=100)
    refused = sign_in(client, coder.email)
    assert refused.status_code == 429
    # Failures at 0, 100 and 200 s; now is 300 s: the first expires at 900 s.
    assert refused.headers["Retry-After"] == str(WINDOW - 300)
    assert b"Too many failed sign-ins for this email address. Try again in 10 minutes" in refused.data
    assert failures(session, f"account:{coder.email}") == LIMIT  # a refusal records nothing
    clock.now += timedelta(seconds=WINDOW - 300 - 1)
    assert sign_in(client, coder.email).headers["Retry-After"] == "1"
    clock.now += timedelta(seconds=1)
    assert sign_in(client, coder.email).status_code == 302
    assert failures(session, f"account:{coder.email}") == LIMIT - 1  # the expired one is gone, the others stand


def test_an_attempt_removes_expired_failures_of_any_key(app, session, clock):
    """Failures of emails and addresses never tried again do not pile up: later attempts remove them."""
    session.add_all([LoginFailure(key=f"account:gone{n}@example.org", at=clock.now) for n in range(accounts.PRUNE_BATCH + 5)])
    session.commit()
    clock.now += timedelta(seconds=WINDOW - 1)
    client = browser(app, VICTIM_ADDRESS)
    assert sign_in(client, "someone@example.org", "wrong password").status_code == 200
    assert failures(session, "account:gone0@example.org") == 1  # still within the window
    clock.now += timedelta(seconds=1)
    assert sign_in(client, "someone@example.org", "wrong password").status_code == 200
    left = session.exec(select(sa.func.count()).select_from(LoginFailure).where(LoginFailure.key.like("account:gone%"))).one()
    assert left == 5  # one attempt removes at most PRUNE_BATCH
    assert sign_in(client, "someone@example.org", "wrong password").status_code == 200
    assert failures(session, "account:someone@example.org") == 3 and failures(session, "account:gone104@example.org") == 0


def test_the_address_limit_names_the_address(app, session, clock):
    client = browser(app, ATTACKER_ADDRESS)
    for n in range(LIMIT):
        assert sign_in(client, f"someone{n}@example.org", "wrong password").status_code == 200
    refused = sign_in(client, "someone-else@example.org")
    assert refused.status_code == 429 and refused.headers["Retry-After"] == str(WINDOW)
    assert b"Too many failed sign-ins from your network address. Try again in 15 minutes." in refused.data


def test_an_attackers_own_successful_login_does_not_reset_the_address_count(app, session):
    victim_1, victim_2, victim_3, attacker_account = users(session, "coder", "coder", "coder", "coder")
    attacker = browser(app, ATTACKER_ADDRESS)
    assert sign_in(attacker, victim_1.email, "guess one").status_code == 200
    assert sign_in(attacker, victim_2.email, "guess two").status_code == 200
    assert sign_in(attacker, attacker_account.email).status_code == 302  # their own account, right password
    assert attacker.post("/logout").status_code == 302
    assert failures(session, f"address:{ATTACKER_ADDRESS}") == 2
    assert sign_in(attacker, victim_3.email, "guess three").status_code == 200
    assert sign_in(attacker, victim_1.email, "guess four").status_code == 429


def test_successful_sign_ins_do_not_count_as_failures(app, session):
    (coder,) = users(session, "coder")
    client = browser(app, VICTIM_ADDRESS)
    for _ in range(LIMIT + 2):
        client.delete_cookie(DEVICE_COOKIE, path="/login")  # a new browser each time: the account's limit applies
        assert sign_in(client, coder.email).status_code == 302
        assert client.post("/logout").status_code == 302
    assert failures(session, f"account:{coder.email}") == failures(session, f"address:{VICTIM_ADDRESS}") == 0


def test_a_known_browser_signs_in_while_the_account_is_locked_for_others(app, session):
    (victim,) = users(session, "coder")
    known = known_browser(app, victim.email)
    lock_out(app, victim.email)
    new_browser = browser(app, VICTIM_ADDRESS)
    refused = sign_in(new_browser, victim.email)
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    assert b"or sign in from a browser you signed in to this account with before" in refused.data
    assert sign_in(known, victim.email).status_code == 302
    assert known.get("/coder/").status_code == 200
    assert failures(session, f"account:{victim.email}") == LIMIT  # the lock for others stands


def test_a_known_browser_is_limited_per_device_cookie(app, session):
    (coder,) = users(session, "coder")
    known = known_browser(app, coder.email)
    for n in range(LIMIT):
        assert sign_in(known, coder.email, f"mistyped {n}").status_code == 200
    refused = sign_in(known, coder.email)
    assert refused.status_code == 429
    assert b"Too many failed sign-ins from this browser." in refused.data
    # Those failures were the device's only: neither the account nor the address is locked.
    assert failures(session, f"account:{coder.email}") == failures(session, f"address:{VICTIM_ADDRESS}") == 0
    assert sign_in(browser(app, VICTIM_ADDRESS), coder.email).status_code == 302


def test_a_known_browsers_success_clears_its_own_failures(app, session):
    (coder,) = users(session, "coder")
    known = known_browser(app, coder.email)
    for _round in range(2):
        for n in range(LIMIT - 1):
            assert sign_in(known, coder.email, f"mistyped {n}").status_code == 200
        assert sign_in(known, coder.email).status_code == 302
        assert known.post("/logout").status_code == 302
    assert session.exec(select(sa.func.count()).select_from(LoginFailure)).one() == 0


def _admin_resets_password(session, user, admin):
    accounts.set_password(session=session, user=session.get(User, user.id), password="an admin's new password", actor_id=admin.id)


def _deactivated_and_reactivated(session, user, admin):
    accounts.set_active(session=session, user=session.get(User, user.id), active=False, actor_id=admin.id)
    session.commit()
    accounts.set_active(session=session, user=session.get(User, user.id), active=True, actor_id=admin.id)


@pytest.mark.parametrize("change", [_admin_resets_password, _deactivated_and_reactivated])
def test_password_change_and_deactivation_forget_every_known_browser(app, session, change):
    coder, admin = users(session, "coder", "admin")
    known = known_browser(app, coder.email)
    change(session, coder, admin)
    session.commit()
    lock_out(app, coder.email)
    assert sign_in(known, coder.email).status_code == 429
    assert sign_in(known, coder.email, "an admin's new password").status_code == 429


def test_changing_ones_own_password_keeps_only_this_browser_trusted(app, session):
    (coder,) = users(session, "coder")
    other = known_browser(app, coder.email)
    this = known_browser(app, coder.email)
    assert sign_in(this, coder.email).status_code == 302
    new = "my brand new password"
    changed = this.post("/account/password", data={"current_password": PASSWORD, "new_password": new, "confirm": new})
    assert changed.status_code == 302
    assert this.post("/logout").status_code == 302
    lock_out(app, coder.email)
    assert sign_in(other, coder.email, new).status_code == 429
    assert sign_in(this, coder.email, new).status_code == 302


def test_a_device_cookie_counts_only_for_its_own_account(app, session):
    """An attacker's browser, trusted for the attacker's own account, faces the limit of any other."""
    victim, own = users(session, "coder", "coder")
    attacker = browser(app, ATTACKER_ADDRESS)
    assert sign_in(attacker, own.email).status_code == 302
    assert attacker.post("/logout").status_code == 302
    for n in range(LIMIT):
        assert sign_in(attacker, victim.email, f"guess {n}").status_code == 200
    assert sign_in(attacker, victim.email).status_code == 429
    assert failures(session, f"account:{victim.email}") == LIMIT


@pytest.mark.parametrize("cookie", ["not a token", "e30.Zz9xUQ.bad-signature", "a" * 4000])
def test_a_broken_or_forged_device_cookie_is_ignored(app, session, cookie):
    (coder,) = users(session, "coder")
    lock_out(app, coder.email)
    client = browser(app, VICTIM_ADDRESS)
    client.set_cookie(DEVICE_COOKIE, cookie, path="/login")
    assert sign_in(client, coder.email).status_code == 429


def test_a_device_cookie_signed_with_another_key_is_ignored(app, db_url, tmp_path, session):
    (coder,) = users(session, "coder")
    elsewhere = make_app(db_url, tmp_path, SECRET_KEY="another-secret-key-that-is-long-enough-0123456789")
    try:
        foreign = browser(elsewhere, VICTIM_ADDRESS)
        assert sign_in(foreign, coder.email).status_code == 302
        token = foreign.get_cookie(DEVICE_COOKIE, path="/login").value
    finally:
        elsewhere.extensions["rightsdb.engine"].dispose()
    lock_out(app, coder.email)
    client = browser(app, VICTIM_ADDRESS)
    client.set_cookie(DEVICE_COOKIE, token, path="/login")
    assert sign_in(client, coder.email).status_code == 429


@pytest.mark.parametrize(("base_url", "secure"), [("http://localhost", False), ("https://localhost", True)])
def test_the_device_cookie_is_http_only_lax_for_the_login_page_and_secure_over_https(app, session, base_url, secure):
    (coder,) = users(session, "coder")
    response = browser(app, VICTIM_ADDRESS).post("/login", data={"email": coder.email, "password": PASSWORD}, base_url=base_url)
    assert response.status_code == 302
    (header,) = [h for h in response.headers.getlist("Set-Cookie") if h.startswith(f"{DEVICE_COOKIE}=")]
    attributes = {part.strip().split("=")[0].lower() for part in header.split(";")[1:]}
    assert {"httponly", "path", "max-age", "samesite"} <= attributes
    assert "Path=/login" in header and "SameSite=Lax" in header
    assert ("secure" in attributes) is secure


def test_ipv6_clients_are_counted_per_64_network():
    assert accounts.address_key("2001:db8::1") == accounts.address_key("2001:db8::ffff:abcd:1") == "address:2001:db8::/64"
    assert accounts.address_key("2001:db8:0:1::1") == "address:2001:db8:0:1::/64"
    assert accounts.address_key("::ffff:192.0.2.9") == accounts.address_key("192.0.2.9") == "address:192.0.2.9"
    assert accounts.address_key(None) == "address:unknown"


def test_one_ipv6_host_cannot_rotate_its_addresses_past_the_limit(app, session):
    client = browser(app, "2001:db8::1")
    for n in range(LIMIT):
        client.environ_base["REMOTE_ADDR"] = f"2001:db8::{n + 1:x}"
        assert sign_in(client, f"someone{n}@example.org", "wrong password").status_code == 200
    client.environ_base["REMOTE_ADDR"] = "2001:db8::ffff"
    assert sign_in(client, "someone-else@example.org").status_code == 429


@pytest.mark.parametrize("name", ["LOGIN_MAX_FAILURES", "LOGIN_MAX_ADDRESS_FAILURES", "LOGIN_WINDOW_SECONDS"])
def test_a_limit_of_zero_is_refused_with_a_clear_message(name):
    with pytest.raises(ConfigError, match=f"RIGHTSDB_{name} must be at least 1"):
        Settings.from_env({f"RIGHTSDB_{name}": "0"}).check()


# Migration 0003 adds users.device_secret; the generic migration tests check the schema has no drift.
SCHEMA = "rightsdb_login_limit_check"


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrations.sqlite'}"
        return
    if not PG_URL:
        pytest.skip(PG_SKIP)
    admin = sa.create_engine(PG_URL)
    with admin.begin() as connection:
        connection.exec_driver_sql(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
        connection.exec_driver_sql(f"CREATE SCHEMA {SCHEMA}")
    try:
        yield f"{PG_URL}{'&' if '?' in PG_URL else '?'}options=-csearch_path%3D{SCHEMA}"
    finally:
        with admin.begin() as connection:
            connection.exec_driver_sql(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
        admin.dispose()


def test_migration_0003_adds_the_device_secret_and_downgrade_removes_it(empty_url):
    upgrade(empty_url, "0002")
    engine = sa.create_engine(empty_url)
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql(
                "INSERT INTO users (email, name, role, password_hash, active, session_nonce, created_at) "
                "VALUES ('old@example.org', 'Old', 'coder', 'x', true, 'n1', CURRENT_TIMESTAMP)"
            )
            user_id = connection.exec_driver_sql("SELECT id FROM users").scalar_one()
            connection.exec_driver_sql(
                f"INSERT INTO audit_events (at, user_id, action, entity, entity_id) VALUES (CURRENT_TIMESTAMP, {user_id}, 'x', 'user', '1')"
            )
        upgrade(empty_url)
        with engine.connect() as connection:
            assert connection.exec_driver_sql("SELECT email, device_secret FROM users").all() == [("old@example.org", None)]
        command.downgrade(alembic_config(empty_url), "0002")
        with engine.connect() as connection:
            columns = {column["name"] for column in sa.inspect(connection).get_columns("users")}
            assert "device_secret" not in columns and "session_nonce" in columns
            assert connection.exec_driver_sql("SELECT email FROM users").scalars().all() == ["old@example.org"]
            assert connection.exec_driver_sql("SELECT user_id FROM audit_events").scalars().all() == [user_id]
    finally:
        engine.dispose()
