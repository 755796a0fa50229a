"""Inter-coder reliability for double-coded legal indicators.

Every unit of analysis is one (country, round, indicator) that two coders
code independently with one nominal answer ("provided", "conditional",
"not_provided", "not_applicable").  Reliability is computed on those
independent, submitted codings -- never on reconciled values -- and is
reported per round, and within a round per category, per indicator and per
coder pair.

Four statistics are reported side by side, always together with ``n`` (the
number of units coded by both coders) and the prevalence of the most frequent
answer:

* percent agreement: the share of units on which both coders gave the same
  answer.  Easy to read, but takes no account of chance agreement.
* Cohen's kappa: ``(po - pe) / (1 - pe)``, chance agreement ``pe`` from the
  product of each coder's own marginal distribution.
* Krippendorff's alpha at the NOMINAL level of measurement: ``1 - Do / De``
  from the coincidence matrix, with a small-sample correction; it handles
  missing values and any number of coders.
* Gwet's AC1: ``(pa - pe) / (1 - pe)`` with chance agreement
  ``pe = 1/(q-1) * sum_k pi_k (1 - pi_k)``, ``pi_k`` being the mean of the
  two coders' marginal proportions for answer ``k`` and ``q`` the number of
  possible answers.

Why all four: legal indicators are often highly skewed (nearly every country
"provides" a right).  Under high prevalence the chance agreement expected by
kappa and alpha approaches the observed agreement, so both statistics
collapse towards zero (or below) even when the coders agree on, say, 95% of
units -- the so-called kappa paradox.  AC1 is far less sensitive to
prevalence.  Reporting every statistic with ``n`` and the prevalence lets a
reader tell real disagreement from a prevalence artefact.

A statistic that is mathematically undefined (no units, no variation in the
data, fewer than two possible answers) is reported as ``None`` -- shown as
"undefined" -- together with a human-readable note, and is never silently
replaced by 0 or 1.

This module is pure domain logic: it depends only on the standard library,
numpy and the ``krippendorff`` package.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import krippendorff
import numpy as np

_STATISTICS: tuple[str, ...] = ("percent_agreement", "cohen_kappa", "krippendorff_alpha", "gwet_ac1")


UNDEFINED = "undefined"


#: What every agreement figure reports, in this order: n, the four statistics and the prevalence.
MEASURES: tuple[str, ...] = ("n", *_STATISTICS, "prevalence", "prevalent_value")


@dataclass(frozen=True)
class Measures:
    """The `MEASURES` of two coders' agreement over a set of units (None: undefined)."""

    n: int
    percent_agreement: float | None
    cohen_kappa: float | None
    krippendorff_alpha: float | None
    gwet_ac1: float | None
    prevalence: float | None
    prevalent_value: str | None

    def display(self, name: str, digits: int = 3) -> str:
        """Return the named measure formatted for display, or "undefined" if None."""
        if name not in MEASURES:
            raise ValueError(f"unknown statistic {name!r}; expected one of {', '.join(MEASURES)}")
        value = getattr(self, name)
        if value is None:
            return UNDEFINED
        if isinstance(value, float):
            return _format_float(value, digits)
        return str(value)


@dataclass(frozen=True)
class Agreement(Measures):
    """Agreement statistics for two coders over a set of units, with the reasons any is undefined."""

    notes: tuple[str, ...] = ()


def _format_float(value: float, digits: int) -> str:
    """Format a float with fixed decimals, avoiding a spurious "-0.000"."""
    if not math.isfinite(value):
        return UNDEFINED
    text = f"{value:.{digits}f}"
    if text.startswith("-") and float(text) == 0.0:
        text = text[1:]
    return text


def _is_missing(value: Any) -> bool:
    """Return True for None and for float NaN."""
    if value is None:
        return True
    if isinstance(value, (float, np.floating)):
        return bool(np.isnan(value))
    return False


def _nominal_alpha_with_reason(reliability_data: Iterable[Iterable[Hashable | None]]) -> tuple[float | None, str | None]:
    """Compute nominal alpha; return (alpha, None) or (None, reason it is undefined)."""
    rows = [list(row) for row in reliability_data]
    if not rows or not rows[0]:
        return None, "no data"
    n_units = len(rows[0])
    if any(len(row) != n_units for row in rows):
        raise ValueError("reliability_data must be a rectangular coders x units matrix")

    codes: dict[Hashable, int] = {}
    matrix = np.full((len(rows), n_units), np.nan, dtype=np.float64)
    for i, row in enumerate(rows):
        for j, value in enumerate(row):
            if not _is_missing(value):
                matrix[i, j] = codes.setdefault(value, len(codes))
    return _nominal_alpha_of_matrix(matrix)


def _nominal_alpha_of_matrix(matrix: np.ndarray) -> tuple[float | None, str | None]:
    """Compute nominal alpha of a coders x units matrix of numeric codes (NaN: missing)."""
    # Only values in pairable units (coded by at least two coders) enter the
    # coincidence matrix.  Check the conditions under which alpha is undefined
    # here, so that the package neither raises nor divides 0 by 0.
    observed = ~np.isnan(matrix)
    pairable = observed.sum(axis=0) >= 2
    if not pairable.any():
        return None, "no unit was coded by two or more coders"
    pairable_values = np.unique(matrix[:, pairable][observed[:, pairable]])
    if len(pairable_values) < 2:
        return None, "no variation (every pairable value is the same), expected disagreement is 0"

    try:
        with np.errstate(all="raise"):
            value = float(krippendorff.alpha(reliability_data=matrix, level_of_measurement="nominal"))
    except (ValueError, FloatingPointError, ZeroDivisionError) as exc:
        return None, f"cannot be computed ({exc})"
    if not math.isfinite(value):
        return None, "expected disagreement is 0"
    return value, None


def nominal_alpha(reliability_data: Iterable[Iterable[Hashable | None]]) -> float | None:
    """Krippendorff's alpha at the nominal level for a coders x units matrix (None if undefined).

    Missing values are ``None`` or NaN.  Values may be any hashable labels
    (strings, integers); they are mapped to integer codes, which is safe only
    because the nominal metric ignores order and distance.  The
    ``krippendorff`` package defaults to the *interval* level, so the nominal
    level is always passed explicitly.  Alpha is undefined (``None``) when no
    unit is pairable or when all pairable values are identical (expected
    disagreement 0).
    """
    return _nominal_alpha_with_reason(reliability_data)[0]


def _cohen_kappa(n: int, agreements: int, counts_a: Counter, counts_b: Counter) -> float | None:
    """Cohen's kappa from counts, computed exactly; None when pe == 1."""
    # po = agreements / n, pe = sum_k a_k b_k / n^2, so
    # kappa = (agreements * n - sum_k a_k b_k) / (n^2 - sum_k a_k b_k).
    chance = sum(counts_a[k] * counts_b[k] for k in counts_a)
    denominator = n * n - chance
    if denominator == 0:
        return None
    return float(Fraction(agreements * n - chance, denominator))


def _gwet_ac1(n: int, agreements: int, counts_total: Counter, q: int) -> float | None:
    """Gwet's AC1 for two raters, computed exactly; None when q < 2."""
    if q < 2:
        return None
    pa = Fraction(agreements, n)
    # pi_k = (a_k + b_k) / (2n): the mean of the two coders' marginal proportions.
    pe = sum((Fraction(c, 2 * n) * (1 - Fraction(c, 2 * n)) for c in counts_total.values()), Fraction(0)) / (q - 1)
    if pe == 1:  # cannot happen for q >= 2 (pe <= 1/q), kept as a guard
        return None
    return float((pa - pe) / (1 - pe))


def agreement(pairs: Iterable[tuple[Hashable | None, Hashable | None]], *, categories: Sequence[Hashable] | None = None) -> Agreement:
    """Compute percent agreement, Cohen's kappa, nominal alpha and Gwet's AC1 for two coders.

    ``pairs`` holds one ``(value_a, value_b)`` per unit.  A unit where either
    coder gave no answer (``None``) is skipped and does not count towards
    ``n``: every statistic is computed on the same complete pairs, so they are
    comparable.

    ``categories`` is the set of possible answers.  It only changes Gwet's
    AC1, whose chance correction depends on the number ``q`` of possible
    answers; without it, ``q`` is the number of distinct answers observed.
    A value outside ``categories`` raises ``ValueError``.

    Undefined statistics are ``None`` with a reason in ``notes``: kappa and
    alpha are undefined when both coders used one and the same value
    throughout (expected chance agreement is 1, so a perfect-looking 1.0
    would be meaningless); AC1 is undefined when ``q < 2``.  All four
    statistics are symmetric in the two coders.
    """
    # `x == x` is False only for NaN: the same test as _is_missing, without a call per value
    # (reliability tables at world scale hold ~150,000 pairs).
    complete = [(a, b) for a, b in pairs if a is not None and b is not None and a == a and b == b]
    n = len(complete)
    if n == 0:
        undefined = dict.fromkeys(m for m in MEASURES if m != "n")
        return Agreement(n=0, **undefined, notes=("all statistics undefined: no unit coded by both coders (n = 0)",))

    counts_a = Counter(a for a, _ in complete)
    counts_b = Counter(b for _, b in complete)
    counts_total = counts_a + counts_b

    if categories is not None:
        category_list = list(dict.fromkeys(categories))
        unknown = set(counts_total) - set(category_list)
        if unknown:
            raise ValueError(f"values not in categories: {', '.join(sorted(map(str, unknown)))}")
        q = len(category_list)
    else:
        category_list = sorted(counts_total, key=str)
        q = len(counts_total)

    notes: list[str] = []
    agreements = sum(1 for a, b in complete if a == b)
    percent = agreements / n

    kappa = _cohen_kappa(n, agreements, counts_a, counts_b)
    if kappa is None:
        notes.append("kappa undefined: no variation (both coders used one value throughout)")

    # Every pair is complete: code the values with one dict lookup each, no missing-value checks.
    codes = {value: code for code, value in enumerate(counts_total)}
    alpha, reason = _nominal_alpha_of_matrix(np.array([[codes[a] for a, _ in complete], [codes[b] for _, b in complete]], dtype=np.float64))
    if alpha is None:
        notes.append(f"alpha undefined: {reason}")

    ac1 = _gwet_ac1(n, agreements, counts_total, q)
    if ac1 is None:
        notes.append(f"AC1 undefined: fewer than two possible categories (q = {q}); pass the answer categories to define it")

    # Most frequent answer over all 2n ratings; ties broken by category order
    # (or by sorted label when no categories are given) for determinism.
    order = {value: i for i, value in enumerate(category_list)}
    prevalent, top = max(counts_total.items(), key=lambda item: (item[1], -order[item[0]]))
    return Agreement(
        n=n,
        percent_agreement=percent,
        cohen_kappa=kappa,
        krippendorff_alpha=alpha,
        gwet_ac1=ac1,
        prevalence=top / (2 * n),
        prevalent_value=str(prevalent),
        notes=tuple(notes),
    )
