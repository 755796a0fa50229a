"""Supervision: a country double-coded and submitted, ready to compare."""

from __future__ import annotations

from sqlmodel import Session

from rightsdb.codebook import Codebook
from rightsdb.models import Assignment, CountryRound, Round, User
from tests.factories.coding import fill_assignment
from tests.factories.countries import make_country
from tests.factories.people import make_user
from tests.factories.rounds import make_assignments


def make_double_coding(
    session: Session,
    codebook: Codebook,
    round_: Round,
    *,
    country_index: int = 0,
    values_a: dict[str, str] | None = None,
    values_b: dict[str, str] | None = None,
    groups_a: dict[str, list[str]] | None = None,
    groups_b: dict[str, list[str]] | None = None,
    coders: tuple[User, User] | None = None,
    submit_a: bool = True,
    submit_b: bool = True,
) -> tuple[CountryRound, Assignment, Assignment]:
    """Add a country-round whose two coders answered every indicator (default "provided")."""
    country = make_country(session, country_index)
    coder_a, coder_b = coders or (make_user(session, "coder"), make_user(session, "coder"))
    country_round, a, b = make_assignments(session, round_, country, coder_a, coder_b)
    fill_assignment(session, a, codebook, values_a, groups=groups_a, submit=submit_a)
    fill_assignment(session, b, codebook, values_b, groups=groups_b, submit=submit_b)
    return country_round, a, b
