"""Server-rendered world map of aggregate scores (pygal + pygal_maps_world), deterministic and script-free.

pygal writes a random chart id, today's date in a comment and an inline configuration <script> into
every SVG, and by default links a tooltip script from a CDN. None of that suits a page under a strict
Content-Security-Policy or a figure that must be byte-identical for the same release, so the chart is
built with `js=[]` and a fixed id, and comments, scripts and inline opacity styles are removed after
rendering. Countries are keyed by lowercase ISO 3166 alpha-2 code; fictional (user-assigned) codes and
the few real territories the base map lacks (e.g. Kosovo) are reported as "not on the map".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pygal.style import Style
from pygal_maps_world.maps import WORLD_MAP, World

from rightsdb import process

process.drop_pygal_import_hook()  # imported above: the hook is pygal's, added on that import

#: Score bands drawn on the map (lower bound inclusive, upper exclusive except the last), low to high.
BANDS = ((0.0, 0.2), (0.2, 0.4), (0.4, 0.6), (0.6, 0.8), (0.8, 1.0))
#: One colour per band, red (few rights provided) to teal (many), readable by most colour-blind viewers.
BAND_COLOURS = ("#c8553d", "#f28f3b", "#e9c46a", "#8ab17d", "#2a9d8f")
NO_SCORE_COLOUR = "#b0b7bf"
CHART_ID = "rightsdb-world-map"
#: Every area the base map can draw, by lowercase alpha-2 code (read from the map itself).
MAP_CODES = frozenset(re.findall(r'class="(\w\w) country map-element"', WORLD_MAP))

_COMMENT = re.compile(rb"<!--.*?-->", re.S)
_SCRIPT = re.compile(rb"<script\b[^>]*?(?:/>|>.*?</script>)", re.S)
_INLINE_STYLE = re.compile(rb' style="[^"]*"')


@dataclass(frozen=True)
class MapEntry:
    """One country to place on the map: its codes, name, score (0..1 or None) and whether it is fictional."""

    iso2: str
    iso3: str
    name: str
    score: float | None
    synthetic: bool = False


def band_label(index: int) -> str:
    """Name a score band as a percentage range, e.g. "20-40%"."""
    low, high = BANDS[index]
    return f"{low * 100:.0f}-{high * 100:.0f}%"


def band_of(score: float) -> int:
    """Return the index of the band a score (0..1) falls in."""
    for index, (_low, high) in enumerate(BANDS):
        if score < high:
            return index
    return len(BANDS) - 1


def on_map(entry: MapEntry) -> bool:
    """Tell whether a country has territory on the base map (fictional jurisdictions never do)."""
    return not entry.synthetic and entry.iso2.lower() in MAP_CODES


def split_entries(entries: list[MapEntry]) -> tuple[list[MapEntry], list[MapEntry]]:
    """Split entries into (drawn on the map, left off the map), each sorted by ISO3."""
    drawn = sorted((e for e in entries if on_map(e)), key=lambda e: e.iso3)
    left_off = sorted((e for e in entries if not on_map(e)), key=lambda e: e.iso3)
    return drawn, left_off


def _clean(svg: bytes) -> bytes:
    """Strip comments (pygal dates them), scripts and inline styles from the rendered SVG."""
    svg = _COMMENT.sub(b"", svg)
    svg = _SCRIPT.sub(b"", svg)
    return _INLINE_STYLE.sub(b"", svg)


def world_map(entries: list[MapEntry], *, title: str) -> bytes:
    """Draw the entries' scores on a world map in five bands; returns deterministic SVG bytes without scripts."""
    drawn, _left_off = split_entries(entries)
    style = Style(
        colors=BAND_COLOURS + (NO_SCORE_COLOUR,),
        background="white",
        plot_background="white",
        foreground="#1f2933",
        foreground_strong="#1f2933",
        foreground_subtle="#555e68",
        font_family="DejaVu Sans, sans-serif",
        title_font_size=16,
        legend_font_size=13,
    )
    chart = World(
        js=[],
        style=style,
        title=title,
        legend_at_bottom=True,
        legend_at_bottom_columns=len(BANDS) + 1,
        disable_xml_declaration=False,
        show_legend=True,
        value_formatter=lambda v: f"{v:.1f}%",
        width=900,
        height=520,
    )
    # pygal draws a random uuid into ids and CSS selectors; a fixed one keeps the bytes stable.
    chart.uuid = CHART_ID
    bands: list[dict[str, float]] = [{} for _ in BANDS]
    unscored = []
    for entry in drawn:
        if entry.score is None:
            unscored.append(entry.iso2.lower())
        else:
            bands[band_of(entry.score)][entry.iso2.lower()] = round(entry.score * 100, 1)
    for index, values in enumerate(bands):
        chart.add(band_label(index), values)
    if unscored:
        chart.add("no score", {code: 0 for code in unscored})
    return _clean(chart.render())


def map_round(rows: list, chosen: str = "") -> str | None:
    """Return the round a map shows: the chosen one, else the one with the latest reference date among `rows`."""
    if chosen:
        return chosen
    latest = max(rows, key=lambda r: (r.reference_date, r.round), default=None)
    return None if latest is None else latest.round


def map_entries(rows: list, *, countries: dict[str, dict], aggregation: str, round_name: str | None) -> list[MapEntry]:
    """Turn a release's score rows (one round) into map entries keyed by the countries' alpha-2 codes."""
    entries = []
    for row in rows:
        if row.round != round_name:
            continue
        country = countries.get(row.iso3, {})
        entries.append(
            MapEntry(
                iso2=country.get("iso2", ""),
                iso3=row.iso3,
                name=row.name,
                score=row.value(aggregation),
                synthetic=bool(country.get("synthetic")),
            )
        )
    return sorted(entries, key=lambda e: e.iso3)
