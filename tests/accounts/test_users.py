"""User accounts (accounts.users): a password is refused when too short or too long."""

from __future__ import annotations

import pytest

from rightsdb.accounts import users as accounts
from tests.factories.people import make_user


def test_passwords_are_bounded_on_every_path(app, session):
    from rightsdb.errors import InvalidInput

    admin = make_user(session, "admin")
    coder = make_user(session, "coder")
    with pytest.raises(InvalidInput, match="at most 200"):
        accounts.set_password(session=session, user=coder, password="x" * 201, actor_id=admin.id)
    with pytest.raises(InvalidInput, match="at least 10"):
        accounts.set_password(session=session, user=coder, password="short", actor_id=admin.id)
