"""The read-only public JSON API (`/api/v1/...`), serving released data only.

Every data endpoint takes `?release=VERSION` (default: the latest real release, or the latest
synthetic one when no real release exists). Filters may be repeated or comma-separated; an unknown
parameter or a value that does not exist in the release is refused with 400 and a message.

`answers` (the one list that grows with countries x rounds x indicators: 52,000 answers and 170 MB at
world scale) is paged: `?page=` (from 1) and `?per_page=` (default 1000, at most 10000). The response
carries a `pagination` object (page, per_page, total, pages, and the URLs of the next and previous
pages, or null) and a `Link` header (rel first, prev, next, last). The links name the release even
when the request did not, so a client walking the pages never mixes two releases. They start with
RIGHTSDB_PUBLIC_URL when it is set and are relative to the site's root otherwise: never built from
the request's Host header, which any client can forge (and which would then be cached). The
other lists grow with countries x rounds only (under 1 MB at world scale) and are not paged: `page`
there is refused like any unknown parameter.

A release is immutable, so the body of each answer about it is built once per normalised choice of
filters (the same values in any order, repeated or comma-separated, give the same key) and page, and
kept in the release catalog's bounded memo; later requests get the very same bytes.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request, url_for

from rightsdb.errors import NotFound
from rightsdb.public.catalog import Catalog
from rightsdb.publishing.publish import NoRelease, choose_release, list_releases
from rightsdb.web.access import gate
from rightsdb.web.loaders import get_codebook, release_catalog
from rightsdb.web.session import get_session

bp = Blueprint("api", __name__, url_prefix="/api/v1")
gate(bp, public=True)

SYNTHETIC_NOTICE = "synthetic demonstration data: fictional countries, no finding about any real country's law"

#: endpoint -> (description, accepted filters); the index lists these and the README documents them.
ENDPOINTS = {
    "releases": ("Every published release (newest first) with notes, changelog and checksum", ()),
    "countries": ("The countries of a release, with ISO codes, UN M49 region and synthetic flag", ("release", "country")),
    "indicators": ("The codebook's indicators in order, with category and provenance", ("category", "indicator")),
    "scores": ("Category scores and both aggregates per country and round", ("release", "round", "country", "category")),
    "answers": (
        "Final answers with binary value, score, coders' answers and notes, outcome, reason and citations"
        " (each with cited_by: A, B or A;B), in pages",
        ("release", "round", "country", "indicator", "category", "page", "per_page"),
    ),
    "matrix": (
        "Country-rounds by indicator (final answer codes), columns in codebook order",
        ("release", "round", "country", "indicator", "category"),
    ),
}


#: The paging of `answers`: how many per page without `per_page`, and the most a page may hold.
PER_PAGE_DEFAULT = 1000
PER_PAGE_MAX = 10000
PAGED = {"answers": {"per_page_default": PER_PAGE_DEFAULT, "per_page_max": PER_PAGE_MAX}}


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
    versions = _values("release")
    if len(versions) > 1:
        raise BadRequest("Give one release at a time.")
    try:
        release = choose_release(list_releases(session=get_session()), versions[0] if versions else None)
    except NoRelease as exc:
        raise BadRequest(str(exc)) from None
    except NotFound as exc:
        raise BadRequest(f"{exc} See {url_for('api.releases')}.") from None
    return release_catalog(release)


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


def _whole_number(name: str, default: int, maximum: int | None = None) -> int:
    """Return a paging parameter: one whole number from 1 (to `maximum`), `default` when absent; 400 otherwise."""
    values = request.args.getlist(name)
    if not values:
        return default
    if len(values) > 1:
        raise BadRequest(f"Give one {name} at a time.")
    raw = values[0].strip()
    if not re.fullmatch(r"[0-9]{1,12}", raw) or not 1 <= int(raw) <= (maximum or int(raw)):
        bounds = f"from 1 to {maximum}" if maximum else "from 1"
        shown = values[0] if len(values[0]) <= 20 else values[0][:20] + "..."
        raise BadRequest(f"{name} must be a whole number {bounds}; got {shown!r}.")
    return int(raw)


def _paging() -> tuple[int, int]:
    """Return the checked (page, per_page) of a paged request; whether the page exists is checked later."""
    return _whole_number("page", 1), _whole_number("per_page", PER_PAGE_DEFAULT, PER_PAGE_MAX)


def _page_links(endpoint: str, query: dict[str, str], page: int, per_page: int, pages: int) -> dict[str, str | None]:
    """Return the URLs of the first, previous, next and last pages (None where there is none)."""
    public_url = current_app.config["PUBLIC_URL"].rstrip("/")

    def link(number: int) -> str:
        path = url_for(endpoint, **query, page=number, per_page=per_page)
        if not public_url:
            return path
        # The configured address already holds any path prefix the site is served under.
        return public_url + path.removeprefix(request.script_root)

    return {
        "first": link(1),
        "previous": link(page - 1) if page > 1 else None,
        "next": link(page + 1) if page < pages else None,
        "last": link(pages),
    }


def _paged_json(catalog: Catalog, endpoint: str, key: str, rows: list, query: dict[str, str], item: Callable[[Any], dict]) -> Response:
    """Answer with one page of `rows` (each turned into JSON by `item`), its `pagination` object and `Link` header.

    `query` holds the normalised filters the page links repeat (the release is added). The body and
    header are kept in the memo per release, links, page and size; a page beyond the last is refused.
    """
    page, per_page = _paging()
    total = len(rows)
    pages = max(1, -(-total // per_page))  # an empty result still has its (empty) first page
    if page > pages:
        raise BadRequest(f"page {page} is beyond the last page ({pages}); {key}: {total}, per page: {per_page}.")
    query = {"release": catalog.release.version, **{name: value for name, value in query.items() if value}}

    def build() -> tuple[bytes, str]:
        links = _page_links(f"api.{endpoint}", query, page, per_page, pages)
        body = _envelope(catalog, key, [item(row) for row in rows[(page - 1) * per_page : page * per_page]])
        body["pagination"] = {
            "page": page,
            "per_page": per_page,
            "total": total,
            "pages": pages,
            "next": links["next"],
            "previous": links["previous"],
        }
        header = ", ".join(
            f'<{url}>; rel="{rel}"'
            for rel, url in (("first", links["first"]), ("prev", links["previous"]), ("next", links["next"]), ("last", links["last"]))
            if url
        )
        return current_app.json.response(body).get_data(), header

    # The links hold the path prefix the site is served under (the WSGI server's, or a trusted proxy's).
    cache_key = ("api-page", endpoint, request.script_root, tuple(query.items()), page, per_page)
    body, header = catalog.memo.get(cache_key, build, lambda value: len(value[0]) + len(value[1]) + 64)
    response = current_app.response_class(body, mimetype=current_app.json.mimetype)
    response.headers["Link"] = header
    return response


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
                {
                    "url": url_for(f"api.{name}"),
                    "description": description,
                    "filters": list(filters),
                    **({"pagination": PAGED[name]} if name in PAGED else {}),
                }
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
        item = {
            f: getattr(release, f)
            for f in ("version", "title", "notes", "codebook_version", "scheme", "aggregation", "synthetic", "changelog", "sha256")
        }
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
    data = [{"id": i.id, **codebook.describe(i)} for i in codebook.indicators if chosen is None or i.id in chosen]
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
        r
        for r in catalog.records
        if (not rounds or r["round"] in rounds)
        and (not chosen or r["iso3"] in chosen)
        and (indicators is None or r["indicator"] in indicators)
    ]


@bp.route("/answers")
def answers():
    """Return one page of final answers with their citations (see the module docstring for paging)."""
    catalog = _catalog("answers")
    filters = _record_filters(catalog)
    # The filtered list (references, 8 bytes each) is kept so that each further page costs only its own JSON.
    rows = catalog.memo.get(("answers-records", *filters), lambda: _records(catalog, filters), lambda found: 8 * len(found) + 64)
    query = {name: ",".join(sorted(set(_values(name)))) for name in ("round", "country", "indicator", "category")}
    return _paged_json(catalog, "answers", "answers", rows, query, lambda r: {"country": catalog.countries[r["iso3"]]["name"], **r})


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
            row = rows.setdefault(
                (r["iso3"], r["round"]),
                {"iso3": r["iso3"], "country": catalog.countries[r["iso3"]]["name"], "round": r["round"], "values": {}},
            )
            row["values"][r["indicator"]] = r["answer"]
        data = [{**row, "values": [row["values"].get(c) for c in columns]} for _key, row in sorted(rows.items())]
        return _envelope(catalog, "matrix", {"columns": columns, "rows": data})

    return _cached_json(catalog, ("matrix", *filters), build)
