"""Scores from final answers, under a scoring scheme of the codebook, and their aggregation.

Pure functions: no database, no Flask. For one country in one round:

- indicator score  s_i = scheme.scores[answer_i]  (not_applicable scores None and is left out)
- category score   S_c = sum(s_i for applicable i in c) / n_c, where n_c is the number of applicable
  indicators of category c; a category with n_c = 0 has no score (None).
- category_mean    A   = sum(S_c for scored c) / C, C being the number of categories with a score
  (the unweighted mean of category scores, the default).
- pooled           P   = sum(s_i for all applicable i) / n, n being the number of applicable indicators
  (the share over all indicators together, so large categories weigh more).

An unanswered indicator (no final value) is treated like not_applicable: it has no score and leaves
the denominator; releases only contain final country-rounds, so this does not arise there.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from rightsdb.codebook import Codebook, Scheme

AGGREGATIONS = ("category_mean", "pooled")

#: The formulas, as written in every release README (and the project README).
FORMULAS = """\
- Indicator score: s_i = the scheme's score for the final answer of indicator i
  (not_applicable has no score: it leaves the denominator).
- Category score: S_c = (sum of s_i over the applicable indicators of category c) / n_c,
  where n_c is the number of applicable indicators in c; a category with n_c = 0 has no score.
- Aggregate "category_mean" (default): A = (sum of S_c over the categories with a score) / C,
  where C is the number of categories with a score (unweighted mean of category scores).
- Aggregate "pooled": P = (sum of s_i over all applicable indicators) / n,
  where n is the number of applicable indicators in all categories together.
- Binary value (the published MRD coding): provided = 1, conditional = 1, not_provided = 0,
  not_applicable = empty."""


@dataclass(frozen=True)
class Scores:
    """The scores of one country in one round."""

    categories: dict[str, float | None]
    applicable: dict[str, int] = field(default_factory=dict)
    category_mean: float | None = None
    pooled: float | None = None

    def aggregate(self, aggregation: str) -> float | None:
        """Return the aggregate named `category_mean` or `pooled`."""
        if aggregation not in AGGREGATIONS:
            raise ValueError(f"unknown aggregation {aggregation!r}; expected one of {', '.join(AGGREGATIONS)}")
        return getattr(self, aggregation)


def indicator_score(answer: str | None, scheme: Scheme) -> float | None:
    """Return an answer's score under a scheme (None for not applicable or unanswered)."""
    if answer is None:
        return None
    if answer not in scheme.scores:
        raise ValueError(f"answer {answer!r} has no score in scheme {scheme.id!r}")
    value = scheme.scores[answer]
    return None if value is None else float(value)


def score_answers(answers: Mapping[str, str | None], *, codebook: Codebook, scheme_id: str | None = None) -> Scores:
    """Score one country-round from its final answers (indicator id -> answer code)."""
    scheme = codebook.scheme(scheme_id)
    categories: dict[str, float | None] = {}
    applicable: dict[str, int] = {}
    pooled_sum = 0.0
    pooled_n = 0
    for category in codebook.categories:
        values = [indicator_score(answers.get(i.id), scheme) for i in codebook.indicators_by_category[category.id]]
        values = [v for v in values if v is not None]
        applicable[category.id] = len(values)
        categories[category.id] = sum(values) / len(values) if values else None
        pooled_sum += sum(values)
        pooled_n += len(values)
    scored = [s for s in categories.values() if s is not None]
    return Scores(
        categories=categories,
        applicable=applicable,
        category_mean=sum(scored) / len(scored) if scored else None,
        pooled=pooled_sum / pooled_n if pooled_n else None,
    )


def shade(score: float | None) -> str:
    """Return the CSS shading class of a score (shade-0..shade-10, shade-na when there is none)."""
    if score is None:
        return "shade-na"
    return f"shade-{max(0, min(10, int(round(score * 10))))}"
