"""The public SVG figures (no account needed): the world map, the aggregates bar chart and a country's category scores.

Each is drawn on the server, deterministic for a release, and kept in the release catalog's memo; it is
served under its own content security policy (inline styles, no scripts).
"""

from __future__ import annotations

from flask import Response, abort, request

from rightsdb.public import charts, maps
from rightsdb.web.loaders import get_codebook
from rightsdb.web.public import bp, chosen_release, filtered_scores


def svg_response(svg: bytes) -> Response:
    """Answer with an SVG figure under its own policy: inline styles allowed (charts use them), no scripts at all."""
    response = Response(svg, mimetype="image/svg+xml")
    response.headers["Content-Security-Policy"] = charts.SVG_CONTENT_SECURITY_POLICY
    return response


@bp.route("/chart/world.svg")
def world_chart():
    """Draw the headline aggregate of one round on a world map (same filters as `/`; latest round by default)."""
    _releases, catalog = chosen_release()
    rows, round_, region = filtered_scores(catalog)
    map_round = maps.map_round(rows, round_)

    def draw() -> bytes:
        aggregation = catalog.release.aggregation
        entries = maps.map_entries(rows, countries=catalog.countries, aggregation=aggregation, round_name=map_round)
        title = f"Aggregate score ({aggregation}), round {map_round or '-'}" + (f", {region}" if region else "")
        return maps.world_map(entries, title=title)

    # The map is large and a release immutable: drawn once per release, round and region.
    return svg_response(catalog.memo.get(("world-svg", map_round, region), draw))


@bp.route("/chart/aggregates.svg")
def aggregates_chart():
    """Draw the headline aggregate of each country in one round as an SVG bar chart, highest first.

    Same filters as `/`; like the world map it shows one round, the latest unless `?round=` picks
    another (a bar per country-round of every round would be unreadable). Drawn once per release,
    round and region, then kept in the catalog's memo.
    """
    _releases, catalog = chosen_release()
    aggregation = catalog.release.aggregation
    rows, round_, region = filtered_scores(catalog, catalog.sorted_scores("-" + aggregation))
    shown = maps.map_round(rows, round_)

    def draw() -> bytes:
        drawn = [r for r in rows if r.round == shown]
        note = _chart_note(catalog.release, f"aggregate {aggregation}")
        title = f"Migrant rights in national law: aggregate score, round {shown or '-'}" + (f", {region}" if region else "")
        return charts.bar_chart([f"{r.name} ({r.iso3})" for r in drawn], [r.value(aggregation) for r in drawn], title=title, note=note)

    # The latest round by default and the same round asked for by name give the same figure: one entry.
    return svg_response(catalog.memo.get(("aggregates-svg", shown, region), draw))


def _chart_note(release, *details: str) -> str:
    """Return the provenance line printed under every chart of a release (marks synthetic data)."""
    note = ", ".join([f"rightsdb release {release.version}", f"scheme {release.scheme}", *details])
    return note + (" - synthetic demonstration data" if release.synthetic else "")


@bp.route("/chart/countries/<iso3>.svg")
def country_chart(iso3: str):
    """Draw a country's category scores in one round as an SVG bar chart."""
    _releases, catalog = chosen_release()
    rows = [r for r in catalog.scores if r.iso3 == iso3.upper()]
    round_ = request.args.get("round", "")
    if round_:
        rows = [r for r in rows if r.round == round_]
    if not rows:
        abort(404)
    row = rows[-1]

    def draw() -> bytes:
        codebook = get_codebook()
        labels = [c.name for c in codebook.categories]
        note = _chart_note(catalog.release)
        return charts.bar_chart(
            labels,
            [row.categories[c.id] for c in codebook.categories],
            title=f"{row.name} ({row.iso3}), {row.round}: score by category",
            note=note,
        )

    return svg_response(catalog.memo.get(("country-svg", row.iso3, row.round), draw))
