"""Issue #14, item 4: the login limit holds against a burst of concurrent guesses.

Each trial releases BURST sign-in requests together (a threading.Barrier), each from its own test
client on its own thread against one application on SQLite or PostgreSQL, so each request has its own
database connection. Password checks are counted by wrapping the real `check_password_hash`; the
check itself (a deliberately slow hash) is the window in which an unlocked limit lets every request
through. What is asserted is the invariant: with a limit of LIMIT failures and `prior` failures
already recorded, exactly LIMIT - prior passwords are checked and every other request is refused (429).
"""

from __future__ import annotations

import threading

import pytest
from sqlmodel import Session, select

from rightsdb.accounts import users as accounts
from rightsdb.models import LoginFailure
from tests.conftest import make_app
from tests.factories.concurrency import run_together
from tests.factories.people import make_user

TRIALS = 3
BURST = 16
LIMIT = 5


@pytest.fixture
def checks(monkeypatch):
    """Count the password checks (thread-safe); the real check still runs."""
    lock = threading.Lock()
    count = [0]
    original = accounts.check_password_hash

    def counting(password_hash, password):
        with lock:
            count[0] += 1
        return original(password_hash, password)

    monkeypatch.setattr(accounts, "check_password_hash", counting)
    return count


@pytest.fixture
def limited_app(db_url, tmp_path):
    app = make_app(db_url, tmp_path, LOGIN_MAX_FAILURES=LIMIT, LOGIN_MAX_ADDRESS_FAILURES=LIMIT)
    yield app
    app.extensions["rightsdb.engine"].dispose()


def _guess(app, email: str, address: str):
    client = app.test_client()
    return lambda: client.post("/login", data={"email": email, "password": "a wrong guess"}, environ_base={"REMOTE_ADDR": address})


def _failures(app, key: str) -> int:
    with Session(app.extensions["rightsdb.engine"]) as session:
        return len(session.exec(select(LoginFailure).where(LoginFailure.key == key)).all())


@pytest.mark.parametrize("prior", [0, LIMIT - 1])
def test_a_burst_against_one_account_gets_only_the_limit_of_checks(limited_app, checks, prior):
    """16 guesses at one email from 16 addresses: the account's limit admits exactly LIMIT - prior checks."""
    for trial in range(TRIALS):
        with Session(limited_app.extensions["rightsdb.engine"]) as session:
            email = make_user(session, "coder").email
            session.commit()
        for n in range(prior):
            assert _guess(limited_app, email, f"10.{trial}.{prior}.{200 + n}")().status_code == 200
        checks[0] = 0
        responses = run_together(*[_guess(limited_app, email, f"10.{trial}.{prior}.{n}") for n in range(BURST)])
        statuses = sorted(r.status_code for r in responses)
        assert statuses == [200] * (LIMIT - prior) + [429] * (BURST - LIMIT + prior), (trial, statuses)
        assert checks[0] == LIMIT - prior, (trial, checks[0])
        assert _failures(limited_app, f"account:{email}") == LIMIT


def test_a_burst_from_one_address_gets_only_the_limit_of_checks(limited_app, checks):
    """16 guesses at 16 different emails from one address: the address's limit admits exactly LIMIT checks."""
    for trial in range(TRIALS):
        address = f"192.0.2.{trial + 1}"
        checks[0] = 0
        responses = run_together(*[_guess(limited_app, f"guess{trial}-{n}@example.org", address) for n in range(BURST)])
        statuses = sorted(r.status_code for r in responses)
        assert statuses == [200] * LIMIT + [429] * (BURST - LIMIT), (trial, statuses)
        assert checks[0] == LIMIT, (trial, checks[0])
        assert _failures(limited_app, f"address:{address}") == LIMIT
