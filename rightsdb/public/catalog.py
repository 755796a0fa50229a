"""Derived data of one published release, for the public site and the API, cached by release id.

A release is immutable, so everything derived from it (scores per country-round, rows by country and
by indicator, the canonical long table) is computed once per process and kept in a cache the caller
owns (the app's extensions). Building it costs two queries whatever the number of countries.

Each catalog also carries a small bounded memo (`Catalog.memo`) where the web layer keeps what it
derives from the release for its pages and API answers: rendered HTML fragments and JSON bodies. It
lives and dies with the catalog, so a new release (or a rebuilt catalog) never sees stale entries.

At world scale a catalog holds hundreds of thousands of small dicts and lists. Python's cyclic garbage
collector would walk all of them at every full collection (a pause of a few hundred milliseconds in a
random request), so a large catalog is built with the collector paused and then moved to the
collector's permanent generation (`process.freeze_long_lived`), where it is never scanned again; plain reference
counting still frees it when it leaves the cache.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from datetime import date
from typing import Any, TypeVar

from sqlmodel import Session

from rightsdb.codebook import Codebook
from rightsdb.models import Release
from rightsdb.process import collector_paused, freeze_long_lived
from rightsdb.publishing import scoring
from rightsdb.publishing.collect import CITATION_FIELDS
from rightsdb.publishing.snapshot import release_inputs

#: Catalogs (releases) kept per process; the least recently used goes first.
CATALOGS = 16
_BUILD_LOCK = threading.Lock()
logger = logging.getLogger(__name__)
#: Bytes of derived values (HTML fragments, JSON bodies) each catalog's memo may hold.
MEMO_BYTES = 64 * 2**20
#: A catalog of at least this many records is frozen out of the garbage collector's reach once built.
FREEZE_MIN_RECORDS = 5000

V = TypeVar("V")


class Memo:
    """The public site's one cache: least recently used values dropped past a size budget, thread-safe.

    The application keeps the catalogs in one (by release id, at most CATALOGS of them: `max_items`),
    and every catalog keeps the values derived from it in its own (HTML fragments, JSON bodies, SVG
    figures: at most `max_bytes` of them), so a new release never sees another's entries.

    `get(key, build, size)` returns the value under `key`, building (and keeping) it on first use; a
    value bigger than a quarter of the byte budget is returned without being kept. Two threads may
    build the same value once each, never see a half-built one. `peek`, `put` and `pop` serve a caller
    that builds under its own lock (one catalog build at a time).
    """

    def __init__(self, max_bytes: int | None = None, max_items: int | None = None) -> None:
        self.max_bytes = MEMO_BYTES if max_bytes is None else max_bytes
        self.max_items = max_items
        self.bytes = 0
        self._items: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._items

    def __iter__(self):
        return iter(list(self._items))

    def values(self) -> list[Any]:
        """Return every value kept, oldest use first."""
        with self._lock:
            return [value for value, _nbytes in self._items.values()]

    def peek(self, key: Hashable) -> Any:
        """Return the value under `key` (marking it recently used), or None."""
        with self._lock:
            item = self._items.get(key)
            if item is None:
                return None
            self._items.move_to_end(key)
            return item[0]

    def get(self, key: Hashable, build: Callable[[], V], size: Callable[[V], int] = len) -> V:
        """Return the value under `key`, building it with `build()` (sized by `size(value)`) if missing."""
        value = self.peek(key)
        if value is not None:
            return value
        value = build()
        self.put(key, value, max(1, size(value)), replace=False)
        return value

    def put(self, key: Hashable, value: Any, nbytes: int = 1, *, replace: bool = True) -> None:
        """Keep `value` under `key` (unless it is over a quarter of the byte budget), dropping the oldest past the budgets."""
        if nbytes > self.max_bytes // 4:
            return
        with self._lock:
            if key in self._items:
                if not replace:
                    return
                self.bytes -= self._items.pop(key)[1]
            self._items[key] = (value, nbytes)
            self.bytes += nbytes
            while self._items and (self.bytes > self.max_bytes or (self.max_items is not None and len(self._items) > self.max_items)):
                _key, (_value, dropped) = self._items.popitem(last=False)
                self.bytes -= dropped

    def pop(self, key: Hashable) -> None:
        """Forget the value under `key`, if any."""
        with self._lock:
            item = self._items.pop(key, None)
            if item is not None:
                self.bytes -= item[1]

    def clear(self) -> None:
        """Forget every value."""
        with self._lock:
            self._items.clear()
            self.bytes = 0


def catalog_cache() -> Memo:
    """Return a new cache of release catalogs (the application keeps one, `app.extensions["rightsdb.release_cache"]`)."""
    return Memo(max_bytes=sys.maxsize, max_items=CATALOGS)  # catalogs are counted, not weighed


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
    def of(cls, release: Release) -> ReleaseInfo:
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
        return {
            "country": self.name,
            "iso3": self.iso3,
            "region": self.region,
            "round": self.round,
            "category_mean": self.category_mean,
            "pooled": self.pooled,
        }[key]

    def as_json(self) -> dict[str, Any]:
        """Return the row as JSON values."""
        return {
            "iso3": self.iso3,
            "country": self.name,
            "region": self.region,
            "round": self.round,
            "reference_date": self.reference_date,
            "categories": dict(self.categories),
            "category_mean": self.category_mean,
            "pooled": self.pooled,
        }


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
    citations: Any = None  # the release's citations table (ReleaseInputs.citations), for the long table
    _long: Any = None
    memo: Memo = field(default_factory=Memo, repr=False, compare=False)

    def long(self, codebook: Codebook):
        """Return the canonical long table of the release (built once, by the export layer)."""
        if self._long is None:
            from rightsdb.publishing.tables import long_table

            with collector_paused():
                self._long = long_table(self.records, countries=self.countries, codebook=codebook, citations=self.citations)
        return self._long

    def sorted_scores(self, key: str) -> list[ScoreRow]:
        """Return every score row sorted on an allowed key (see `sort_scores`), computed once per key.

        Sorting is stable, so filtering this list gives the same order as sorting the filtered rows.
        """
        return self.memo.get(("sorted-scores", key), lambda: sort_scores(self.scores, key), lambda rows: 8 * len(rows) + 64)

    def latest_round(self, records: list[dict] | None = None) -> str | None:
        """Return the round with the latest reference date among `records` (default: the whole release)."""
        latest = max(((r["reference_date"], r["round"]) for r in (self.records if records is None else records)), default=None)
        return None if latest is None else latest[1]


def build_catalog(*, session: Session, codebook: Codebook, release: Release) -> Catalog:
    """Derive the public view of a release from its snapshot (two queries)."""
    with collector_paused():
        return _build_catalog(session=session, codebook=codebook, release=release)


def _build_catalog(*, session: Session, codebook: Codebook, release: Release) -> Catalog:
    inputs = release_inputs(session=session, release=release)
    # The pages and the API show each value's citations as dicts.
    standing: list[list[dict]] = [[] for _ in inputs.records]
    for record, citation in zip(inputs.citations["record"].to_pylist(), inputs.citations.select(list(CITATION_FIELDS)).to_pylist()):
        standing[record].append(citation)
    for record, citations in zip(inputs.records, standing):
        record["citations"] = citations
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
        scores.append(
            ScoreRow(
                iso3,
                country.get("name", iso3),
                country.get("region", ""),
                round_,
                reference_date,
                result.categories,
                result.category_mean,
                result.pooled,
            )
        )
    return Catalog(
        release=ReleaseInfo.of(release),
        countries=inputs.countries,
        records=inputs.records,
        scores=scores,
        rounds=sorted({r["round"] for r in inputs.records}),
        regions=sorted({c["region"] for c in inputs.countries.values() if c["region"]}),
        by_country=dict(by_country),
        by_indicator=dict(by_indicator),
        citations=inputs.citations,
    )


def cached_catalog(*, session: Session, codebook: Codebook, release: Release, cache: Memo) -> Catalog:
    """Return the release's catalog from `cache` (keyed by release id), building it on first use.

    One build at a time per process: a request that arrives while the catalog is being built (by the
    warm-up thread or another request) waits for it instead of building a second copy. A large
    catalog is frozen out of the garbage collector's reach once built (see the module notes).
    """
    catalog = cache.peek(release.id)
    if _current(catalog, release):
        return catalog
    with _BUILD_LOCK:
        catalog = cache.peek(release.id)
        if _current(catalog, release):
            return catalog
        cache.pop(release.id)
        catalog = build_catalog(session=session, codebook=codebook, release=release)
        cache.put(release.id, catalog)
        if len(catalog.records) >= FREEZE_MIN_RECORDS:
            freeze_long_lived()
    return catalog


def _current(catalog: Catalog | None, release: Release) -> bool:
    return catalog is not None and (catalog.release.version, catalog.release.sha256) == (release.version, release.sha256)


def warm(*, engine, codebook: Codebook, cache: dict) -> threading.Thread:
    """Build the default release's catalog on a background thread, so that no visitor waits for it.

    At world scale the build takes seconds (it reads ~100 MB of citations); with RIGHTSDB_WARM_CACHE
    each server process starts it as soon as it starts. A database without rightsdb's tables (init-db
    not run yet) or out of reach is logged in one line; a failure or no release only leaves the cache
    cold: the first request then builds the catalog as usual.
    """
    from rightsdb.availability import database_problem
    from rightsdb.publishing.publish import default_release, list_releases

    def build() -> None:
        try:
            problem = database_problem(engine)
            if problem is not None:
                logger.warning("Not warming the release cache: %s", problem)
                return
            with Session(engine, expire_on_commit=False) as session:
                release = default_release(list_releases(session=session))
                if release is not None:
                    cached_catalog(session=session, codebook=codebook, release=release, cache=cache)
        except Exception:  # noqa: BLE001 - a cold cache is the fallback, never a failed start
            logger.exception("Could not warm the release cache; the first request will build it.")

    thread = threading.Thread(target=build, name="rightsdb-warm-release-cache", daemon=True)
    thread.start()
    return thread


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
