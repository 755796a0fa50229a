"""Tests for rightsdb.reliability (inter-coder agreement statistics)."""

from __future__ import annotations

import math
from collections import Counter

import krippendorff
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rightsdb.codebook.rules import ANSWER_CODES
from rightsdb.review.agreement import Agreement, agreement, nominal_alpha
from rightsdb.review.reliability import Thresholds, Unit, coder_pair_label, rate, reliability_table

P, C, NP, NA = "provided", "conditional", "not_provided", "not_applicable"

# Krippendorff (2011), "Computing Krippendorff's alpha-reliability", the
# example with 4 observers x 12 units and missing data (None = '*').
KRIPPENDORFF_2011 = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None],  # observer A
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3],  # observer B
    [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None],  # observer C
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None],  # observer D
]


def _as_float_matrix(data):
    return np.array([[np.nan if v is None else v for v in row] for row in data], dtype=float)


def _reference_alpha_two_coders(pairs):
    """Independent nominal alpha for 2 coders, no missing data (Krippendorff's formula).

    With N = 2n pairable values, value totals n_c and d disagreeing units:
    alpha = 1 - (N - 1) * 2d / (N^2 - sum_c n_c^2).
    """
    n_values = 2 * len(pairs)
    totals = Counter(a for a, _ in pairs) + Counter(b for _, b in pairs)
    disagreements = sum(1 for a, b in pairs if a != b)
    denominator = n_values**2 - sum(c * c for c in totals.values())
    return 1 - (n_values - 1) * 2 * disagreements / denominator


# --------------------------------------------------------------------------
# Krippendorff's alpha against the published example
# --------------------------------------------------------------------------


def test_nominal_alpha_matches_krippendorff_2011_example():
    assert round(nominal_alpha(KRIPPENDORFF_2011), 3) == 0.743


def test_nominal_alpha_accepts_nan_and_string_labels():
    as_nan = _as_float_matrix(KRIPPENDORFF_2011)
    as_labels = [[None if v is None else f"code{v}" for v in row] for row in KRIPPENDORFF_2011]
    expected = nominal_alpha(KRIPPENDORFF_2011)
    assert nominal_alpha(as_nan) == pytest.approx(expected)
    assert nominal_alpha(as_labels) == pytest.approx(expected)


def test_krippendorff_package_defaults_to_interval_level():
    # Documents why the nominal level must be passed explicitly: the package's
    # default (interval) treats the codes as numbers and gives a different value.
    data = _as_float_matrix(KRIPPENDORFF_2011)
    assert round(krippendorff.alpha(reliability_data=data), 3) == 0.849
    assert round(krippendorff.alpha(reliability_data=data, level_of_measurement="interval"), 3) == 0.849
    assert round(krippendorff.alpha(reliability_data=data, level_of_measurement="nominal"), 3) == 0.743


def test_nominal_alpha_undefined_cases_do_not_raise_or_warn():
    # One value throughout.
    assert nominal_alpha([[1, 1, 1], [1, 1, 1]]) is None
    # No unit coded by two coders.
    assert nominal_alpha([[1, None], [None, 2]]) is None
    # A second value occurs only in an unpairable unit: expected disagreement
    # is 0 (the package would divide 0 by 0 here).
    assert nominal_alpha([[1, 1, 2], [1, 1, None]]) is None
    # Empty matrix.
    assert nominal_alpha([]) is None


def test_nominal_alpha_rejects_ragged_matrix():
    with pytest.raises(ValueError):
        nominal_alpha([[1, 2, 3], [1, 2]])


# --------------------------------------------------------------------------
# Hand-computed kappa and AC1
# --------------------------------------------------------------------------


def _two_by_two():
    # 20 yes/yes, 5 yes/no, 10 no/yes, 15 no/no (n = 50).
    return [("yes", "yes")] * 20 + [("yes", "no")] * 5 + [("no", "yes")] * 10 + [("no", "no")] * 15


def test_cohen_kappa_hand_computed_two_by_two():
    # po = 35/50 = 0.7
    # coder A: yes 25/50 = 0.5, coder B: yes 30/50 = 0.6
    # pe = 0.5*0.6 + 0.5*0.4 = 0.5 -> kappa = (0.7 - 0.5) / (1 - 0.5) = 0.4
    result = agreement(_two_by_two())
    assert result.n == 50
    assert result.percent_agreement == pytest.approx(0.7)
    assert result.cohen_kappa == pytest.approx(0.4)
    assert result.notes == ()


def test_gwet_ac1_hand_computed_two_by_two():
    # pi_yes = (25/50 + 30/50) / 2 = 0.55, pi_no = 0.45, q = 2
    # pe_g = 1/(2-1) * (0.55*0.45 + 0.45*0.55) = 0.495
    # AC1 = (0.7 - 0.495) / (1 - 0.495) = 0.205 / 0.505 = 0.405940...
    result = agreement(_two_by_two())
    assert result.gwet_ac1 == pytest.approx(0.205 / 0.505)
    assert round(result.gwet_ac1, 5) == 0.40594


def test_gwet_ac1_uses_number_of_categories_when_given():
    # Same table with 4 possible answers: pe_g = 0.495 / (4 - 1) = 0.165
    # AC1 = (0.7 - 0.165) / (1 - 0.165) = 0.535 / 0.835
    pairs = [(P if a == "yes" else NP, P if b == "yes" else NP) for a, b in _two_by_two()]
    with_categories = agreement(pairs, categories=ANSWER_CODES)
    assert with_categories.gwet_ac1 == pytest.approx(0.535 / 0.835)
    # Kappa and alpha do not depend on the category list.
    without = agreement(pairs)
    assert with_categories.cohen_kappa == pytest.approx(without.cohen_kappa)
    assert with_categories.krippendorff_alpha == pytest.approx(without.krippendorff_alpha)


def test_alpha_in_agreement_matches_reference_formula():
    pairs = _two_by_two()
    # N = 100, n_yes = 55, n_no = 45, d = 15:
    # alpha = 1 - 99 * 30 / (10000 - 3025 - 2025) = 1 - 2970/4950 = 0.4
    assert agreement(pairs).krippendorff_alpha == pytest.approx(0.4)
    assert agreement(pairs).krippendorff_alpha == pytest.approx(_reference_alpha_two_coders(pairs))


def test_values_outside_categories_are_rejected():
    with pytest.raises(ValueError, match="not in categories"):
        agreement([(P, "maybe")], categories=ANSWER_CODES)


# --------------------------------------------------------------------------
# Undefined, paradox and perfect cases
# --------------------------------------------------------------------------


def test_no_variation_is_undefined_not_one():
    result = agreement([(P, P)] * 12)
    assert result.n == 12
    assert result.percent_agreement == 1.0
    assert result.cohen_kappa is None
    assert result.krippendorff_alpha is None
    assert result.gwet_ac1 is None  # q = 1 observed value
    assert result.prevalence == 1.0
    assert result.prevalent_value == P
    joined = " ".join(result.notes)
    assert "kappa undefined: no variation" in joined
    assert "alpha undefined" in joined
    assert "AC1 undefined" in joined
    assert result.display("cohen_kappa") == "undefined"
    assert result.display("krippendorff_alpha") == "undefined"
    assert result.display("percent_agreement") == "1.000"
    assert rate(result.krippendorff_alpha) == "undefined"


def test_no_variation_with_categories_defines_ac1_only():
    result = agreement([(P, P)] * 12, categories=ANSWER_CODES)
    assert result.cohen_kappa is None
    assert result.krippendorff_alpha is None
    # q = 4: pi_provided = 1 -> pe_g = 0 -> AC1 = pa = 1.0
    assert result.gwet_ac1 == 1.0
    assert not any("AC1" in note for note in result.notes)


def test_high_prevalence_paradox():
    # 95 provided/provided, 3 provided/not_provided, 2 not_provided/provided,
    # no not_provided/not_provided.
    pairs = [(P, P)] * 95 + [(P, NP)] * 3 + [(NP, P)] * 2
    result = agreement(pairs)
    assert result.n == 100
    assert result.percent_agreement == pytest.approx(0.95)
    # pe = (98*97 + 2*3) / 100^2 = 0.9512 -> kappa = (0.95 - 0.9512) / 0.0488
    assert result.cohen_kappa == pytest.approx((0.95 - 0.9512) / 0.0488)
    assert result.cohen_kappa <= 0
    # alpha = 1 - 199 * 10 / (200^2 - 195^2 - 5^2) = 1 - 1990/1950
    assert result.krippendorff_alpha == pytest.approx(1 - 1990 / 1950)
    assert abs(result.krippendorff_alpha) < 0.05
    # pi_p = 0.975 -> pe_g = 2 * 0.975 * 0.025 = 0.04875 -> AC1 = 0.90125 / 0.95125
    assert result.gwet_ac1 == pytest.approx(0.90125 / 0.95125)
    assert result.gwet_ac1 > 0.9
    assert result.prevalence == pytest.approx(0.975)
    assert result.prevalent_value == P
    assert result.notes == ()
    assert rate(result.krippendorff_alpha) == "red"


def test_perfect_agreement_with_variation():
    pairs = [(P, P)] * 4 + [(C, C)] * 3 + [(NP, NP)] * 2 + [(NA, NA)]
    result = agreement(pairs, categories=ANSWER_CODES)
    assert result.percent_agreement == 1.0
    assert result.cohen_kappa == 1.0
    assert result.krippendorff_alpha == 1.0
    assert result.gwet_ac1 == 1.0
    assert result.prevalence == pytest.approx(0.4)
    assert result.notes == ()
    assert result.display("krippendorff_alpha") == "1.000"
    assert rate(result.krippendorff_alpha) == "green"


def test_complete_disagreement_is_defined_and_negative():
    result = agreement([(P, NP), (NP, P)])
    assert result.percent_agreement == 0.0
    assert result.cohen_kappa == pytest.approx(-1.0)
    assert result.krippendorff_alpha is not None and result.krippendorff_alpha < 0
    assert result.gwet_ac1 == pytest.approx(-1.0)


def test_none_values_are_skipped():
    pairs = [(P, P), (None, P), (C, None), (None, None), (C, C), (P, C)]
    result = agreement(pairs)
    assert result.n == 3
    assert result.percent_agreement == pytest.approx(2 / 3)
    assert result == agreement([(P, P), (C, C), (P, C)])


def test_nan_values_are_skipped():
    result = agreement([(P, P), (float("nan"), P), (C, C)])
    assert result.n == 2


def test_no_complete_pairs_gives_all_none():
    for pairs in ([], [(None, P), (C, None), (None, None)]):
        result = agreement(pairs)
        assert result.n == 0
        for name in ("percent_agreement", "cohen_kappa", "krippendorff_alpha", "gwet_ac1", "prevalence", "prevalent_value"):
            assert getattr(result, name) is None
            assert result.display(name) == "undefined"
        assert result.display("n") == "0"
        assert result.notes and "n = 0" in result.notes[0]


def test_agreement_accepts_a_generator():
    result = agreement(pair for pair in _two_by_two())
    assert result.n == 50


def test_prevalence_tie_is_deterministic():
    # provided and conditional each 2 of 4 ratings: category order decides.
    pairs = [(P, C), (C, P)]
    assert agreement(pairs, categories=ANSWER_CODES).prevalent_value == P
    assert agreement(pairs, categories=(C, P, NP, NA)).prevalent_value == C
    # Without categories, the alphabetically first label wins.
    assert agreement(pairs).prevalent_value == C


# --------------------------------------------------------------------------
# Display
# --------------------------------------------------------------------------


def test_display_formats_and_rejects_unknown_names():
    result = Agreement(
        n=10, percent_agreement=0.9, cohen_kappa=-0.00001, krippendorff_alpha=0.74321, gwet_ac1=None, prevalence=0.5, prevalent_value=P
    )
    assert result.display("krippendorff_alpha") == "0.743"
    assert result.display("krippendorff_alpha", digits=2) == "0.74"
    assert result.display("cohen_kappa") == "0.000"
    assert result.display("gwet_ac1") == "undefined"
    assert result.display("n") == "10"
    assert result.display("prevalent_value") == P
    with pytest.raises(ValueError):
        result.display("notes")


def test_agreement_is_frozen():
    result = agreement(_two_by_two())
    with pytest.raises(AttributeError):
        result.n = 3  # type: ignore[misc]


# --------------------------------------------------------------------------
# Grouped table
# --------------------------------------------------------------------------


def _units():
    ab = coder_pair_label("bob", "alice")
    cd = coder_pair_label("carol", "dave")
    return [
        # round 2024
        Unit("2024", "FR", "work", "w1", ab, P, P),
        Unit("2024", "DE", "work", "w1", ab, P, NP),
        Unit("2024", "IT", "work", "w2", cd, C, C),
        Unit("2024", "ES", "health", "h1", cd, NP, NP),
        Unit("2024", "PT", "health", "h1", ab, None, P),  # skipped: incomplete
        # round 2020 (listed later on purpose)
        Unit("2020", "FR", "work", "w1", ab, P, P),
        Unit("2020", "DE", "work", "w1", ab, P, P),
    ]


def test_coder_pair_label_is_order_independent():
    assert coder_pair_label("bob", "alice") == "alice / bob"
    assert coder_pair_label("alice", "bob") == "alice / bob"


def test_reliability_table_rows_and_order():
    rows = reliability_table(_units(), categories=ANSWER_CODES)
    index = [(r["level"], r["round"], r["key"]) for r in rows]
    assert index == [
        ("round", "2020", "2020"),
        ("round", "2024", "2024"),
        ("category", "2020", "work"),
        ("category", "2024", "health"),
        ("category", "2024", "work"),
        ("indicator", "2020", "w1"),
        ("indicator", "2024", "h1"),
        ("indicator", "2024", "w1"),
        ("indicator", "2024", "w2"),
        ("coder_pair", "2020", "alice / bob"),
        ("coder_pair", "2024", "alice / bob"),
        ("coder_pair", "2024", "carol / dave"),
    ]
    n = {(r["level"], r["round"], r["key"]): r["n"] for r in rows}
    assert n[("round", "2020", "2020")] == 2
    assert n[("round", "2024", "2024")] == 4  # the incomplete PT unit is not counted
    assert n[("category", "2024", "work")] == 3
    assert n[("category", "2024", "health")] == 1
    assert n[("indicator", "2024", "w1")] == 2
    assert n[("coder_pair", "2024", "alice / bob")] == 2
    assert n[("coder_pair", "2024", "carol / dave")] == 2


def test_reliability_table_row_contents():
    rows = reliability_table(_units(), categories=ANSWER_CODES)
    assert set(rows[0]) == {
        "level",
        "round",
        "key",
        "n",
        "percent_agreement",
        "cohen_kappa",
        "krippendorff_alpha",
        "gwet_ac1",
        "prevalence",
        "prevalent_value",
        "notes",
    }
    by_key = {(r["level"], r["round"], r["key"]): r for r in rows}
    round_2024 = by_key[("round", "2024", "2024")]
    expected = agreement([(P, P), (P, NP), (C, C), (NP, NP)], categories=ANSWER_CODES)
    assert round_2024["percent_agreement"] == pytest.approx(0.75)
    assert round_2024["cohen_kappa"] == pytest.approx(expected.cohen_kappa)
    assert round_2024["krippendorff_alpha"] == pytest.approx(expected.krippendorff_alpha)
    assert round_2024["gwet_ac1"] == pytest.approx(expected.gwet_ac1)
    assert round_2024["notes"] == ""
    # Round 2020: both coders said "provided" twice -> kappa/alpha undefined, notes joined.
    round_2020 = by_key[("round", "2020", "2020")]
    assert round_2020["cohen_kappa"] is None
    assert round_2020["krippendorff_alpha"] is None
    assert "kappa undefined" in round_2020["notes"]
    assert "; alpha undefined" in round_2020["notes"]


def test_reliability_table_is_deterministic_and_handles_empty_groups():
    units = _units()
    assert reliability_table(units) == reliability_table(list(reversed(units)))
    rows = reliability_table([Unit("2024", "FR", "work", "w1", "a / b", None, P)])
    assert [r["level"] for r in rows] == ["round", "category", "indicator", "coder_pair"]
    assert all(r["n"] == 0 and r["krippendorff_alpha"] is None for r in rows)
    assert reliability_table([]) == []


# --------------------------------------------------------------------------
# Rating
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("alpha", "expected"),
    [
        (None, "undefined"),
        (float("nan"), "undefined"),
        (-0.5, "red"),
        (0.0, "red"),
        (0.6669, "red"),
        (0.667, "amber"),
        (0.7999, "amber"),
        (0.8, "green"),
        (1.0, "green"),
    ],
)
def test_rate_default_thresholds(alpha, expected):
    assert rate(alpha) == expected
    assert rate(alpha, Thresholds()) == expected


def test_rate_custom_thresholds():
    strict = Thresholds(red=0.7, amber=0.9)
    assert rate(0.69, strict) == "red"
    assert rate(0.7, strict) == "amber"
    assert rate(0.85, strict) == "amber"
    assert rate(0.9, strict) == "green"


def test_thresholds_must_be_ordered():
    with pytest.raises(ValueError):
        Thresholds(red=0.9, amber=0.8)


# --------------------------------------------------------------------------
# Property test
# --------------------------------------------------------------------------

_answer = st.one_of(st.none(), st.sampled_from(ANSWER_CODES))


@settings(max_examples=300, deadline=None)
@given(pairs=st.lists(st.tuples(_answer, _answer), max_size=40), with_categories=st.booleans())
def test_agreement_statistics_are_bounded_or_undefined(pairs, with_categories):
    result = agreement(pairs, categories=ANSWER_CODES if with_categories else None)
    complete = [(a, b) for a, b in pairs if a is not None and b is not None]
    assert result.n == len(complete)
    for name in ("percent_agreement", "cohen_kappa", "krippendorff_alpha", "gwet_ac1"):
        value = getattr(result, name)
        assert value is None or (isinstance(value, float) and math.isfinite(value) and value <= 1.0)
        assert result.display(name) == "undefined" if value is None else result.display(name) != "undefined"
    if result.n == 0:
        assert result.percent_agreement is None
    else:
        assert 0.0 <= result.percent_agreement <= 1.0
        assert 0.0 < result.prevalence <= 1.0
        assert result.prevalent_value in ANSWER_CODES
    for name in ("cohen_kappa", "gwet_ac1"):
        value = getattr(result, name)
        assert value is None or value >= -1.0
    # Every undefined statistic is explained by a note.
    if any(getattr(result, s) is None for s in ("cohen_kappa", "krippendorff_alpha", "gwet_ac1")):
        assert result.notes
    # Alpha agrees with an independent implementation of Krippendorff's formula.
    if result.krippendorff_alpha is not None:
        assert result.krippendorff_alpha == pytest.approx(_reference_alpha_two_coders(complete))
    # Kappa is undefined exactly when both coders used one and the same value.
    if result.n:
        single_value = len({v for pair in complete for v in pair}) == 1
        assert (result.cohen_kappa is None) == single_value
        assert (result.krippendorff_alpha is None) == single_value
