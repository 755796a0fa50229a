"""User accounts: creation, roles, passwords, deactivation, and the sign-in limit (per account, address and device)."""

from __future__ import annotations

import functools
import hashlib
import hmac
import ipaddress
import math
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from sqlmodel import Session, select
from werkzeug.security import check_password_hash, generate_password_hash

from rightsdb.accounts.audit import record_added, record_event
from rightsdb.db import begin_sqlite_write
from rightsdb.errors import Conflict, InvalidInput, NotFound
from rightsdb.models import ROLES, LoginFailure, User, utcnow

MIN_PASSWORD_LENGTH = 10
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def new_nonce() -> str:
    """Return a fresh session nonce."""
    return secrets.token_hex(16)


MAX_PASSWORD_LENGTH = 200


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"The password must have at least {MIN_PASSWORD_LENGTH} characters.", [("password", "too short")])
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidInput(f"The password must have at most {MAX_PASSWORD_LENGTH} characters.", [("password", "too long")])


def create_user(*, session: Session, email: str, name: str, role: str, password: str, actor_id: int | None = None) -> User:
    """Add a user (not committed); emails are unique and case-insensitive."""
    email = email.strip().lower()
    if not EMAIL_RE.match(email):
        raise InvalidInput("Enter a valid email address.", [("email", "invalid")])
    if role not in ROLES:
        raise InvalidInput(f"Unknown role {role!r}; choose one of {', '.join(ROLES)}.", [("role", "unknown")])
    if not name.strip():
        raise InvalidInput("Enter the user's name.", [("name", "required")])
    _check_password(password)
    if session.exec(select(User).where(User.email == email)).first():
        raise Conflict(f"A user with the email {email} already exists.")
    user = User(email=email, name=name.strip(), role=role, password_hash=generate_password_hash(password), session_nonce=new_nonce())
    return record_added(session, user, user_id=actor_id, action="user.create", new={"email": email, "role": role, "name": user.name})


def get_user(*, session: Session, user_id: int) -> User:
    """Return a user or raise NotFound."""
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("No such user.")
    return user


def authenticate(*, session: Session, email: str, password: str) -> User | None:
    """Return the active user with these credentials, or None (same answer for unknown user and bad password)."""
    user = session.exec(select(User).where(User.email == email.strip().lower())).first()
    if user is None:
        # Spend the same time as a real check so response timing does not reveal which emails exist.
        check_password_hash(_dummy_hash(), password)
        return None
    if not check_password_hash(user.password_hash, password) or not user.active:
        return None
    user.last_login_at = utcnow()
    return user


@functools.cache
def _dummy_hash() -> str:
    """Return a real hash to check unknown users against, computed on first use rather than at import."""
    return generate_password_hash("not-a-real-password")


def set_password(*, session: Session, user: User, password: str, actor_id: int | None, action: str = "user.password_change") -> None:
    """Change a password and rotate the session nonce, which ends the user's other sessions."""
    _check_password(password)
    user.password_hash = generate_password_hash(password)
    user.session_nonce = new_nonce()
    user.device_secret = new_nonce()  # forget every trusted device
    session.add(user)
    record_event(session=session, user_id=actor_id, action=action, entity="user", entity_id=user.id)


def change_own_password(*, session: Session, user: User, current: str, new: str) -> None:
    """Let a user change their own password after confirming the current one."""
    if not check_password_hash(user.password_hash, current):
        raise InvalidInput("The current password is not correct.", [("current_password", "incorrect")])
    set_password(session=session, user=user, password=new, actor_id=user.id)


def set_role(*, session: Session, user: User, role: str, actor_id: int) -> None:
    """Change a user's role."""
    if role not in ROLES:
        raise InvalidInput(f"Unknown role {role!r}.", [("role", "unknown")])
    if role != user.role:
        record_event(session=session, user_id=actor_id, action="user.role", entity="user", entity_id=user.id, old=user.role, new=role)
        user.role = role
        session.add(user)


def set_active(*, session: Session, user: User, active: bool, actor_id: int) -> None:
    """Deactivate (ending every session at once) or reactivate an account; its work stays attributed."""
    if user.id == actor_id and not active:
        raise InvalidInput("You cannot deactivate your own account.")
    if user.active != active:
        record_event(
            session=session,
            user_id=actor_id,
            action="user.activate" if active else "user.deactivate",
            entity="user",
            entity_id=user.id,
            old=user.active,
            new=active,
        )
        user.active = active
        user.session_nonce = new_nonce()
        user.device_secret = new_nonce()
        session.add(user)


def rotate_nonce(*, session: Session, user: User) -> None:
    """Invalidate the session cookies issued to this user so far (used at logout)."""
    user.session_nonce = new_nonce()
    session.add(user)


#: PostgreSQL advisory-lock class of the login limit's per-key locks (the two-key form, so it names only ours).
LOGIN_LOCK_CLASS = 0x4C4F47
#: Expired rows removed by one attempt at most.
PRUNE_BATCH = 100


@dataclass(frozen=True)
class Attempt:
    """A sign-in attempt reserved under its keys (`ids`), or refused because `refused` is at its limit."""

    ids: tuple[int, ...] = ()
    failures: int = 0  # the most failures any key had before this attempt
    refused: str | None = None
    retry_after: int = 0  # seconds until the refused key is under its limit again


def address_key(remote_addr: str | None) -> str:
    """Return the per-address limit's key: the IPv4 address, or the /64 network of an IPv6 one (one host's share)."""
    try:
        address = ipaddress.ip_address(remote_addr or "")
    except ValueError:
        return f"address:{remote_addr or 'unknown'}"
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return f"address:{address.ipv4_mapped}"
        return f"address:{ipaddress.IPv6Network((address, 64), strict=False)}"
    return f"address:{address}"


def _lock_keys(session: Session, keys: list[str]) -> None:
    """Serialise every reservation that shares a key with this one until the transaction ends.

    PostgreSQL: one advisory transaction lock per key, taken in one global order (no deadlock);
    SQLite: the database's write lock. Either way the count that follows sees every attempt reserved
    before it.
    """
    connection = session.connection()
    if connection.dialect.name == "sqlite":
        begin_sqlite_write(connection)
        return
    for lock in sorted({int.from_bytes(hashlib.sha256(key.encode()).digest()[:4], "big", signed=True) for key in keys}):
        connection.execute(sa.text("SELECT pg_advisory_xact_lock(:kind, :lock)"), {"kind": LOGIN_LOCK_CLASS, "lock": lock})


def _prune(session: Session, since) -> None:
    """Remove up to PRUNE_BATCH expired rows (each attempt adds at most two, so the table stays about a window's worth).

    On PostgreSQL rows another transaction is pruning are skipped, never waited for.
    """
    expired = select(LoginFailure.id).where(LoginFailure.at <= since).order_by(LoginFailure.id).limit(PRUNE_BATCH)
    if session.connection().dialect.name == "postgresql":
        expired = expired.with_for_update(skip_locked=True)
    session.exec(sa.delete(LoginFailure).where(LoginFailure.id.in_(expired.scalar_subquery())))


def reserve_attempt(*, session: Session, limits: dict[str, int], window_seconds: int) -> Attempt:
    """Count the recent failures of each key and, if every key is under its limit, record this attempt.

    The attempt is recorded (one row per key) before the password is checked and counts as a failure
    until `release_attempt` removes it, so concurrent attempts cannot all pass the count: the caller
    commits at once, before checking. A refused attempt records nothing (it does not prolong the
    refusal). A failure counts for `window_seconds`; some expired rows of any key are removed on the way.
    """
    keys = sorted(limits)
    _lock_keys(session, keys)
    now = utcnow()
    since = now - timedelta(seconds=window_seconds)
    _prune(session, since)
    times: dict[str, list] = {key: [] for key in keys}
    recent = select(LoginFailure.key, LoginFailure.at).where(LoginFailure.key.in_(keys), LoginFailure.at > since)
    for key, at in session.exec(recent.order_by(LoginFailure.at)):
        times[key].append(at)
    refusals = [
        # The key is under its limit again when its (count - limit + 1)-th oldest failure expires.
        (math.ceil((times[key][len(times[key]) - limit] - since).total_seconds()), key)
        for key, limit in limits.items()
        if len(times[key]) >= limit
    ]
    if refusals:
        # The longest wait wins; of equal ones, the account's (its message says a known browser is let in).
        retry_after, key = max(refusals, key=lambda refusal: (refusal[0], refusal[1].startswith("account:")))
        return Attempt(refused=key, retry_after=max(retry_after, 1))
    rows = [LoginFailure(key=key, at=now) for key in keys]
    session.add_all(rows)
    session.flush()
    return Attempt(ids=tuple(row.id for row in rows), failures=max(len(t) for t in times.values()))


def release_attempt(*, session: Session, attempt: Attempt) -> None:
    """Remove a reserved attempt whose password was right: a success is no failure (other failures stay)."""
    session.exec(sa.delete(LoginFailure).where(LoginFailure.id.in_(attempt.ids)))


def clear_failures(*, session: Session, keys: list[str]) -> None:
    """Forget every failure of these keys (a trusted device's own, once its holder signed in)."""
    session.exec(sa.delete(LoginFailure).where(LoginFailure.key.in_(keys)))


def device_secret(*, session: Session, user: User) -> str:
    """Return the secret bound into the user's device cookies, making one at the first sign-in."""
    if user.device_secret is None:
        user.device_secret = new_nonce()
        session.add(user)
    return user.device_secret


def trusts_device(user: User | None, *, user_id: object, secret: object) -> bool:
    """Whether a device cookie's contents name this active user and their current device secret."""
    return (
        user is not None
        and user.active
        and user.device_secret is not None
        and user_id == user.id
        and isinstance(secret, str)
        and hmac.compare_digest(secret.encode(), user.device_secret.encode())
    )


def find_user(*, session: Session, email: str) -> User | None:
    """Return the user with this email (any state), or None."""
    return session.exec(select(User).where(User.email == email.strip().lower())).first()


def list_users(*, session: Session) -> list[User]:
    """Return every account, active first, then by role and name."""
    return list(session.exec(select(User).order_by(User.active.desc(), User.role, User.name, User.id)).all())
