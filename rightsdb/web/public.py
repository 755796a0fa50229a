"""Public pages (no account needed): the comparison, country and indicator pages (charts.py and downloads.py add the rest).

Only published releases are shown, never work in progress, and never coder identities. Derived data
is cached per release (a release is immutable), so a page costs the same few queries at any size.

The big parts of the busiest pages (the comparison table's rows, the indicator page's cards) are
rendered once per release from templates/public/_fragments.html and kept in the release catalog's
memo. A fragment's links keep `?release=` when the request has it, so the cache key includes the
query's `release` value (and the script root the links start with).
"""

from __future__ import annotations

import sys

from flask import Blueprint, abort, current_app, render_template, request, url_for
from markupsafe import Markup

from rightsdb.public import maps
from rightsdb.public.catalog import Catalog, sort_keys
from rightsdb.publishing.publish import NoRelease, choose_release, list_releases
from rightsdb.publishing.scoring import shade
from rightsdb.web.access import gate
from rightsdb.web.loaders import get_codebook, release_catalog
from rightsdb.web.session import get_session

bp = Blueprint("public", __name__)
gate(bp, public=True)

REGIONS = ("Africa", "Americas", "Asia", "Europe", "Oceania")


def chosen_release() -> tuple[list, Catalog]:
    """Return (every release, the chosen release's catalog) from `?release=VERSION` or the default.

    The one load-or-404 of the public pages: an unknown version, or no release at all (NoRelease), is
    a domain NotFound, which the application answers with a 404 page giving the reason.
    """
    releases = list_releases(session=get_session())
    release = choose_release(releases, request.args.get("release", "").strip())
    return releases, release_catalog(release)


def _checked_round(catalog: Catalog, round_: str) -> str:
    """Return a round filter value, with 400 if the release has no such round ("" passes: no filter)."""
    if round_ and round_ not in catalog.rounds:
        abort(400, f"Unknown round {round_!r}.")
    return round_


def _checked_region() -> str:
    """Return the region filter of the query string ("" for none), with 400 on a region that does not exist."""
    region = request.args.get("region", "").strip()
    if region and region not in REGIONS:
        abort(400, f"Unknown region {region!r}; use one of {', '.join(REGIONS)}.")
    return region


def filtered_scores(catalog: Catalog, rows: list | None = None):
    """Apply the round and region filters of the query string to `rows` (default: every score row, in order)."""
    round_ = _checked_round(catalog, request.args.get("round", "").strip())
    region = _checked_region()
    rows = [
        r for r in (catalog.scores if rows is None else rows) if (not round_ or r.round == round_) and (not region or r.region == region)
    ]
    return rows, round_, region


def release_url(endpoint: str, **values) -> str:
    """Build a URL that keeps the chosen release (`?release=` of the current request)."""
    version = request.args.get("release")
    if version:
        values.setdefault("release", version)
    return url_for(endpoint, **values)


def release_page(template: str, releases: list, catalog: Catalog, **context) -> str:
    """Render a page of the chosen release: the template gets it, every release and the release's catalog."""
    return render_template(template, release=catalog.release, releases=releases, catalog=catalog, **context)


def page_fragments():
    """Return the macros of templates/public/_fragments.html."""
    return current_app.jinja_env.get_template("public/_fragments.html").module


def _link_key() -> tuple[str, str]:
    """Return what the links inside a cached fragment depend on: the script root and `?release=`."""
    return request.script_root, request.args.get("release") or ""


def _country_urls(isos) -> dict[str, str]:
    """Return each country's page URL for this request (URL building is slow: once per country, not per row)."""
    return {iso3: release_url("public.country", iso3=iso3) for iso3 in set(isos)}


def _markup_size(fragments) -> int:
    """Return the bytes a collection of cached fragments takes (strings and a dict slot each)."""
    return sum(sys.getsizeof(f) for f in fragments) + 100 * len(fragments)


def _score_rows_html(catalog: Catalog, rows: list) -> Markup:
    """Return the comparison table's rows for `rows`, from fragments rendered once per release and link key."""

    def build() -> dict[int, Markup]:
        macro = page_fragments().score_row
        categories = get_codebook().categories
        urls = _country_urls(row.iso3 for row in catalog.scores)
        return {id(row): macro(row, urls[row.iso3], categories) for row in catalog.scores}

    fragments = catalog.memo.get(("score-rows", *_link_key()), build, lambda f: _markup_size(f.values()))
    return Markup("").join(fragments[id(row)] for row in rows)


@bp.app_template_filter("shade")
def shade_filter(score):
    """Map a score to its CSS shading class."""
    return shade(score)


@bp.route("/")
def index():
    """Show countries by category scores (with both aggregates) of the chosen release."""
    try:
        releases, catalog = chosen_release()
    except NoRelease:  # nothing is published yet: the page says so
        return render_template("public/index.html", release=None, releases=[])
    codebook = get_codebook()
    sort = request.args.get("sort", "country")
    if sort not in sort_keys(codebook):
        abort(400, f"Cannot sort by {sort!r}.")
    # Filtering the rows sorted once per release keeps their order (the sort is stable).
    rows, round_, region = filtered_scores(catalog, catalog.sorted_scores(sort))
    map_round = maps.map_round(rows, round_)
    _drawn, off_map = maps.split_entries(
        maps.map_entries(rows, countries=catalog.countries, aggregation=catalog.release.aggregation, round_name=map_round)
    )
    return release_page(
        "public/index.html",
        releases,
        catalog,
        rows=rows,
        rows_html=_score_rows_html(catalog, rows),
        sort=sort,
        round=round_,
        region=region,
        map_round=map_round,
        off_map=off_map,
    )


@bp.route("/countries/<iso3>")
def country(iso3: str):
    """Show a country's scores by category and every indicator's answer with its citations and the coders' notes."""
    releases, catalog = chosen_release()
    iso3 = iso3.upper()
    if iso3 not in catalog.by_country:
        abort(404, f"There is no country {iso3} in release {catalog.release.version}: it may not be coded yet, or be in another release.")
    country = catalog.countries[iso3]

    def build() -> Markup:
        rows = [r for r in catalog.scores if r.iso3 == iso3]
        records_by_round: dict[str, list[dict]] = {}
        for record in catalog.by_country[iso3]:
            records_by_round.setdefault(record["round"], []).append(record)
        return page_fragments().country_rounds(country, rows, records_by_round, get_codebook(), release_url)

    sections = catalog.memo.get(("country", iso3, *_link_key()), build, sys.getsizeof)
    return release_page("public/country.html", releases, catalog, country=country, sections=sections)


def _indicator_cards(catalog: Catalog, indicator_id: str, round_: str | None, region: str) -> tuple[int, Markup]:
    """Return (how many, the cards) of one indicator's answers in a round (None: every round) and region.

    Rendered once per release, filters and link key, then kept in the catalog's memo.
    """

    def build() -> tuple[int, Markup]:
        records = [
            r
            for r in catalog.by_indicator.get(indicator_id, [])
            if (round_ is None or r["round"] == round_) and (not region or catalog.countries[r["iso3"]]["region"] == region)
        ]
        urls = _country_urls(r["iso3"] for r in records)
        macro = page_fragments().indicator_card
        return len(records), Markup("").join(macro(r, catalog.countries[r["iso3"]]["name"], urls[r["iso3"]]) for r in records)

    return catalog.memo.get(("indicator-cards", indicator_id, round_, region, *_link_key()), build, lambda v: sys.getsizeof(v[1]) + 64)


@bp.route("/indicators/<indicator_id>")
def indicator(indicator_id: str):
    """Show the countries' answers to one indicator with the citations and coders' notes side by side.

    `?round=NAME` picks a round; without it the latest round is shown, and `?round=` (empty, the
    "All rounds" choice) shows every round. `?region=` narrows to one UN M49 region.
    """
    codebook = get_codebook()
    item = codebook.indicators_by_id.get(indicator_id)
    if item is None:
        abort(404, f"There is no indicator {indicator_id} in codebook {codebook.version}.")
    releases, catalog = chosen_release()
    records = catalog.by_indicator.get(indicator_id, [])
    latest = catalog.memo.get(("latest-round", indicator_id), lambda: catalog.latest_round(records), lambda _v: 64)
    chosen = request.args.get("round")
    shown_round = latest if chosen is None else (_checked_round(catalog, chosen.strip()) or None)
    region = _checked_region()
    count, cards = _indicator_cards(catalog, indicator_id, shown_round, region)
    return release_page(
        "public/indicator.html",
        releases,
        catalog,
        indicator=item,
        category=codebook.categories_by_id[item.category],
        records=records,
        shown_round=shown_round,
        latest_round=latest,
        region=region,
        count=count,
        cards=cards,
    )


@bp.app_context_processor
def _public_helpers():
    return {"release_url": release_url, "regions": REGIONS}
