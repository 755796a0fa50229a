"""Server-rendered SVG charts (matplotlib, Agg backend), deterministic so a paper can reuse them.

Figures are made without pyplot (thread-safe under a web server). `svg.hashsalt` is fixed and the
metadata Date is None, so the same data gives the same bytes; text stays text (`svg.fonttype` none),
which keeps the file small and the labels selectable.
"""

from __future__ import annotations

import io
import warnings

import matplotlib

matplotlib.use("Agg")

from matplotlib.figure import Figure  # noqa: E402

RC = {"svg.hashsalt": "rightsdb", "svg.fonttype": "none", "font.size": 9, "font.family": "DejaVu Sans"}
BAR = "#0b5cad"
#: The policy an SVG figure is served under: its inline styles may apply (matplotlib and pygal write
#: them), nothing else may load and no script may run, even when the file is opened on its own.
SVG_CONTENT_SECURITY_POLICY = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"


def _render(figure: Figure, title: str) -> bytes:
    """Serialise a figure as SVG bytes with fixed metadata."""
    buffer = io.BytesIO()
    with matplotlib.rc_context(RC), warnings.catch_warnings():
        # A name in a script the font lacks still renders (as text in the SVG): not worth failing for.
        warnings.filterwarnings("ignore", message="Glyph .* missing from font")
        figure.savefig(buffer, format="svg", metadata={"Date": None, "Title": title, "Creator": "rightsdb"}, bbox_inches="tight")
    return buffer.getvalue()


def bar_chart(labels: list[str], values: list[float | None], *, title: str, xlabel: str = "Score (%)", note: str = "") -> bytes:
    """Draw horizontal bars of scores between 0 and 1 (shown as percentages); missing values show as 'n/a'."""
    with matplotlib.rc_context(RC):
        height = max(1.6, 0.28 * len(labels) + 1.1)
        figure = Figure(figsize=(7, height))
        axes = figure.add_subplot()
        positions = list(range(len(labels)))
        widths = [0 if v is None else v * 100 for v in values]
        axes.barh(positions, widths, color=BAR, height=0.7)
        for y, value in zip(positions, values):
            text = "n/a" if value is None else f"{value * 100:.1f}"
            axes.text((value or 0) * 100 + 1, y, text, va="center", fontsize=8)
        axes.set_yticks(positions, labels)
        axes.invert_yaxis()
        axes.set_xlim(0, 110)
        axes.set_xticks([0, 20, 40, 60, 80, 100])
        axes.set_xlabel(xlabel)
        axes.set_title(title, loc="left", fontsize=10)
        axes.spines[["top", "right"]].set_visible(False)
        if note:
            # Below the axis label, so the source of the figure travels with it into a paper.
            axes.annotate(note, xy=(0, 0), xycoords="axes fraction", xytext=(0, -34), textcoords="offset points", fontsize=7, color="#555e68", va="top")
        return _render(figure, title)


RATING_COLOURS = {"red": "#c62828", "amber": "#e69b00", "green": "#2e7d32"}


def reliability_chart(labels: list[str], alphas: list[float | None], ratings: list[str], *, red: float, amber: float, title: str, note: str = "") -> bytes:
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
            axes.annotate(f"{name} below {value:g}", xy=(value, 1), xycoords=("data", "axes fraction"), xytext=(2, rise),
                          textcoords="offset points", fontsize=7, color=RATING_COLOURS[name])
        if note:
            axes.annotate(note, xy=(0, 0), xycoords="axes fraction", xytext=(0, -34), textcoords="offset points", fontsize=7, color="#555e68", va="top")
        return _render(figure, title)
