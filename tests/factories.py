"""Plain factory functions for tests: they add rows and flush, and never commit."""

from __future__ import annotations

import itertools
from datetime import date

from sqlmodel import Session
from werkzeug.security import generate_password_hash

from rightsdb.codebook import Codebook
from rightsdb.models import Answer, Assignment, Citation, Country, CountryRound, LegalSource, Round, User, utcnow

PASSWORD = "correct horse battery"
_HASH = generate_password_hash(PASSWORD)  # computed once: hashing is deliberately slow
_counter = itertools.count(1)

FICTIONAL = [
    ("XAA", "XA", "901", "Arvenia"),
    ("XBB", "XB", "902", "Borovia"),
    ("XCC", "XC", "903", "Caldera"),
    ("XDD", "XD", "904", "Dunmark"),
    ("XEE", "XE", "905", "Estrova"),
]


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


def make_country(session: Session, index: int = 0, *, region: str = "Europe") -> Country:
    """Add (or return) one of the fictional jurisdictions."""
    iso3, iso2, numeric, name = FICTIONAL[index]
    country = session.get(Country, iso3)
    if country is None:
        country = Country(iso3=iso3, iso2=iso2, numeric=numeric, name=name, region=region, synthetic=True)
        session.add(country)
        session.flush()
    return country


def make_round(session: Session, codebook: Codebook, *, name: str = "2026", reference_date: date = date(2026, 1, 1)) -> Round:
    """Add a coding round."""
    round_ = Round(name=name, reference_date=reference_date, codebook_version=codebook.version)
    session.add(round_)
    session.flush()
    return round_


def make_assignments(session: Session, round_: Round, country: Country, coder_a: User, coder_b: User) -> tuple[CountryRound, Assignment, Assignment]:
    """Add a country-round with its two assignments (slots A and B)."""
    country_round = CountryRound(round_id=round_.id, country_iso3=country.iso3)
    session.add(country_round)
    session.flush()
    a = Assignment(country_round_id=country_round.id, slot="A", coder_id=coder_a.id)
    b = Assignment(country_round_id=country_round.id, slot="B", coder_id=coder_b.id)
    session.add_all([a, b])
    session.flush()
    return country_round, a, b


def make_source(session: Session, country: Country, *, title: str = "Aliens Act", instrument_type: str = "statute", language: str = "en") -> LegalSource:
    """Add a legal instrument for a country."""
    source = LegalSource(country_iso3=country.iso3, instrument_type=instrument_type, title=title, url="https://example.org/law", language=language)
    session.add(source)
    session.flush()
    return source


def fill_assignment(
    session: Session,
    assignment: Assignment,
    codebook: Codebook,
    values: dict[str, str] | None = None,
    *,
    default: str = "provided",
    groups: dict[str, list[str]] | None = None,
    source: LegalSource | None = None,
    submit: bool = False,
) -> list[Answer]:
    """Answer every indicator (values overrides the default per indicator id), each with one citation.

    Conditional answers get the groups given (default: irregular_migrants excluded, i.e. permanent_residents).
    Not-applicable answers get a note as their reason.
    """
    values = values or {}
    groups = groups or {}
    answers = []
    if source is None:
        country_iso3 = assignment.country_round.country_iso3 if assignment.country_round else None
        source = make_source(session, session.get(Country, country_iso3)) if country_iso3 else None
    for indicator in codebook.indicators:
        value = values.get(indicator.id, default)
        answer = Answer(
            assignment_id=assignment.id,
            indicator_id=indicator.id,
            value=value,
            groups=groups.get(indicator.id, ["permanent_residents"] if value == "conditional" else []),
            notes="Not applicable: no such procedure exists." if value == "not_applicable" else "",
            codebook_version=codebook.version,
            updated_by_id=assignment.coder_id,
        )
        session.add(answer)
        answers.append(answer)
    session.flush()
    for answer in answers:
        if source is not None and answer.value != "not_applicable":
            session.add(Citation(answer_id=answer.id, source_id=source.id, pinpoint=f"Art. {answer.id}", excerpt=f"Excerpt for {answer.indicator_id}"))
    if submit:
        assignment.status = "submitted"
        assignment.submitted_at = utcnow()
        session.add(assignment)
    session.flush()
    return answers
