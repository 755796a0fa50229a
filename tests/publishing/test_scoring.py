"""Scores against hand-computed examples (tiny codebook: AAA = AAA-01, AAA-02; BBB = BBB-01)."""

import pytest

from rightsdb.codebook.rules import ANSWER_CODES, binary_value
from rightsdb.publishing.scoring import Scores, indicator_score, score_answers, shade
from tests.conftest import TINY_CODEBOOK, load_codebook_once

TINY = load_codebook_once(TINY_CODEBOOK)


def test_binary_scheme_counts_conditional_as_one():
    result = score_answers({"AAA-01": "provided", "AAA-02": "conditional", "BBB-01": "not_provided"}, codebook=TINY)
    assert result.categories == {"AAA": 1.0, "BBB": 0.0}
    assert result.category_mean == pytest.approx(0.5)  # (1 + 0) / 2
    assert result.pooled == pytest.approx(2 / 3)  # (1 + 1 + 0) / 3


def test_strict_scheme_counts_conditional_as_half():
    result = score_answers({"AAA-01": "provided", "AAA-02": "conditional", "BBB-01": "not_provided"}, codebook=TINY, scheme_id="strict")
    assert result.categories == {"AAA": 0.75, "BBB": 0.0}
    assert result.category_mean == pytest.approx(0.375)  # (0.75 + 0) / 2
    assert result.pooled == pytest.approx(0.5)  # (1 + 0.5 + 0) / 3
    assert result.aggregate("pooled") == result.pooled


def test_not_applicable_leaves_the_denominator():
    result = score_answers({"AAA-01": "not_provided", "AAA-02": "not_applicable", "BBB-01": "provided"}, codebook=TINY)
    assert result.applicable == {"AAA": 1, "BBB": 1}
    assert result.categories == {"AAA": 0.0, "BBB": 1.0}
    assert result.category_mean == pytest.approx(0.5)
    assert result.pooled == pytest.approx(0.5)  # 1 / 2, not 1 / 3


def test_category_with_nothing_applicable_has_no_score_and_is_left_out_of_the_mean():
    result = score_answers({"AAA-01": "provided", "AAA-02": "not_provided", "BBB-01": "not_applicable"}, codebook=TINY, scheme_id="strict")
    assert result.categories == {"AAA": 0.5, "BBB": None}
    assert result.category_mean == pytest.approx(0.5)  # mean over AAA only
    assert result.pooled == pytest.approx(0.5)


def test_everything_not_applicable_gives_no_aggregate():
    result = score_answers({i: "not_applicable" for i in TINY.indicator_ids}, codebook=TINY)
    assert result == Scores(categories={"AAA": None, "BBB": None}, applicable={"AAA": 0, "BBB": 0}, category_mean=None, pooled=None)


def test_category_mean_and_pooled_differ_when_categories_have_different_sizes():
    # AAA: 2 of 2 provided -> 1.0; BBB: 0 of 1 -> 0.0. Mean of categories 0.5; pooled 2/3.
    result = score_answers({"AAA-01": "provided", "AAA-02": "provided", "BBB-01": "not_provided"}, codebook=TINY)
    assert (result.category_mean, round(result.pooled, 6)) == (0.5, 0.666667)


def test_indicator_score_and_binary_value():
    scheme = TINY.scheme("strict")
    assert [indicator_score(code, scheme) for code in ANSWER_CODES] == [1.0, 0.5, 0.0, None]
    assert [binary_value(code) for code in ANSWER_CODES] == [1, 1, 0, None]
    assert indicator_score(None, scheme) is None
    with pytest.raises(ValueError):
        indicator_score("maybe", scheme)
    with pytest.raises(ValueError):
        score_answers({}, codebook=TINY).aggregate("median")


def test_shading_classes():
    assert [shade(None), shade(0), shade(0.04), shade(0.66), shade(1)] == ["shade-na", "shade-0", "shade-0", "shade-7", "shade-10"]


def test_every_scheme_of_the_real_codebook_scores_every_answer(real_codebook):
    book = real_codebook
    for scheme in book.scoring.schemes:
        result = score_answers({i: "provided" for i in book.indicator_ids}, codebook=book, scheme_id=scheme.id)
        assert result.category_mean == 1.0 and result.pooled == 1.0
        assert set(result.categories) == {c.id for c in book.categories}
