"""Public pages (no account needed): comparison, country and indicator pages, custom tables, downloads.

Only published releases are shown, never work in progress, and never coder identities. Derived data
is cached per release (a release is immutable), so a page costs the same few queries at any size.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, abort, current_app, render_template, request, send_from_directory, url_for

from .. import charts, exports, maps
from ..auth import gate
from ..db import get_session
from ..release_catalog import Catalog, cached_catalog, sort_keys, sort_scores
from ..releases import default_release, list_releases, release_files
from ..scoring import shade
from ..web import get_codebook

bp = Blueprint("public", __name__)
gate(bp, public=True)

REGIONS = ("Africa", "Americas", "Asia", "Europe", "Oceania")
MAP_CACHE_SIZE = 32
NO_RELEASE = "No release is published yet; researchers will see data here once a supervisor publishes one."


def _releases():
    """Return (all releases, the chosen one) from `?release=VERSION` or the default; 404 if unknown."""
    releases = list_releases(session=get_session())
    version = request.args.get("release", "").strip()
    if version:
        chosen = next((r for r in releases if r.version == version), None)
        if chosen is None:
            abort(404)
        return releases, chosen
    return releases, default_release(releases)


def _catalog(release) -> Catalog:
    """Return the cached derived data of a release."""
    cache = current_app.extensions.setdefault("rightsdb.release_cache", {})
    return cached_catalog(session=get_session(), codebook=get_codebook(), release=release, cache=cache)


def _filtered_scores(catalog: Catalog):
    """Apply the round and region filters of the query string; 400 on a value that does not exist."""
    round_ = request.args.get("round", "").strip()
    region = request.args.get("region", "").strip()
    if round_ and round_ not in catalog.rounds:
        abort(400, f"Unknown round {round_!r}.")
    if region and region not in REGIONS:
        abort(400, f"Unknown region {region!r}; use one of {', '.join(REGIONS)}.")
    rows = [r for r in catalog.scores if (not round_ or r.round == round_) and (not region or r.region == region)]
    return rows, round_, region


@bp.errorhandler(400)
@bp.errorhandler(404)
def _public_error(error):
    """Answer a bad filter or a missing country/indicator with the reason and a link back."""
    message = error.description
    if message == type(error).description:  # Werkzeug's generic text: say it plainly
        message = "There is nothing at this address." if error.code == 404 else "The request could not be understood."
    return render_template("error.html", code=error.code, message=message), error.code


@bp.app_template_filter("shade")
def shade_filter(score):
    """Map a score to its CSS shading class."""
    return shade(score)


@bp.route("/")
def index():
    """Show countries by category scores (with both aggregates) of the chosen release."""
    releases, release = _releases()
    if release is None:
        return render_template("public/index.html", release=None, releases=[])
    codebook = get_codebook()
    catalog = _catalog(release)
    sort = request.args.get("sort", "country")
    if sort not in sort_keys(codebook):
        abort(400, f"Cannot sort by {sort!r}.")
    rows, round_, region = _filtered_scores(catalog)
    map_round = maps.map_round(rows, round_)
    _drawn, off_map = maps.split_entries(
        maps.map_entries(rows, countries=catalog.countries, aggregation=catalog.release.aggregation, round_name=map_round))
    return render_template(
        "public/index.html", release=catalog.release, releases=releases, catalog=catalog,
        rows=sort_scores(rows, sort), sort=sort, round=round_, region=region, regions=REGIONS,
        map_round=map_round, off_map=off_map,
    )


def svg_response(svg: bytes) -> Response:
    """Answer with an SVG figure under its own policy: inline styles allowed (charts use them), no scripts at all."""
    response = Response(svg, mimetype="image/svg+xml")
    response.headers["Content-Security-Policy"] = charts.SVG_CONTENT_SECURITY_POLICY
    return response


@bp.route("/chart/world.svg")
def world_chart():
    """Draw the headline aggregate of one round on a world map (same filters as `/`; latest round by default)."""
    _releases_list, release = _releases()
    if release is None:
        abort(404, NO_RELEASE)
    catalog = _catalog(release)
    rows, round_, region = _filtered_scores(catalog)
    map_round = maps.map_round(rows, round_)
    # The map is large (~800 kB) and a release immutable: draw it once per release and filter.
    cache = current_app.extensions.setdefault("rightsdb.map_cache", {})
    key = (catalog.release.id, catalog.release.version, map_round, region)
    if key not in cache:
        if len(cache) >= MAP_CACHE_SIZE:
            cache.pop(next(iter(cache)))
        aggregation = catalog.release.aggregation
        entries = maps.map_entries(rows, countries=catalog.countries, aggregation=aggregation, round_name=map_round)
        title = f"Aggregate score ({aggregation}), round {map_round or '-'}" + (f", {region}" if region else "")
        cache[key] = maps.world_map(entries, title=title)
    return svg_response(cache[key])


@bp.route("/chart/aggregates.svg")
def aggregates_chart():
    """Draw each country-round's headline aggregate as an SVG bar chart (same filters as `/`)."""
    _releases_list, release = _releases()
    if release is None:
        abort(404, NO_RELEASE)
    catalog = _catalog(release)
    rows, round_, region = _filtered_scores(catalog)
    rows = sort_scores(rows, "-" + catalog.release.aggregation)
    aggregation = catalog.release.aggregation
    multi_round = len({r.round for r in rows}) > 1
    labels = [f"{r.name} ({r.iso3}){' ' + r.round if multi_round else ''}" for r in rows]
    note = _chart_note(catalog.release, f"aggregate {aggregation}")
    title = "Migrant rights in national law: aggregate score" + (f", {round_}" if round_ else "") + (f", {region}" if region else "")
    svg = charts.bar_chart(labels, [r.value(aggregation) for r in rows], title=title, note=note)
    return svg_response(svg)



def _chart_note(release, *details: str) -> str:
    """Return the provenance line printed under every chart of a release (marks synthetic data)."""
    note = ", ".join([f"rightsdb release {release.version}", f"scheme {release.scheme}", *details])
    return note + (" - synthetic demonstration data" if release.synthetic else "")

@bp.route("/chart/countries/<iso3>.svg")
def country_chart(iso3: str):
    """Draw a country's category scores in one round as an SVG bar chart."""
    _releases_list, release = _releases()
    if release is None:
        abort(404, NO_RELEASE)
    catalog = _catalog(release)
    rows = [r for r in catalog.scores if r.iso3 == iso3.upper()]
    round_ = request.args.get("round", "")
    if round_:
        rows = [r for r in rows if r.round == round_]
    if not rows:
        abort(404)
    row = rows[-1]
    codebook = get_codebook()
    labels = [c.name for c in codebook.categories]
    note = _chart_note(catalog.release)
    svg = charts.bar_chart(labels, [row.categories[c.id] for c in codebook.categories], title=f"{row.name} ({row.iso3}), {row.round}: score by category", note=note)
    return svg_response(svg)


@bp.route("/countries/<iso3>")
def country(iso3: str):
    """Show a country's scores by category and every indicator's answer with its citations."""
    releases, release = _releases()
    if release is None:
        abort(404, NO_RELEASE)
    catalog = _catalog(release)
    iso3 = iso3.upper()
    if iso3 not in catalog.by_country:
        abort(404, f"There is no country {iso3} in release {catalog.release.version}: it may not be coded yet, or be in another release.")
    rows = [r for r in catalog.scores if r.iso3 == iso3]
    records_by_round: dict[str, list[dict]] = {}
    for record in catalog.by_country[iso3]:
        records_by_round.setdefault(record["round"], []).append(record)
    return render_template("public/country.html", release=catalog.release, releases=releases, catalog=catalog,
                           country=catalog.countries[iso3], score_rows=rows, records_by_round=records_by_round)


@bp.route("/indicators/<indicator_id>")
def indicator(indicator_id: str):
    """Show every country's answer to one indicator with the citations side by side."""
    codebook = get_codebook()
    item = codebook.indicators_by_id.get(indicator_id)
    if item is None:
        abort(404, f"There is no indicator {indicator_id} in codebook {codebook.version}.")
    releases, release = _releases()
    if release is None:
        abort(404, NO_RELEASE)
    catalog = _catalog(release)
    records = catalog.by_indicator.get(indicator_id, [])
    return render_template("public/indicator.html", release=catalog.release, releases=releases, catalog=catalog,
                           indicator=item, category=codebook.categories_by_id[item.category], records=records)


def _table_choice(catalog: Catalog):
    """Read and check the custom table's choices (countries, categories, indicators, rounds)."""
    codebook = get_codebook()
    choice = {
        "countries": [v.upper() for v in request.args.getlist("country") if v],
        "categories": [v for v in request.args.getlist("category") if v],
        "indicators": [v for v in request.args.getlist("indicator") if v],
        "rounds": [v for v in request.args.getlist("round") if v],
    }
    allowed = {"countries": catalog.countries, "categories": codebook.categories_by_id,
               "indicators": codebook.indicators_by_id, "rounds": catalog.rounds}
    for key, values in choice.items():
        unknown = [v for v in values if v not in allowed[key]]
        if unknown:
            abort(400, f"Unknown {key}: {', '.join(unknown)}.")
    return choice


def _table_frame():
    releases, release = _releases()
    if release is None:
        abort(404, NO_RELEASE)
    catalog = _catalog(release)
    choice = _table_choice(catalog)
    return releases, catalog, choice, exports.custom_table(catalog.long(get_codebook()), **choice)


@bp.route("/table")
def table():
    """Build a custom table: pick countries, categories or indicators, see it and download it."""
    releases, catalog, choice, frame = _table_frame()
    # With nothing picked the table is the whole release: offer the download rather than a huge page.
    picked = any(choice.values())
    preview = exports.frame_records(frame) if picked else []
    return render_template("public/table.html", release=catalog.release, releases=releases, catalog=catalog,
                           choice=choice, picked=picked, total=len(catalog.records), columns=list(exports.LONG_COLUMNS), rows=preview,
                           query=request.query_string.decode())


def _download_name(catalog: Catalog, extension: str) -> str:
    return f"rightsdb-{catalog.release.version}-table.{extension}"


@bp.route("/table.csv")
def table_csv():
    """Download the custom table as CSV."""
    _releases_list, catalog, _choice, frame = _table_frame()
    return Response(exports.csv_bytes(frame), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{_download_name(catalog, "csv")}"'})


@bp.route("/table.xlsx")
def table_xlsx():
    """Download the custom table as an Excel workbook."""
    _releases_list, catalog, _choice, frame = _table_frame()
    return Response(exports.xlsx_bytes({"table": frame}),
                    mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers={"Content-Disposition": f'attachment; filename="{_download_name(catalog, "xlsx")}"'})


@bp.route("/downloads")
def downloads():
    """List the published releases with notes, checksums, files and the suggested citation."""
    from ..exports_files import suggested_citation

    releases = list_releases(session=get_session())
    exports_dir = current_app.config["EXPORTS_DIR"]
    items = [
        {"release": r, "files": release_files(exports_dir=exports_dir, release=r), "citation": suggested_citation(r)}
        for r in releases
    ]
    return render_template("public/downloads.html", items=items)


@bp.route("/downloads/<version>/<path:filename>")
def release_file(version: str, filename: str):
    """Serve a published file exactly as stored (never regenerated)."""
    releases = list_releases(session=get_session())
    if not any(r.version == version for r in releases):
        abort(404)
    folder = Path(current_app.config["EXPORTS_DIR"]) / version
    return send_from_directory(folder, filename, as_attachment=True)


@bp.app_context_processor
def _public_helpers():
    def release_url(endpoint: str, **values) -> str:
        """Build a URL that keeps the chosen release."""
        version = request.args.get("release")
        if version:
            values.setdefault("release", version)
        return url_for(endpoint, **values)

    return {"release_url": release_url}
