"""Migration 0002 moves published snapshots' citations from JSON to release_citations rows and back.

PostgreSQL runs in its own schema (like tests/test_migrations.py), dropped at the end.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest
import sqlalchemy as sa
from alembic import command
from sqlmodel import Session, select

from rightsdb.migrate import alembic_config, upgrade
from rightsdb.models import Release
from rightsdb.releases import CITATION_FIELDS, release_inputs
from tests.conftest import PG_SKIP, PG_URL

SCHEMA = "rightsdb_migration_0002"
FROZEN = [
    [
        {"instrument_type": "statute", "title": "Закон об иностранцах", "pinpoint": "Art. 5", "url": "https://example.org/5",
         "date_in_force": "2019-07-01", "language": "ru", "excerpt": "Каждый мигрант", "translation": "Every migrant"},
        {"instrument_type": "judgment", "title": "Case 12/2020", "pinpoint": "", "url": "", "date_in_force": "", "language": "ar",
         "excerpt": "لكل مهاجر الحق", "translation": ""},
    ],
    [],
    [{"instrument_type": "decree", "title": "Decree", "pinpoint": "§ 2", "url": "https://example.org/d", "date_in_force": "2001-01-31",
      "language": "fr", "excerpt": "«première»\nligne", "translation": "first"}],
]


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request, tmp_path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrations.sqlite'}"
        return
    if not PG_URL:
        pytest.skip(PG_SKIP)
    admin = sa.create_engine(PG_URL)
    with admin.begin() as connection:
        connection.exec_driver_sql(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
        connection.exec_driver_sql(f"CREATE SCHEMA {SCHEMA}")
    separator = "&" if "?" in PG_URL else "?"
    try:
        yield f"{PG_URL}{separator}options=-csearch_path%3D{SCHEMA}"
    finally:
        with admin.begin() as connection:
            connection.exec_driver_sql(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
        admin.dispose()


def _old_snapshot(engine) -> None:
    """A release published before 0002: three values, their citations as JSON."""
    meta = sa.MetaData()
    releases = sa.Table("releases", meta, autoload_with=engine)
    answers = sa.Table("release_answers", meta, autoload_with=engine)
    with engine.begin() as connection:
        release_id = connection.execute(releases.insert().values(
            version="1.0.0", title="Old", notes="", release_date=date(2026, 1, 1), codebook_version="1", scheme="binary",
            aggregation="category_mean", synthetic=True, changelog="First release.", sha256="",
            published_at=sa.func.now(),
        ).returning(releases.c.id)).scalar_one()
        for n, citations in enumerate(FROZEN):
            connection.execute(answers.insert().values(
                release_id=release_id, country_iso3="XAA", round_name="2026", reference_date=date(2026, 1, 1), indicator_id=f"AAA-0{n + 1}",
                category_id="AAA", answer="provided", groups=[], binary=1, score=1.0, coder_a_answer="provided",
                coder_b_answer="provided", outcome="agreed", reason="", citations=citations,
            ))


def test_upgrade_moves_frozen_citations_to_rows_and_downgrade_moves_them_back(empty_url):
    upgrade(empty_url, "0001")
    engine = sa.create_engine(empty_url)
    try:
        _old_snapshot(engine)
        upgrade(empty_url)
        with engine.connect() as connection:
            rows = connection.exec_driver_sql(
                "SELECT a.indicator_id, c.position, c.title, c.url, c.date_in_force, c.excerpt FROM release_citations c "
                "JOIN release_answers a ON a.id = c.release_answer_id ORDER BY a.id, c.position"
            ).all()
            columns = {column["name"] for column in sa.inspect(connection).get_columns("release_answers")}
        assert "citations" not in columns and "decision_id" in columns
        assert [(r[0], r[1], r[2], r[5]) for r in rows] == [
            ("AAA-01", 1, "Закон об иностранцах", "Каждый мигрант"), ("AAA-01", 2, "Case 12/2020", "لكل مهاجر الحق"),
            ("AAA-03", 1, "Decree", "«première»\nligne"),
        ]
        assert str(rows[0][4]) == "2019-07-01" and rows[1][4] is None
        # Read back through the application, each value's list is the JSON it had.
        with Session(engine) as session:
            release = session.exec(select(Release)).one()
            inputs = release_inputs(session=session, release=release)
        standing: list[list[dict]] = [[] for _ in inputs.records]
        table = inputs.citations
        for record, citation in zip(table["record"].to_pylist(), table.select(list(CITATION_FIELDS)).to_pylist()):
            standing[record].append(citation)
        assert standing == FROZEN

        command.downgrade(alembic_config(empty_url), "0001")
        with engine.connect() as connection:
            tables = set(sa.inspect(connection).get_table_names())
            meta = sa.MetaData()
            answers = sa.Table("release_answers", meta, autoload_with=connection)
            back = connection.execute(sa.select(answers.c.citations).order_by(answers.c.id)).scalars().all()
        assert "release_citations" not in tables
        assert back == FROZEN
    finally:
        engine.dispose()
