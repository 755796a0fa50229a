"""Countries: ISO 3166-1 plus Kosovo with M49 regions, and user-assigned codes for demonstration data."""

from __future__ import annotations

import csv

import pycountry
import pytest
from sqlmodel import select

from rightsdb.models import Country
from rightsdb.ops.countries import REGIONS_FILE, add_synthetic_country, is_user_assigned, iso_jurisdictions, load_iso_countries

M49_REGIONS = {"Africa", "Americas", "Asia", "Europe", "Oceania", "Antarctica"}


def test_every_pycountry_alpha3_has_a_region():
    with REGIONS_FILE.open(encoding="utf-8", newline="") as handle:
        rows = {row["iso3"]: row["region"] for row in csv.DictReader(handle)}
    missing = [c.alpha_3 for c in pycountry.countries if not rows.get(c.alpha_3)]
    assert missing == []
    assert set(rows.values()) <= M49_REGIONS
    assert rows["XKX"] == "Europe"


def test_iso_jurisdictions_are_every_country_plus_kosovo_sorted_with_regions():
    items = iso_jurisdictions()
    codes = [j.iso3 for j in items]
    assert codes == sorted(codes) and len(set(codes)) == len(codes)
    assert set(codes) == {c.alpha_3 for c in pycountry.countries} | {"XKX"}
    assert all(j.region in M49_REGIONS for j in items)
    assert not any(j.synthetic for j in items)
    kosovo = next(j for j in items if j.iso3 == "XKX")
    assert (kosovo.iso2, kosovo.numeric, kosovo.name) == ("XK", None, "Kosovo")
    germany = next(j for j in items if j.iso3 == "DEU")
    assert (germany.iso2, germany.numeric, germany.region) == ("DE", "276", "Europe")


@pytest.mark.parametrize(
    ("iso2", "iso3"),
    [("XA", "XAA"), ("XZ", "XZZ"), ("xb", "xbc"), ("QM", "QMA"), ("QZ", "QZZ"), ("AA", "AAA"), ("ZZ", "ZZZ"), ("XA", "QMX"), ("AA", "AAZ")],
)
def test_user_assigned_ranges_are_accepted(iso2, iso3):
    assert is_user_assigned(iso2, iso3)


@pytest.mark.parametrize(
    ("iso2", "iso3"),
    [
        ("DE", "DEU"),
        ("FR", "XAA"),
        ("XA", "FRA"),
        ("XK", "XKX"),
        ("XK", "XKA"),
        ("XA", "XKX"),
        ("QL", "QLA"),
        ("QA", "QAT"),
        ("AB", "ABW"),
        ("ZW", "ZWE"),
        ("ZY", "ZYA"),
        ("XA", "XA"),
        ("XAA", "XAA"),
        ("", ""),
        ("Q1", "QZ1"),
        ("XA", "XZ1"),
        ("X-", "X-A"),
        ("XÄ", "XÄA"),
    ],
)
def test_real_kosovo_and_malformed_codes_are_refused(iso2, iso3):
    assert not is_user_assigned(iso2, iso3)


def test_no_real_country_code_is_user_assigned():
    assert [c.alpha_3 for c in pycountry.countries if is_user_assigned(c.alpha_2, c.alpha_3)] == []


def test_add_synthetic_country_refuses_real_codes(session):
    for iso2, iso3 in (("DE", "DEU"), ("XK", "XKX"), ("XA", "DEU")):
        with pytest.raises(ValueError, match="not an ISO 3166 user-assigned code"):
            add_synthetic_country(session=session, iso3=iso3, iso2=iso2, numeric="901", name="Nowhere", region="Europe")
    with pytest.raises(ValueError, match="numeric code '276'"):
        add_synthetic_country(session=session, iso3="XAA", iso2="XA", numeric="276", name="Nowhere", region="Europe")
    session.flush()
    assert session.exec(select(Country)).all() == []


def test_add_synthetic_country_is_flagged_and_idempotent(session):
    first = add_synthetic_country(session=session, iso3="xqa", iso2="xq", numeric="950", name="Quorvia", region="Asia")
    session.commit()
    again = add_synthetic_country(session=session, iso3="XQA", iso2="XQ", numeric="950", name="Quorvia", region="Asia")
    session.commit()
    assert again is first
    rows = session.exec(select(Country)).all()
    assert [(c.iso3, c.iso2, c.numeric, c.synthetic) for c in rows] == [("XQA", "XQ", "950", True)]


def test_load_iso_countries_is_idempotent_and_real(session):
    added = load_iso_countries(session=session)
    session.commit()
    assert added == len(iso_jurisdictions()) > 240
    assert load_iso_countries(session=session) == 0
    session.commit()
    rows = session.exec(select(Country)).all()
    assert len(rows) == added
    by_code = {c.iso3: c for c in rows}
    assert by_code["XKX"].name == "Kosovo" and by_code["XKX"].region == "Europe"
    assert not any(c.synthetic for c in rows)
    assert all(c.region for c in rows)


def test_load_iso_countries_keeps_synthetic_countries_apart(session):
    add_synthetic_country(session=session, iso3="XAA", iso2="XA", numeric="901", name="Arvenia", region="Europe")
    session.commit()
    added = load_iso_countries(session=session)
    session.commit()
    assert added == len(iso_jurisdictions())
    synthetic = session.exec(select(Country).where(Country.synthetic == True)).all()  # noqa: E712
    assert [c.iso3 for c in synthetic] == ["XAA"]
