"""The benchmark generator: expected row counts at tiny scale, only synthetic user-assigned codes."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlmodel import select

from bench.generate import main, open_round, populate, synthetic_codes
from rightsdb.config import Settings
from rightsdb.models import Answer, Assignment, Citation, Country, CountryRound, Decision, DecisionCitation, LegalSource, Round, User
from rightsdb.ops.countries import is_user_assigned
from tests.conftest import load_codebook_once


def _count(session, model) -> int:
    return session.exec(select(sa.func.count()).select_from(model)).one()


def _in_user_assigned_alpha3(iso3: str) -> bool:
    return iso3 != "XKX" and iso3.isascii() and iso3.isalpha() and ("XAA" <= iso3 <= "XZZ" or "QMA" <= iso3 <= "QZZ")


def test_synthetic_codes_are_user_assigned_and_unique():
    codes = synthetic_codes()
    iso3s = [c[0] for c in codes]
    iso2s = [c[1] for c in codes]
    assert len(codes) >= 200
    assert len(set(iso3s)) == len(iso3s) and len(set(iso2s)) == len(iso2s)
    assert "XKX" not in iso3s and "XK" not in iso2s
    assert all(_in_user_assigned_alpha3(iso3) for iso3 in iso3s)
    # Past the 41 usable user-assigned alpha-2 codes the code carries a digit, which ISO never assigns.
    assert all(is_user_assigned(iso2, iso3) or any(ch.isdigit() for ch in iso2) for iso3, iso2 in codes)
    assert all(is_user_assigned(iso2, iso3) for iso3, iso2 in codes[:41])  # XA-XZ but XK, QM-QZ, AA, ZZ


def test_populate_tiny_scale_counts(app, session, codebook):
    n_ind = len(codebook.indicator_ids)
    world = populate(app.extensions["rightsdb.engine"], codebook, countries=3, rounds=2, citations=(1, 2), coders=4, seed=3)
    assert world.counts.rows["countries"] == _count(session, Country) == 3
    assert _count(session, Round) == 2
    assert _count(session, CountryRound) == 6
    assert _count(session, Assignment) == 12
    assert _count(session, Answer) == 12 * n_ind
    assert _count(session, Decision) == 6 * n_ind
    assert _count(session, LegalSource) == 15
    assert _count(session, User) == 1 + 2 + 4
    cited = session.exec(select(sa.func.count()).select_from(Answer).where(Answer.value != "not_applicable")).one()
    assert cited <= _count(session, Citation) <= 2 * cited
    assert world.counts.rows["decision_citations"] == _count(session, DecisionCitation) > 0
    countries = session.exec(select(Country)).all()
    assert all(c.synthetic and c.name == f"Synthetic Country {c.iso3}" for c in countries)
    assert all(is_user_assigned(c.iso2, c.iso3) for c in countries)
    assert all(cr.finalized_at is not None and cr.compared_at is not None for cr in session.exec(select(CountryRound)).all())
    assert {a.status for a in session.exec(select(Assignment)).all()} == {"submitted"}


def test_decisions_follow_the_two_codings(app, session, codebook):
    populate(app.extensions["rightsdb.engine"], codebook, countries=4, rounds=2, citations=(1, 3), coders=4, seed=5)
    slot_values = {}
    for assignment, answer in session.exec(select(Assignment, Answer).join(Answer, Answer.assignment_id == Assignment.id)).all():
        slot_values[(assignment.country_round_id, answer.indicator_id, assignment.slot)] = (answer.value, sorted(answer.groups))
    decisions = session.exec(select(Decision)).all()
    reconciled = [d for d in decisions if d.outcome == "reconciled"]
    for d in decisions:
        a = slot_values[(d.country_round_id, d.indicator_id, "A")]
        b = slot_values[(d.country_round_id, d.indicator_id, "B")]
        if d.outcome == "agreed":
            assert a == b and d.value == a[0] and d.decided_by_id is None
        else:
            assert a != b and d.reason and d.decided_by_id is not None
            assert (d.value, sorted(d.groups)) == slot_values[(d.country_round_id, d.indicator_id, d.chosen)]
    # About 8% disagreement between the coders (seeded, so this is stable).
    assert 0.02 <= len(reconciled) / len(decisions) <= 0.2
    excerpts = session.exec(select(Citation.excerpt)).all()
    assert any("\u0600" <= ch <= "\u06ff" for text in excerpts for ch in text)  # Arabic
    assert any("\u0400" <= ch <= "\u04ff" for text in excerpts for ch in text)  # Cyrillic


def test_populate_appends_and_open_round_states(app, session, codebook):
    engine = app.extensions["rightsdb.engine"]
    first = populate(engine, codebook, countries=2, rounds=1, citations=(1, 1), coders=3)
    second = populate(engine, codebook, countries=2, rounds=2, citations=(2, 2), coders=3)
    assert not set(first.countries) & set(second.countries)
    assert _count(session, Country) == 4 and _count(session, Round) == 3 and _count(session, User) == 6
    opened = open_round(engine, codebook, coding=[second.countries[0]], reconciliation=[second.countries[1]], citations=(1, 1))
    coding, reconciling = opened[second.countries[0]], opened[second.countries[1]]
    statuses = {a.status for a in session.exec(select(Assignment).where(Assignment.country_round_id == coding["country_round_id"])).all()}
    assert statuses == {"in_progress"}
    cr = session.get(CountryRound, reconciling["country_round_id"])
    assert cr.compared_at is not None and cr.finalized_at is None and reconciling["disagreements"]
    decided = session.exec(select(sa.func.count()).select_from(Decision).where(Decision.country_round_id == cr.id)).one()
    assert decided == len(codebook.indicator_ids) - len(reconciling["disagreements"])


def test_cli_fills_an_empty_sqlite_database_with_alembic_and_refuses_a_full_one(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'bench.sqlite'}"
    assert main(["--database-url", url, "--countries", "2", "--rounds", "1", "--citations", "1-1", "--coders", "2"]) == 0
    output = capsys.readouterr().out
    assert "schema ready (Alembic)" in output and "countries 2" in output
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        assert connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
        n_ind = len(load_codebook_once(Settings().CODEBOOK_PATH).indicator_ids)
        assert connection.execute(sa.text("SELECT COUNT(*) FROM answers")).scalar() == 2 * 2 * n_ind  # countries x slots
    engine.dispose()
    with pytest.raises(SystemExit, match="EMPTY database"):
        main(["--database-url", url, "--countries", "2", "--rounds", "1"])
