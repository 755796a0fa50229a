"""Migration 0004's data step (`_make_private`): which existing legal sources become private to a blind-phase assignment.

A database is upgraded to 0003, given sources in every situation the rule distinguishes, then upgraded
to head. PostgreSQL runs in a schema of its own (not the one of tests/system/test_migrations.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa

from rightsdb.ops.migrate import upgrade
from tests.conftest import PG_SKIP, PG_URL

SCHEMA = "rightsdb_migration_0004"
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def url_at_0003(request, tmp_path) -> Iterator[str]:
    """The URL of a database upgraded to revision 0003: a new SQLite file, or a new PostgreSQL schema."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'at_0003.sqlite'}"
        upgrade(url, "0003")
        yield url
        return
    if not PG_URL:
        pytest.skip(PG_SKIP)
    admin = sa.create_engine(PG_URL)
    with admin.begin() as connection:
        connection.exec_driver_sql(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
        connection.exec_driver_sql(f"CREATE SCHEMA {SCHEMA}")
    separator = "&" if "?" in PG_URL else "?"
    url = f"{PG_URL}{separator}options=-csearch_path%3D{SCHEMA}"
    try:
        upgrade(url, "0003")
        yield url
    finally:
        with admin.begin() as connection:
            connection.exec_driver_sql(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
        admin.dispose()


class Rows:
    """Insert rows into the 0003 schema (reflected, so the test never depends on today's models)."""

    def __init__(self, connection: sa.Connection):
        self.connection = connection
        self.tables = sa.MetaData()
        self.tables.reflect(connection)

    def add(self, table: str, **values) -> int:
        result = self.connection.execute(self.tables.tables[table].insert().values(**values))
        return result.inserted_primary_key[0] if result.inserted_primary_key else None

    def user(self, email: str, role: str) -> int:
        return self.add("users", email=email, name=email, role=role, password_hash="x", active=True, session_nonce=email, created_at=NOW)

    def assignment(self, country_round_id: int, slot: str, coder_id: int, status: str) -> int:
        return self.add(
            "assignments", country_round_id=country_round_id, slot=slot, coder_id=coder_id, status=status, message="", created_at=NOW
        )

    def source(self, title: str, created_by_id: int | None) -> int:
        return self.add(
            "legal_sources",
            country_iso3="XAA",
            instrument_type="statute",
            title=title,
            url="",
            language="",
            created_at=NOW,
            created_by_id=created_by_id,
        )

    def cite(self, assignment_id: int, source_id: int, indicator_id: str = "LAB-01") -> None:
        answer_id = self.add(
            "answers",
            assignment_id=assignment_id,
            indicator_id=f"{indicator_id}-{source_id}",
            value="provided",
            groups=[],
            notes="",
            codebook_version="1.0.0",
            carried_forward=False,
            updated_at=NOW,
        )
        self.add(
            "citations",
            answer_id=answer_id,
            source_id=source_id,
            pinpoint="Art. 1",
            url="",
            excerpt="",
            translation="",
            position=0,
            created_at=NOW,
        )


def test_make_private_moves_only_blind_phase_sources_of_their_coder(url_at_0003):
    engine = sa.create_engine(url_at_0003)
    try:
        with engine.begin() as connection:
            rows = Rows(connection)
            ana, ben, sam = rows.user("ana@x.test", "coder"), rows.user("ben@x.test", "coder"), rows.user("sam@x.test", "supervisor")
            rows.add("countries", iso3="XAA", iso2="XA", name="Arvenia", region="Europe", synthetic=True)
            old_round = rows.add("rounds", name="2025", reference_date=date(2025, 1, 1), codebook_version="1.0.0", notes="", created_at=NOW)
            new_round = rows.add("rounds", name="2026", reference_date=date(2026, 1, 1), codebook_version="1.0.0", notes="", created_at=NOW)
            done = rows.add("country_rounds", round_id=old_round, country_iso3="XAA")
            blind = rows.add("country_rounds", round_id=new_round, country_iso3="XAA")
            done_a, done_b = rows.assignment(done, "A", ana, "submitted"), rows.assignment(done, "B", ben, "submitted")
            # 2026: Ana still codes; Ben has submitted, but the round is blind until Ana submits too.
            blind_a, blind_b = rows.assignment(blind, "A", ana, "in_progress"), rows.assignment(blind, "B", ben, "submitted")
            ids = {
                "ana_only": rows.source("Ana's act, cited only by her blind coding", ana),
                "both": rows.source("Act cited by both coders", ana),
                "finished": rows.source("Act of the finished 2025 round", ana),
                "supervisor": rows.source("Act a supervisor entered", sam),
                "ben_uncited": rows.source("Ben's act, not cited yet", ben),
                "no_creator": rows.source("Act of unknown origin", None),
            }
            rows.cite(blind_a, ids["ana_only"])
            rows.cite(blind_a, ids["both"])
            rows.cite(blind_b, ids["both"])
            rows.cite(done_a, ids["finished"])
            rows.cite(done_b, ids["finished"])
            rows.cite(blind_a, ids["supervisor"])
            rows.cite(blind_a, ids["no_creator"])
        upgrade(url_at_0003)
        with engine.connect() as connection:
            private = dict(connection.execute(sa.text("SELECT id, assignment_id FROM legal_sources")).all())
            versions = set(connection.execute(sa.text("SELECT version FROM legal_sources")).scalars())
    finally:
        engine.dispose()
    assert {name: private[source_id] for name, source_id in ids.items()} == {
        "ana_only": blind_a,
        "both": None,
        "finished": None,
        "supervisor": None,
        "ben_uncited": blind_b,
        "no_creator": None,
    }
    assert versions == {1}


def test_make_private_leaves_a_source_ambiguous_between_two_blind_assignments_in_the_register(url_at_0003):
    """A coder with two blind-phase assignments in one country and an uncited source: whose it is cannot be told."""
    engine = sa.create_engine(url_at_0003)
    try:
        with engine.begin() as connection:
            rows = Rows(connection)
            ana, ben = rows.user("ana@x.test", "coder"), rows.user("ben@x.test", "coder")
            rows.add("countries", iso3="XAA", iso2="XA", name="Arvenia", region="Europe", synthetic=True)
            blind_ids = []
            for name, year in (("2025", 2025), ("2026", 2026)):
                round_id = rows.add(
                    "rounds", name=name, reference_date=date(year, 1, 1), codebook_version="1.0.0", notes="", created_at=NOW
                )
                country_round = rows.add("country_rounds", round_id=round_id, country_iso3="XAA")
                blind_ids.append(rows.assignment(country_round, "A", ana, "in_progress"))
                rows.assignment(country_round, "B", ben, "in_progress")
            uncited = rows.source("Uncited", ana)
            cited_2026 = rows.source("Cited in 2026 only", ana)
            rows.cite(blind_ids[1], cited_2026)
        upgrade(url_at_0003)
        with engine.connect() as connection:
            private = dict(connection.execute(sa.text("SELECT id, assignment_id FROM legal_sources")).all())
    finally:
        engine.dispose()
    assert private == {uncited: None, cited_2026: blind_ids[1]}
