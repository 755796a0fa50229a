"""release citations as rows: release_citations, release_answers.decision_id

A release froze each value's citations as a JSON list in release_answers.citations (about 100 MB of
JSON at world scale, made and parsed one value at a time). They are now rows of release_citations,
copied by the database itself at publication (INSERT ... SELECT), one row per line of citations.csv
(no foreign keys: see the model);
release_answers.decision_id records the decision that settled each value. Existing snapshots are
moved over row for row, in both directions.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 01:30:00
"""
from datetime import date
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel.sql.sqltypes


revision: str = '0002'
down_revision: Union[str, None] = '0001'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

#: The fields of a frozen citation, in the order the JSON snapshot held them.
FIELDS = ("instrument_type", "title", "pinpoint", "url", "date_in_force", "language", "excerpt", "translation")
#: Rows per batch when moving snapshots (bounds memory on a large database).
BATCH = 5_000


def _answers():
    return sa.table('release_answers', sa.column('id', sa.Integer), sa.column('release_id', sa.Integer),
                    sa.column('citations', sa.JSON))


def _citations():
    return sa.table('release_citations', sa.column('release_id', sa.Integer), sa.column('release_answer_id', sa.Integer),
                    sa.column('position', sa.Integer), *(sa.column(name, sa.Date if name == 'date_in_force' else sa.String) for name in FIELDS))


def _day(text):
    return date.fromisoformat(text) if text else None


def upgrade() -> None:
    op.create_table('release_citations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('release_id', sa.Integer(), nullable=False),
    sa.Column('release_answer_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('instrument_type', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('title', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('pinpoint', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('url', sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
    sa.Column('date_in_force', sa.Date(), nullable=True),
    sa.Column('language', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('excerpt', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('translation', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('release_citations', schema=None) as batch_op:
        batch_op.create_index('ix_release_citations_answer', ['release_id', 'release_answer_id', 'position'], unique=False)

    with op.batch_alter_table('release_answers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('decision_id', sa.Integer(), nullable=True))

    connection = op.get_bind()
    answers, citations = _answers(), _citations()
    # Streamed (a server-side cursor on PostgreSQL): a world-scale database holds ~100 MB of this JSON.
    result = connection.execute(sa.select(answers.c.id, answers.c.release_id, answers.c.citations).order_by(answers.c.id)
                                .execution_options(stream_results=True, yield_per=BATCH))
    while batch := result.fetchmany(BATCH):
        rows = [
            {"release_id": release_id, "release_answer_id": answer_id, "position": n,
             **{name: (_day(item.get(name)) if name == "date_in_force" else (item.get(name) or "")) for name in FIELDS}}
            for answer_id, release_id, items in batch
            for n, item in enumerate(items or [], start=1)
        ]
        if rows:
            connection.execute(citations.insert(), rows)

    with op.batch_alter_table('release_answers', schema=None) as batch_op:
        batch_op.drop_column('citations')


def downgrade() -> None:
    with op.batch_alter_table('release_answers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('citations', sa.JSON(), nullable=False, server_default='[]'))

    connection = op.get_bind()
    answers, citations = _answers(), _citations()
    frozen: dict[int, list[dict]] = {}
    result = connection.execute(
        sa.select(citations.c.release_answer_id, *(citations.c[name] for name in FIELDS))
        .order_by(citations.c.release_answer_id, citations.c.position)
    )
    for answer_id, *values in result:
        item = dict(zip(FIELDS, values))
        item["date_in_force"] = item["date_in_force"].isoformat() if item["date_in_force"] else ""
        frozen.setdefault(answer_id, []).append(item)
    for answer_id, items in frozen.items():
        connection.execute(answers.update().where(answers.c.id == answer_id).values(citations=items))

    with op.batch_alter_table('release_answers', schema=None) as batch_op:
        batch_op.alter_column('citations', server_default=None)
        batch_op.drop_column('decision_id')

    with op.batch_alter_table('release_citations', schema=None) as batch_op:
        batch_op.drop_index('ix_release_citations_answer')

    op.drop_table('release_citations')
