"""evidence that cannot drift: private legal sources, versions, corrections, published notes

- legal_sources.assignment_id: a source a coder enters is private to that assignment until both codings of
  the country-round are submitted (blind coding); NULL is the country's reviewed register. Existing
  sources move to it when their creator is a coder whose one assignment in that country is still in its
  blind phase (not every coding of the country-round submitted) and nobody else cites them.
- legal_sources.version / replaced_by_id and citations.replaced_by_id: evidence behind a final value is
  corrected by writing a new version; the old row stays, pointing at its successor.
- evidence_corrections: the reason for each such correction, per decision whose evidence changed.
- release_answers.coder_a_notes / coder_b_notes, release_citations.cited_by: what coders wrote and who
  cited what, published with the value (empty in snapshots made before this revision).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 16:38:36
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel.sql.sqltypes


revision: str = '0004'
down_revision: Union[str, None] = '0003'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table('evidence_corrections',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('old_id', sa.Integer(), nullable=False),
    sa.Column('new_id', sa.Integer(), nullable=False),
    sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('country_round_id', sa.Integer(), nullable=False),
    sa.Column('indicator_id', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('decision_id', sa.Integer(), nullable=False),
    sa.CheckConstraint("kind IN ('source', 'citation', 'merge')", name='ck_evidence_corrections_kind'),
    sa.ForeignKeyConstraint(['country_round_id'], ['country_rounds.id'], ),
    sa.ForeignKeyConstraint(['decision_id'], ['decisions.id'], ),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('evidence_corrections', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_evidence_corrections_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_evidence_corrections_country_round_id'), ['country_round_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_evidence_corrections_decision_id'), ['decision_id'], unique=False)

    with op.batch_alter_table('citations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('replaced_by_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key('fk_citations_replaced_by_id', 'citations', ['replaced_by_id'], ['id'])

    with op.batch_alter_table('legal_sources', schema=None) as batch_op:
        batch_op.add_column(sa.Column('assignment_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('version', sa.Integer(), nullable=False, server_default='1'))
        batch_op.add_column(sa.Column('replaced_by_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_legal_sources_assignment_id'), ['assignment_id'], unique=False)
        batch_op.create_foreign_key('fk_legal_sources_replaced_by_id', 'legal_sources', ['replaced_by_id'], ['id'])
        batch_op.create_foreign_key('fk_legal_sources_assignment_id', 'assignments', ['assignment_id'], ['id'])

    with op.batch_alter_table('release_answers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('coder_a_notes', sqlmodel.sql.sqltypes.AutoString(), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('coder_b_notes', sqlmodel.sql.sqltypes.AutoString(), nullable=False, server_default=''))

    with op.batch_alter_table('release_citations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('cited_by', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False, server_default=''))

    _make_private()


def _make_private() -> None:
    """Make private the existing sources a coder entered in an assignment still in its blind phase (see the docstring).

    Blind phase: some coding of the country-round is not submitted yet. A source goes to its creator's
    blind-phase assignment in that country when that assignment is the only one citing it, or, cited by
    nobody, when the creator has just one such assignment there. A source cited by anyone else, by a
    finished country-round, or entered by a supervisor stays in the register: others have seen it.
    """
    bind = op.get_bind()
    sources = sa.table('legal_sources', sa.column('id', sa.Integer), sa.column('assignment_id', sa.Integer))
    blind = bind.execute(sa.text(
        "SELECT a.id, a.coder_id, cr.country_iso3 FROM assignments a JOIN country_rounds cr ON cr.id = a.country_round_id "
        "JOIN users u ON u.id = a.coder_id AND u.role = 'coder' "
        "WHERE EXISTS (SELECT 1 FROM assignments o WHERE o.country_round_id = a.country_round_id AND o.status <> 'submitted')"
    )).all()
    candidates: dict = {}
    for assignment_id, coder_id, iso3 in blind:
        candidates.setdefault((coder_id, iso3), set()).add(assignment_id)
    cited: dict = {}
    for source_id, assignment_id in bind.execute(sa.text(
        "SELECT DISTINCT c.source_id, an.assignment_id FROM citations c JOIN answers an ON an.id = c.answer_id"
    )):
        cited.setdefault(source_id, set()).add(assignment_id)
    for source_id, iso3, created_by in bind.execute(sa.text("SELECT id, country_iso3, created_by_id FROM legal_sources ORDER BY id")).all():
        options = candidates.get((created_by, iso3), set())
        owner = cited.get(source_id) or options
        if len(owner) == 1 and owner <= options:
            bind.execute(sources.update().where(sources.c.id == source_id).values(assignment_id=next(iter(owner))))


def downgrade() -> None:
    with op.batch_alter_table('release_citations', schema=None) as batch_op:
        batch_op.drop_column('cited_by')

    with op.batch_alter_table('release_answers', schema=None) as batch_op:
        batch_op.drop_column('coder_b_notes')
        batch_op.drop_column('coder_a_notes')

    with op.batch_alter_table('legal_sources', schema=None) as batch_op:
        batch_op.drop_constraint('fk_legal_sources_assignment_id', type_='foreignkey')
        batch_op.drop_constraint('fk_legal_sources_replaced_by_id', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_legal_sources_assignment_id'))
        batch_op.drop_column('replaced_by_id')
        batch_op.drop_column('version')
        batch_op.drop_column('assignment_id')

    with op.batch_alter_table('citations', schema=None) as batch_op:
        batch_op.drop_constraint('fk_citations_replaced_by_id', type_='foreignkey')
        batch_op.drop_column('replaced_by_id')

    with op.batch_alter_table('evidence_corrections', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_evidence_corrections_decision_id'))
        batch_op.drop_index(batch_op.f('ix_evidence_corrections_country_round_id'))
        batch_op.drop_index(batch_op.f('ix_evidence_corrections_at'))

    op.drop_table('evidence_corrections')
