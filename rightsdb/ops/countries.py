"""Countries keyed by ISO 3166-1 alpha-3 (the key researchers merge on), from pycountry.

Decisions, documented in the README:
- Kosovo is not in ISO 3166-1; it is included as XK / XKX, the code used by the European Union, the
  World Bank and the IMF. It is a real jurisdiction, not demonstration data.
- Demonstration jurisdictions are fictional and use ISO 3166 user-assigned codes (XA-XZ, XAA-XZZ,
  numeric 900-999), excluding XK/XKX. They are flagged `synthetic` and never mixed into real releases.
"""

from __future__ import annotations

import csv
import functools
from dataclasses import dataclass
from pathlib import Path

import pycountry
from sqlmodel import Session, select

from rightsdb.models import Country

REGIONS_FILE = Path(__file__).resolve().parent.parent / "data" / "m49_regions.csv"
KOSOVO = {"iso3": "XKX", "iso2": "XK", "numeric": None, "name": "Kosovo"}


@dataclass(frozen=True)
class Jurisdiction:
    iso3: str
    iso2: str
    numeric: str | None
    name: str
    region: str
    synthetic: bool = False


@functools.cache
def _regions() -> dict[str, str]:
    if not REGIONS_FILE.exists():
        return {}
    with REGIONS_FILE.open(encoding="utf-8", newline="") as handle:
        return {row["iso3"]: row["region"] for row in csv.DictReader(handle)}


def iso_jurisdictions() -> list[Jurisdiction]:
    """Return every ISO 3166-1 country, plus Kosovo, sorted by alpha-3."""
    regions = _regions()
    items = [
        Jurisdiction(c.alpha_3, c.alpha_2, c.numeric, getattr(c, "common_name", None) or c.name, regions.get(c.alpha_3, ""))
        for c in pycountry.countries
    ]
    items.append(Jurisdiction(KOSOVO["iso3"], KOSOVO["iso2"], None, KOSOVO["name"], regions.get("XKX", "Europe")))
    return sorted(items, key=lambda j: j.iso3)


def is_user_assigned(iso2: str, iso3: str) -> bool:
    """Tell whether codes lie in the ISO 3166 user-assigned ranges used for demonstration data."""
    iso2, iso3 = iso2.upper(), iso3.upper()
    # Range comparisons alone would let digits through (e.g. "QZ1" sorts between "QMA" and "QZZ").
    if not (iso2.isascii() and iso2.isalpha() and iso3.isascii() and iso3.isalpha()):
        return False
    ok2 = len(iso2) == 2 and (iso2 == "AA" or iso2 == "ZZ" or ("QM" <= iso2 <= "QZ") or ("XA" <= iso2 <= "XZ"))
    ok3 = len(iso3) == 3 and (iso3[:2] == "AA" or iso3[:2] == "ZZ" or ("QMA" <= iso3 <= "QZZ") or ("XAA" <= iso3 <= "XZZ"))
    return ok2 and ok3 and iso3 != "XKX" and iso2 != "XK"


def load_iso_countries(*, session: Session) -> int:
    """Insert or update every ISO country; return how many were added."""
    existing = {c.iso3: c for c in session.exec(select(Country)).all()}
    added = 0
    for j in iso_jurisdictions():
        row = existing.get(j.iso3)
        if row is None:
            session.add(Country(iso3=j.iso3, iso2=j.iso2, numeric=j.numeric, name=j.name, region=j.region, synthetic=False))
            added += 1
        else:
            row.iso2, row.numeric, row.name, row.region = j.iso2, j.numeric, j.name, j.region
            session.add(row)
    return added


def add_synthetic_country(*, session: Session, iso3: str, iso2: str, numeric: str | None, name: str, region: str) -> Country:
    """Add (or return) a fictional demonstration jurisdiction with user-assigned codes."""
    iso3, iso2 = iso3.upper(), iso2.upper()
    if not is_user_assigned(iso2, iso3):
        raise ValueError(f"{iso2}/{iso3} is not an ISO 3166 user-assigned code; demonstration data must not use real codes")
    if numeric is not None and not (len(numeric) == 3 and numeric.isdigit() and numeric >= "900"):
        raise ValueError(f"numeric code {numeric!r} is not in the user-assigned range 900-999")
    country = session.get(Country, iso3)
    if country is None:
        country = Country(iso3=iso3, iso2=iso2, numeric=numeric, name=name, region=region, synthetic=True)
        session.add(country)
    return country
