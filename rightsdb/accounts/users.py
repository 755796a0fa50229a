"""User accounts: creation, roles, passwords, deactivation and the failed-login back-off."""

from __future__ import annotations

import functools
import re
import secrets
from datetime import timedelta

from sqlmodel import Session, func, select
from werkzeug.security import check_password_hash, generate_password_hash

from rightsdb.accounts.audit import record_added, record_event
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
        session.add(user)


def rotate_nonce(*, session: Session, user: User) -> None:
    """Invalidate the session cookies issued to this user so far (used at logout)."""
    user.session_nonce = new_nonce()
    session.add(user)


def recent_failures(*, session: Session, keys: list[str], window_seconds: int) -> int:
    """Return the largest number of failed logins within the window for any of the keys."""
    since = utcnow() - timedelta(seconds=window_seconds)
    counts = session.exec(
        select(LoginFailure.key, func.count()).where(LoginFailure.key.in_(keys), LoginFailure.at >= since).group_by(LoginFailure.key)
    ).all()
    return max((count for _key, count in counts), default=0)


def record_failure(*, session: Session, keys: list[str]) -> None:
    """Remember a failed login under each key (account and client address)."""
    for key in keys:
        session.add(LoginFailure(key=key))


def clear_failures(*, session: Session, keys: list[str]) -> None:
    """Forget failed logins for these keys after a successful login."""
    for failure in session.exec(select(LoginFailure).where(LoginFailure.key.in_(keys))).all():
        session.delete(failure)


def list_users(*, session: Session) -> list[User]:
    """Return every account, active first, then by role and name."""
    return list(session.exec(select(User).order_by(User.active.desc(), User.role, User.name, User.id)).all())
