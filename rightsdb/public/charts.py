"""Server-rendered SVG charts (matplotlib, Agg backend), deterministic so a paper can reuse them.

Figures are made without pyplot (thread-safe under a web server). `svg.hashsalt` is fixed and the
metadata Date is None, so the same data gives the same bytes; text stays text (`svg.fonttype` none),
which keeps the file small and the labels selectable.
"""

from __future__ import annotations

import functools
import io
import threading
import warnings

import matplotlib

matplotlib.use("Agg")

from matplotlib import font_manager  # noqa: E402
from matplotlib.collections import PolyCollection  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ft2font import LoadFlags  # noqa: E402
from matplotlib.transforms import ScaledTranslation  # noqa: E402

RC = {"svg.hashsalt": "rightsdb", "svg.fonttype": "none", "font.size": 9, "font.family": "DejaVu Sans"}
BAR = "#0b5cad"
#: The policy an SVG figure is served under: its inline styles may apply (matplotlib and pygal write
#: them), nothing else may load and no script may run, even when the file is opened on its own.
SVG_CONTENT_SECURITY_POLICY = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"


def _render(figure: Figure, title: str, *, tight: bool = True) -> bytes:
    """Serialise a figure as SVG bytes with fixed metadata (`tight`: crop to the drawn extent, which draws twice)."""
    buffer = io.BytesIO()
    with matplotlib.rc_context(RC), warnings.catch_warnings():
        # A name in a script the font lacks still renders (as text in the SVG): not worth failing for.
        warnings.filterwarnings("ignore", message="Glyph .* missing from font")
        figure.savefig(
            buffer, format="svg", metadata={"Date": None, "Title": title, "Creator": "rightsdb"}, bbox_inches="tight" if tight else None
        )
    return buffer.getvalue()


_font_lock = threading.Lock()


@functools.lru_cache(maxsize=4096)
def _advance(char: str) -> float:
    """Return how far one character of the chart font advances the pen, in points at size 1 (kerning ignored)."""
    with _font_lock:  # the font object is matplotlib's own, not thread-safe: measure one character at a time
        font = font_manager.get_font(font_manager.findfont(font_manager.FontProperties(family=RC["font.family"])))
        if not font.get_char_index(ord(char)):
            return 1.0  # the font has no glyph for it (drawn as a box): one em, generous
        font.set_size(100, 72)
        return font.load_char(ord(char), flags=LoadFlags.NO_HINTING).linearHoriAdvance / 65536 / 100


def text_width(text: str, size: float) -> float:
    """Return the width in inches a line of text takes in the chart font at `size` points (slightly generous)."""
    return 1.03 * size * sum(_advance(c) for c in text) / 72


#: Bar chart geometry, in inches: the height per bar, the plot's width and the margins around it.
BAR_PITCH, PLOT_WIDTH, RIGHT, TOP, BOTTOM, LABEL_PAD, EDGE = 0.28, 4.6, 0.15, 0.45, 0.8, 4 / 72, 0.1


def bar_chart(labels: list[str], values: list[float | None], *, title: str, xlabel: str = "Score (%)", note: str = "") -> bytes:
    """Draw horizontal bars of scores between 0 and 1 (shown as percentages); missing values show as 'n/a'.

    Fast enough for a bar per country (bench/README.md has the figures; drawing tick labels and a
    cropping pass cost several times as much). The margins come from the measured widths of the labels,
    title and note instead of `bbox_inches="tight"` (which draws the whole figure twice); the labels
    are plain texts rather than axis ticks (a tick is five artists, laid out again for the title's
    position); the bars are one collection rather than a patch each. Text stays text in the SVG.
    """
    count = len(labels)
    left = EDGE + LABEL_PAD + max((text_width(label, RC["font.size"]) for label in labels), default=0)
    width = max(left + PLOT_WIDTH + RIGHT, left + text_width(title, 10) + EDGE, left + text_width(note, 7) + EDGE)
    height = TOP + BAR_PITCH * max(count, 1) + BOTTOM
    with matplotlib.rc_context(RC):
        figure = Figure(figsize=(width, height))
        figure.subplots_adjust(left=left / width, right=(left + PLOT_WIDTH) / width, top=1 - TOP / height, bottom=BOTTOM / height)
        axes = figure.add_subplot()
        # One rectangle per bar, drawn as one collection (each still its own <path> in the SVG).
        axes.add_collection(
            PolyCollection(
                [
                    [(0, y - 0.35), (0, y + 0.35), (w, y + 0.35), (w, y - 0.35)]
                    for y, w in enumerate(0 if v is None else v * 100 for v in values)
                ],
                facecolors=BAR,
                edgecolors="none",
            ),
            autolim=False,
        )
        for y, value in enumerate(values):
            text = "n/a" if value is None else f"{value * 100:.1f}"
            axes.text((value or 0) * 100 + 1, y, text, va="center", fontsize=8)
        # The labels sit left of the plot, right-aligned, a few points away from it.
        beside = axes.get_yaxis_transform() + ScaledTranslation(-LABEL_PAD, 0, figure.dpi_scale_trans)
        for y, label in enumerate(labels):
            axes.text(0, y, label, transform=beside, ha="right", va="center")
        axes.set_yticks([])
        axes.set_ylim(max(count, 1) - 0.5, -0.5)  # the first label on top
        axes.set_xlim(0, 110)
        axes.set_xticks([0, 20, 40, 60, 80, 100])
        axes.set_xlabel(xlabel)
        axes.set_title(title, loc="left", fontsize=10)
        axes.spines[["top", "right"]].set_visible(False)
        _add_note(axes, note)
        return _render(figure, title, tight=False)


def _add_note(axes, note: str) -> None:
    """Write the note (if any) below the axis label, so the source of the figure travels with it into a paper."""
    if note:
        axes.annotate(
            note, xy=(0, 0), xycoords="axes fraction", xytext=(0, -34), textcoords="offset points", fontsize=7, color="#555e68", va="top"
        )


RATING_COLOURS = {"red": "#c62828", "amber": "#e69b00", "green": "#2e7d32"}


def reliability_chart(
    labels: list[str], alphas: list[float | None], ratings: list[str], *, red: float, amber: float, title: str, note: str = ""
) -> bytes:
    """Draw Krippendorff's alpha per item as horizontal bars with the red and amber cut-offs as lines.

    An undefined alpha (no variation to measure) gets no bar and the word "undefined", never 0 or 1.
    """
    with matplotlib.rc_context(RC):
        height = max(1.8, 0.26 * len(labels) + 1.4)
        figure = Figure(figsize=(7.5, height))
        axes = figure.add_subplot()
        positions = list(range(len(labels)))
        low = min([-0.2, *(a for a in alphas if a is not None)])
        widths = [0 if a is None else a for a in alphas]
        colours = [RATING_COLOURS.get(r, "#9aa5b1") for r in ratings]
        axes.barh(positions, widths, color=colours, height=0.7)
        for y, alpha in zip(positions, alphas):
            if alpha is None:
                axes.text(0.01, y, "undefined", va="center", fontsize=8, color="#555e68", style="italic")
            else:
                axes.text(max(alpha, 0) + 0.01, y, f"{alpha:.3f}", va="center", fontsize=8)
        axes.axvline(red, color=RATING_COLOURS["red"], linestyle="--", linewidth=1)
        axes.axvline(amber, color=RATING_COLOURS["amber"], linestyle="--", linewidth=1)
        axes.axvline(0, color="#1f2933", linewidth=0.6)
        axes.set_yticks(positions, labels)
        axes.invert_yaxis()
        axes.set_xlim(low, 1.15)
        axes.set_xlabel(f"Krippendorff's alpha (nominal); red below {red:g}, amber below {amber:g}")
        axes.set_title(title, loc="left", fontsize=10)
        axes.spines[["top", "right"]].set_visible(False)
        # Name the cut-off lines at the top, where no bar hides them.
        for value, name, rise in ((red, "red", 2), (amber, "amber", 11)):
            axes.annotate(
                f"{name} below {value:g}",
                xy=(value, 1),
                xycoords=("data", "axes fraction"),
                xytext=(2, rise),
                textcoords="offset points",
                fontsize=7,
                color=RATING_COLOURS[name],
            )
        _add_note(axes, note)
        return _render(figure, title)
