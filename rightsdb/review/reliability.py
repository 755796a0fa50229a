"""Reliability tables: agreement between the two coders per round, category, indicator and coder pair.

A Unit is one (country, round, indicator) that two coders coded independently; `reliability_table`
groups units at each level and computes `agreement.agreement` for each group (the statistics and
why all four are reported are in `review.agreement`). `rate` turns Krippendorff's alpha into the
red, amber or green rating of the supervisor's page.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from rightsdb.review.agreement import MEASURES, UNDEFINED, agreement

__all__ = ["LEVELS", "Thresholds", "Unit", "coder_pair_label", "rate", "reliability_table"]


#: Grouping levels of :func:`reliability_table`, in output order.
LEVELS: tuple[str, ...] = ("round", "category", "indicator", "coder_pair")


# --------------------------------------------------------------------------
# Result type
# --------------------------------------------------------------------------


# --------------------------------------------------------------------------
# Krippendorff's alpha (general, nominal)
# --------------------------------------------------------------------------


# --------------------------------------------------------------------------
# Two-coder agreement
# --------------------------------------------------------------------------


# --------------------------------------------------------------------------
# Grouped reliability table
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Unit:
    """One (country, round, indicator) with the two coders' independent answers."""

    round: str
    country: str
    category: str
    indicator: str
    coder_pair: str
    value_a: str | None
    value_b: str | None


def coder_pair_label(coder_1: str, coder_2: str) -> str:
    """Return the order-independent label of a coder pair, e.g. "alice / bob"."""
    first, second = sorted((coder_1, coder_2))
    return f"{first} / {second}"


def reliability_table(units: Iterable[Unit], *, categories: Sequence[Hashable] | None = None) -> list[dict[str, Any]]:
    """Return one agreement row per round, and per round x (category, indicator, coder pair).

    Statistics are always computed within a round: pooling rounds would mix
    codings of different legal situations and coding instructions.  Rows are
    ordered by level ("round", "category", "indicator", "coder_pair"), then
    round, then key.  A group whose units all lack an answer still gets a row
    with ``n == 0`` and undefined statistics.
    """
    groups: dict[tuple[int, str, str], list[tuple[str | None, str | None]]] = {}
    for unit in units:
        pair = (unit.value_a, unit.value_b)
        for level_index, key in enumerate((unit.round, unit.category, unit.indicator, unit.coder_pair)):
            groups.setdefault((level_index, unit.round, key), []).append(pair)

    rows: list[dict[str, Any]] = []
    for level_index, round_, key in sorted(groups):
        result = agreement(groups[(level_index, round_, key)], categories=categories)
        measures = {m: getattr(result, m) for m in MEASURES}
        rows.append({"level": LEVELS[level_index], "round": round_, "key": key, **measures, "notes": "; ".join(result.notes)})
    return rows


# --------------------------------------------------------------------------
# Traffic-light rating
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Thresholds:
    """Alpha cut-offs: below ``red`` is red, below ``amber`` is amber, otherwise green."""

    red: float = 0.667
    amber: float = 0.8

    def __post_init__(self) -> None:
        """Reject thresholds where red lies above amber."""
        if self.red > self.amber:
            raise ValueError(f"red threshold {self.red} is above amber threshold {self.amber}")


def rate(alpha: float | None, thresholds: Thresholds = Thresholds()) -> str:
    """Rate an alpha as "red", "amber", "green" or "undefined".

    The defaults follow Krippendorff's guidance: alpha >= 0.800 is reliable,
    0.667 <= alpha < 0.800 only supports tentative conclusions, and anything
    lower is not acceptable.  The comparison uses the unrounded alpha, so a
    value shown as "0.667" may still be red if it is just below the cut-off.
    """
    if alpha is None or math.isnan(alpha):
        return UNDEFINED
    if alpha < thresholds.red:
        return "red"
    if alpha < thresholds.amber:
        return "amber"
    return "green"
