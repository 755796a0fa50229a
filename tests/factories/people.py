"""Users: every one made here signs in with PASSWORD."""

from __future__ import annotations

import itertools

from sqlmodel import Session
from werkzeug.security import generate_password_hash

from rightsdb.models import User

PASSWORD = "correct horse battery"
_HASH = generate_password_hash(PASSWORD)  # computed once: hashing is deliberately slow
_counter = itertools.count(1)


def make_user(session: Session, role: str = "coder", *, email: str | None = None, name: str | None = None, active: bool = True) -> User:
    """Add a user whose password is PASSWORD."""
    n = next(_counter)
    user = User(
        email=email or f"{role}{n}@example.org",
        name=name or f"{role.title()} {n}",
        role=role,
        password_hash=_HASH,
        active=active,
        session_nonce=f"nonce{n}",
    )
    session.add(user)
    session.flush()
    return user
