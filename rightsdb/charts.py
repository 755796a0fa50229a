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
