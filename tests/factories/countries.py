"""Countries: the five fictional jurisdictions (ISO 3166 user-assigned codes) and real countries."""

from __future__ import annotations

from sqlmodel import Session

from rightsdb.models import Country

FICTIONAL = [
    ("XAA", "XA", "901", "Arvenia"),
    ("XBB", "XB", "902", "Borovia"),
    ("XCC", "XC", "903", "Caldera"),
    ("XDD", "XD", "904", "Dunmark"),
    ("XEE", "XE", "905", "Estrova"),
]


def make_country(session: Session, index: int = 0, *, region: str = "Europe") -> Country:
    """Add (or return) one of the fictional jurisdictions."""
    iso3, iso2, numeric, name = FICTIONAL[index]
    country = session.get(Country, iso3)
    if country is None:
        country = Country(iso3=iso3, iso2=iso2, numeric=numeric, name=name, region=region, synthetic=True)
        session.add(country)
        session.flush()
    return country


def make_real_country(session: Session, iso3: str, iso2: str, name: str, region: str) -> Country:
    """Add (or return) a real country row."""
    country = session.get(Country, iso3)
    if country is None:
        country = Country(iso3=iso3, iso2=iso2, numeric=None, name=name, region=region, synthetic=False)
        session.add(country)
        session.flush()
    return country
