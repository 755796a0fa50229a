"""The real instrument (indicators.yaml): its published shape, unique ids, categories, scoring schemes, guidance and provenance."""

from __future__ import annotations

from collections import Counter

import pytest

from rightsdb.codebook import Codebook, summary
from rightsdb.codebook.rules import ANSWER_CODES

PROPOSED_CATEGORIES = {"EQP", "VIC", "CIV"}  # not named in any source: /work/shared/codebook-facts.md


@pytest.fixture(scope="session")
def real(real_codebook) -> Codebook:
    """The real instrument, parsed once per session (tests/conftest.py)."""
    return real_codebook


def test_real_codebook_loads_with_the_published_shape(real):
    # Counted here, in the test, from the loaded file: the code itself never hard-codes 17 or 65.
    assert len(real.categories) == 17
    assert len(real.indicators) == 65
    assert real.version == real.codebook.version


def test_real_codebook_ids_are_unique(real):
    assert [i for i, n in Counter(real.indicator_ids).items() if n > 1] == []
    assert [c for c, n in Counter(c.id for c in real.categories).items() if n > 1] == []


def test_every_indicator_belongs_to_a_defined_category_with_the_same_article(real):
    for indicator in real.indicators:
        category = real.categories_by_id.get(indicator.category)
        assert category is not None, indicator.id
        assert indicator.imbr_article == category.imbr_article, indicator.id
        assert indicator.id.split("-")[0] == category.id, indicator.id


def test_every_category_has_at_least_one_indicator(real):
    counts = Counter(i.category for i in real.indicators)
    assert {c.id: counts[c.id] for c in real.categories if counts[c.id] < 1} == {}
    assert sum(n for _, _, n in summary(real)) == len(real.indicators)


def test_every_scheme_scores_every_answer(real):
    assert real.scoring.default_scheme in real.schemes_by_id
    for scheme in real.scoring.schemes:
        assert set(scheme.scores) == set(ANSWER_CODES), scheme.id
        assert scheme.scores["not_applicable"] is None, scheme.id
        for code in ANSWER_CODES[:-1]:
            assert 0 <= scheme.scores[code] <= 1, (scheme.id, code)
        assert scheme.scores["provided"] == 1 and scheme.scores["not_provided"] == 0, scheme.id


def test_answers_are_the_closed_scale(real):
    assert tuple(a.code for a in real.answers) == ANSWER_CODES
    assert all(a.label.strip() for a in real.answers)


def test_every_indicator_has_guidance_for_each_answer_code(real):
    instruments = set(real.instrument_labels)
    for indicator in real.indicators:
        assert indicator.question.strip(), indicator.id
        for code in ANSWER_CODES:
            assert getattr(indicator.guidance, code).strip(), (indicator.id, code)
        assert set(indicator.guidance.sources) <= instruments, indicator.id


def test_provenance_is_marked_and_unnamed_categories_are_proposed(real):
    for item in [*real.categories, *real.indicators]:
        assert item.provenance in ("evidenced", "proposed"), item.id
    proposed = {c.id for c in real.categories if c.provenance == "proposed"}
    assert PROPOSED_CATEGORIES <= proposed
    # An indicator of a proposed category cannot itself be evidenced.
    for indicator in real.indicators:
        if indicator.category in PROPOSED_CATEGORIES:
            assert indicator.provenance == "proposed", indicator.id
