"""The read-only public JSON API (`/api/v1/...`), serving released data only.

Every data endpoint takes `?release=VERSION` (default: the latest real release, or the latest
synthetic one when no real release exists). Filters may be repeated or comma-separated; an unknown
parameter or a value that does not exist in the release is refused with 400 and a message.

A release is immutable, so the body of each answer about it is built once per normalised choice of
filters (the same values in any order, repeated or comma-separated, give the same key) and kept in the
release catalog's bounded memo; later requests get the very same bytes.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request, url_for

from ..auth import gate
from ..db import get_session
from ..release_catalog import Catalog, cached_catalog
from ..releases import default_release, list_releases
from ..web import get_codebook

bp = Blueprint("api", __name__, url_prefix="/api/v1")
gate(bp, public=True)

SYNTHETIC_NOTICE = "synthetic demonstration data: fictional countries, no finding about any real country's law"

#: endpoint -> (description, accepted filters); the index lists these and the README documents them.
ENDPOINTS = {
    "releases": ("Every published release (newest first) with notes, changelog and checksum", ()),
    "countries": ("The countries of a release, with ISO codes, UN M49 region and synthetic flag", ("release", "country")),
    "indicators": ("The codebook's indicators in order, with category and provenance", ("category", "indicator")),
    "scores": ("Category scores and both aggregates per country and round", ("release", "round", "country", "category")),
    "answers": ("Final answers with binary value, score, outcome, reason and citations", ("release", "round", "country", "indicator", "category")),
    "matrix": ("Country-rounds by indicator (final answer codes), columns in codebook order", ("release", "round", "country", "indicator", "category")),
}


class BadRequest(Exception):
    """A filter the API cannot honour; answered with 400 and the message."""


@bp.errorhandler(BadRequest)
def _bad_request(error: BadRequest):
    return jsonify({"error": str(error)}), 400


@bp.errorhandler(400)
def _refused(error):
    """Answer a request refused before any endpoint ran (e.g. a NUL character) in JSON too."""
    return jsonify({"error": getattr(error, "description", None) or "Bad request."}), 400


@bp.errorhandler(404)
def _not_found(_error):
    return jsonify({"error": "There is nothing at this address."}), 404


@bp.route("/<path:_anything>")
def unknown(_anything: str):
    """Answer any other address under the API with a JSON 404."""
    return _not_found(None)


def _values(name: str) -> list[str]:
    """Return a filter's values, repeated (?x=a&x=b) or comma-separated (?x=a,b)."""
    return [v.strip() for raw in request.args.getlist(name) for v in raw.split(",") if v.strip()]


def _check_params(endpoint: str) -> None:
    allowed = set(ENDPOINTS[endpoint][1])
    unknown = sorted(set(request.args) - allowed)
    if unknown:
        raise BadRequest(f"Unknown filter {', '.join(unknown)}; {endpoint} accepts: {', '.join(sorted(allowed)) or 'no filters'}.")


def _catalog(endpoint: str) -> Catalog:
    """Check the parameters and return the chosen release's cached data (400 if the release is unknown)."""
    _check_params(endpoint)
    releases = list_releases(session=get_session())
    versions = _values("release")
    if len(versions) > 1:
        raise BadRequest("Give one release at a time.")
    if versions:
        release = next((r for r in releases if r.version == versions[0]), None)
        if release is None:
            raise BadRequest(f"Unknown release {versions[0]!r}; see {url_for('api.releases')}.")
    else:
        release = default_release(releases)
        if release is None:
            raise BadRequest("No release is published yet.")
    cache = current_app.extensions.setdefault("rightsdb.release_cache", {})
    return cached_catalog(session=get_session(), codebook=get_codebook(), release=release, cache=cache)


def _checked(name: str, allowed) -> set[str]:
    """Return the values given for a filter, refusing any that does not exist."""
    values = _values(name)
    unknown = [v for v in values if v not in allowed]
    if unknown:
        raise BadRequest(f"Unknown {name} {', '.join(unknown)}.")
    return set(values)


def _cached_json(catalog: Catalog, key: tuple[Hashable, ...], build: Callable[[], Any]) -> Response:
    """Answer with the JSON of `build()`, kept as bytes in the catalog's memo under `key` (identical to jsonify)."""
    body = catalog.memo.get(("api", *key), lambda: current_app.json.response(build()).get_data())
    return current_app.response_class(body, mimetype=current_app.json.mimetype)


def _envelope(catalog: Catalog, key: str, data) -> dict:
    body = {"release": catalog.release.as_json(), key: data}
    if catalog.release.synthetic:
        body["notice"] = SYNTHETIC_NOTICE
    return body


def _indicator_filter() -> set[str] | None:
    """Return the indicator ids chosen by `indicator` and `category` filters (None: all)."""
    codebook = get_codebook()
    indicators = _checked("indicator", codebook.indicators_by_id)
    categories = _checked("category", codebook.categories_by_id)
    if not indicators and not categories:
        return None
    return indicators | {i.id for c in categories for i in codebook.indicators_by_category[c]}


@bp.route("/")
def index():
    """List the API's endpoints with their filters."""
    return jsonify(
        {
            "version": "v1",
            "default_release": "the latest real release, or the latest synthetic one when there is no real release",
            "endpoints": [
                {"url": url_for(f"api.{name}"), "description": description, "filters": list(filters)}
                for name, (description, filters) in ENDPOINTS.items()
            ],
        }
    )


@bp.route("/releases")
def releases():
    """List every published release."""
    _check_params("releases")
    items = []
    for release in list_releases(session=get_session()):
        item = {f: getattr(release, f) for f in ("version", "title", "notes", "codebook_version", "scheme", "aggregation", "synthetic", "changelog", "sha256")}
        item["release_date"] = release.release_date.isoformat()
        item["downloads"] = url_for("public.downloads", _anchor=f"release-{release.version}")
        items.append(item)
    return jsonify({"releases": items})


@bp.route("/countries")
def countries():
    """List the countries of a release."""
    catalog = _catalog("countries")
    chosen = _checked("country", catalog.countries)

    def build():
        data = [dict(catalog.countries[iso3]) for iso3 in sorted(catalog.countries) if not chosen or iso3 in chosen]
        return _envelope(catalog, "countries", data)

    return _cached_json(catalog, ("countries", frozenset(chosen)), build)


@bp.route("/indicators")
def indicators():
    """List the codebook's indicators."""
    _check_params("indicators")
    codebook = get_codebook()
    chosen = _indicator_filter()
    data = [
        {"id": i.id, "category": i.category, "category_name": codebook.categories_by_id[i.category].name,
         "imbr_article": i.imbr_article, "provenance": i.provenance, "short_label": i.short_label, "question": i.question}
        for i in codebook.indicators
        if chosen is None or i.id in chosen
    ]
    return jsonify({"codebook_version": codebook.version, "indicators": data})


@bp.route("/scores")
def scores():
    """Return category scores and both aggregates per country and round."""
    catalog = _catalog("scores")
    rounds = _checked("round", catalog.rounds)
    chosen = _checked("country", catalog.countries)
    categories = _checked("category", get_codebook().categories_by_id)

    def build():
        data = []
        for row in catalog.scores:
            if (rounds and row.round not in rounds) or (chosen and row.iso3 not in chosen):
                continue
            item = row.as_json()
            if categories:
                item["categories"] = {k: v for k, v in item["categories"].items() if k in categories}
            data.append(item)
        return _envelope(catalog, "scores", data)

    return _cached_json(catalog, ("scores", frozenset(rounds), frozenset(chosen), frozenset(categories)), build)


def _record_filters(catalog: Catalog) -> tuple[frozenset[str], frozenset[str], frozenset[str] | None]:
    """Return the checked (rounds, countries, indicators or None for all) filters of an answers/matrix request."""
    rounds = _checked("round", catalog.rounds)
    chosen = _checked("country", catalog.countries)
    indicators = _indicator_filter()
    return frozenset(rounds), frozenset(chosen), None if indicators is None else frozenset(indicators)


def _records(catalog: Catalog, filters) -> list[dict]:
    rounds, chosen, indicators = filters
    return [
        r for r in catalog.records
        if (not rounds or r["round"] in rounds) and (not chosen or r["iso3"] in chosen) and (indicators is None or r["indicator"] in indicators)
    ]


@bp.route("/answers")
def answers():
    """Return final answers with their citations."""
    catalog = _catalog("answers")
    filters = _record_filters(catalog)

    def build():
        data = [{"country": catalog.countries[r["iso3"]]["name"], **r} for r in _records(catalog, filters)]
        return _envelope(catalog, "answers", data)

    return _cached_json(catalog, ("answers", *filters), build)


@bp.route("/matrix")
def matrix():
    """Return country-rounds by indicator (final answer codes), columns in codebook order."""
    catalog = _catalog("matrix")
    filters = _record_filters(catalog)

    def build():
        records = _records(catalog, filters)
        chosen = {r["indicator"] for r in records}
        columns = [i for i in get_codebook().indicator_ids if i in chosen]
        rows: dict[tuple[str, str], dict] = {}
        for r in records:
            row = rows.setdefault((r["iso3"], r["round"]), {"iso3": r["iso3"], "country": catalog.countries[r["iso3"]]["name"], "round": r["round"], "values": {}})
            row["values"][r["indicator"]] = r["answer"]
        data = [{**row, "values": [row["values"].get(c) for c in columns]} for _key, row in sorted(rows.items())]
        return _envelope(catalog, "matrix", {"columns": columns, "rows": data})

    return _cached_json(catalog, ("matrix", *filters), build)
