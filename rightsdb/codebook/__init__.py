"""The coding instrument (`indicators.yaml`): its validated model, its loading, and the answer scale's rules.

The codebook is the single source of truth: forms, citation rules, scoring and the export column
order are all derived from it. `rules` is the one place that says what each answer code means.
"""

from rightsdb.codebook.loading import CodebookError, Problem, load_codebook, parse_codebook, summary
from rightsdb.codebook.schema import Codebook, Indicator, Scheme

__all__ = ["Codebook", "CodebookError", "Indicator", "Problem", "Scheme", "load_codebook", "parse_codebook", "summary"]
