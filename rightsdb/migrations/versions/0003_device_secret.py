"""login limit: users.device_secret

Each user gets a device secret, bound into the signed device cookie a browser receives at a successful
sign-in; an attempt carrying a valid one is limited per device, not by the account's limit, so a third
party cannot lock a known user out. It is rotated on a password change and on deactivation (which
forgets every device), but not at logout, unlike session_nonce. Existing users start with none (NULL):
their first sign-in sets it. No data to move either way.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 10:00:00
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel.sql.sqltypes


revision: str = '0003'
down_revision: Union[str, None] = '0002'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('device_secret', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('device_secret')
