"""Derived data of one published release, for the public site and the API, cached by release id.

A release is immutable, so everything derived from it (scores per country-round, rows by country and
by indicator, the canonical long table) is computed once per process and kept in a cache the caller
owns (the app's extensions). Building it costs two queries whatever the number of countries.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlmodel import Session

from . import scoring
from .codebook import Codebook
from .models import Release
from .releases import release_inputs

CACHE_SIZE = 16


@dataclass(frozen=True)
class ReleaseInfo:
    """The public facts of a release (a plain copy, safe to keep after the session closes)."""

    id: int
    version: str
    title: str
    notes: str
    release_date: date
    codebook_version: str
    scheme: str
    aggregation: str
    synthetic: bool
    changelog: str
    sha256: str

    @classmethod
    def of(cls, release: Release) -> "ReleaseInfo":
        """Copy the public fields of a Release row."""
        return cls(**{f: getattr(release, f) for f in cls.__dataclass_fields__})

    def as_json(self) -> dict[str, Any]:
        """Return the release as JSON values."""
        data = {f: getattr(self, f) for f in self.__dataclass_fields__ if f != "id"}
        data["release_date"] = self.release_date.isoformat()
        return data


@dataclass(frozen=True)
class ScoreRow:
    """The scores of one country in one round."""

    iso3: str
    name: str
    region: str
    round: str
    reference_date: str
    categories: dict[str, float | None]
    category_mean: float | None
    pooled: float | None

    def value(self, key: str) -> float | str | None:
        """Return the value a table sorts on: a category id, an aggregate, or a text column."""
        if key in self.categories:
            return self.categories[key]
        return {"country": self.name, "iso3": self.iso3, "region": self.region, "round": self.round,
                "category_mean": self.category_mean, "pooled": self.pooled}[key]

    def as_json(self) -> dict[str, Any]:
        """Return the row as JSON values."""
        return {"iso3": self.iso3, "country": self.name, "region": self.region, "round": self.round,
                "reference_date": self.reference_date, "categories": dict(self.categories),
                "category_mean": self.category_mean, "pooled": self.pooled}


@dataclass
class Catalog:
    """Everything the public pages show about one release."""

    release: ReleaseInfo
    countries: dict[str, dict]
    records: list[dict]
    scores: list[ScoreRow]
    rounds: list[str]
    regions: list[str]
    by_country: dict[str, list[dict]] = field(default_factory=dict)
    by_indicator: dict[str, list[dict]] = field(default_factory=dict)
    _long: Any = None

    def long(self, codebook: Codebook):
        """Return the canonical long table of the release (built once, by the export layer)."""
        if self._long is None:
            from .exports import long_table

            self._long = long_table(self.records, countries=self.countries, codebook=codebook)
        return self._long


def build_catalog(*, session: Session, codebook: Codebook, release: Release) -> Catalog:
    """Derive the public view of a release from its snapshot (two queries)."""
    inputs = release_inputs(session=session, release=release)
    by_country: dict[str, list[dict]] = defaultdict(list)
    by_indicator: dict[str, list[dict]] = defaultdict(list)
    by_country_round: dict[tuple[str, str, str], dict[str, str]] = defaultdict(dict)
    for record in inputs.records:
        by_country[record["iso3"]].append(record)
        by_indicator[record["indicator"]].append(record)
        by_country_round[(record["iso3"], record["round"], record["reference_date"])][record["indicator"]] = record["answer"]
    scores = []
    for (iso3, round_, reference_date), answers in sorted(by_country_round.items()):
        result = scoring.score_answers(answers, codebook=codebook, scheme_id=release.scheme)
        country = inputs.countries.get(iso3, {})
        scores.append(ScoreRow(iso3, country.get("name", iso3), country.get("region", ""), round_, reference_date,
                               result.categories, result.category_mean, result.pooled))
    return Catalog(
        release=ReleaseInfo.of(release),
        countries=inputs.countries,
        records=inputs.records,
        scores=scores,
        rounds=sorted({r["round"] for r in inputs.records}),
        regions=sorted({c["region"] for c in inputs.countries.values() if c["region"]}),
        by_country=dict(by_country),
        by_indicator=dict(by_indicator),
    )


def cached_catalog(*, session: Session, codebook: Codebook, release: Release, cache: dict) -> Catalog:
    """Return the release's catalog from `cache` (keyed by release id), building it on first use."""
    catalog = cache.get(release.id)
    if catalog is None or catalog.release.version != release.version:
        if len(cache) >= CACHE_SIZE:
            cache.pop(next(iter(cache)))
        catalog = cache[release.id] = build_catalog(session=session, codebook=codebook, release=release)
    return catalog


def sort_scores(rows: list[ScoreRow], key: str) -> list[ScoreRow]:
    """Sort score rows on an allowed key (prefix "-" for descending); rows without a value go last."""
    descending = key.startswith("-")
    key = key.lstrip("-")
    present = [r for r in rows if r.value(key) is not None]
    missing = [r for r in rows if r.value(key) is None]
    present.sort(key=lambda r: (r.value(key), r.name, r.round), reverse=descending)
    return present + missing


def sort_keys(codebook: Codebook) -> set[str]:
    """Return every allowed `sort` value (each also with a "-" prefix)."""
    keys = {"country", "iso3", "region", "round", *scoring.AGGREGATIONS, *(c.id for c in codebook.categories)}
    return keys | {f"-{k}" for k in keys}
