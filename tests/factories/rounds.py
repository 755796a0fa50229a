"""Rounds, country-rounds and their two assignments (slots A and B)."""

from __future__ import annotations

from datetime import date

from sqlmodel import Session, select

from rightsdb.codebook import Codebook
from rightsdb.models import Assignment, Country, CountryRound, Round, User
from tests.factories.countries import make_country
from tests.factories.people import make_user


def make_round(session: Session, codebook: Codebook, *, name: str = "2026", reference_date: date = date(2026, 1, 1)) -> Round:
    """Add a coding round."""
    round_ = Round(name=name, reference_date=reference_date, codebook_version=codebook.version)
    session.add(round_)
    session.flush()
    return round_


def get_round(session: Session, codebook: Codebook, name: str = "2026", reference_date: date = date(2026, 1, 1)) -> Round:
    """Return the round with this name, adding it if needed."""
    round_ = session.exec(select(Round).where(Round.name == name)).first()
    if round_ is None:
        round_ = Round(name=name, reference_date=reference_date, codebook_version=codebook.version)
        session.add(round_)
        session.flush()
    return round_


def make_assignments(
    session: Session, round_: Round, country: Country, coder_a: User, coder_b: User
) -> tuple[CountryRound, Assignment, Assignment]:
    """Add a country-round with its two assignments (slots A and B)."""
    country_round = CountryRound(round_id=round_.id, country_iso3=country.iso3)
    session.add(country_round)
    session.flush()
    a = Assignment(country_round_id=country_round.id, slot="A", coder_id=coder_a.id)
    b = Assignment(country_round_id=country_round.id, slot="B", coder_id=coder_b.id)
    session.add_all([a, b])
    session.flush()
    return country_round, a, b


def make_pair(
    session: Session, codebook: Codebook, *, country_index: int = 0, round_name: str = "2026", reference_date: date = date(2026, 1, 1)
):
    """Add two coders and a country-round assigned to them; return (coder_a, coder_b, country_round, a, b)."""
    coder_a = make_user(session, "coder")
    coder_b = make_user(session, "coder")
    country = make_country(session, country_index)
    round_ = make_round(session, codebook, name=round_name, reference_date=reference_date)
    country_round, a, b = make_assignments(session, round_, country, coder_a, coder_b)
    return coder_a, coder_b, country_round, a, b
