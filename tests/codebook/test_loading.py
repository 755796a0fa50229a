"""Loading a codebook file: the tiny test codebook, YAML text, and every way a file can be broken, named by file, line and culprit."""

from __future__ import annotations

import re
import signal
from pathlib import Path

import pytest

from rightsdb.codebook import CodebookError, load_codebook, parse_codebook, summary
from rightsdb.config import PROJECT_ROOT
from tests.conftest import DATA

TINY = DATA / "tiny_codebook.yaml"
BROKEN = DATA / "broken_codebooks"


def line_of(path: Path, token: str | bytes, occurrence: int = 1) -> int:
    """Return the 1-based line of the `occurrence`-th appearance of `token` in the file."""
    data = path.read_bytes()
    needle = token if isinstance(token, bytes) else token.encode("utf-8")
    position = -1
    for _ in range(occurrence):
        position = data.index(needle, position + 1)
    return data[:position].count(b"\n") + 1


def test_tiny_codebook_loads_so_nothing_assumes_the_real_counts():
    tiny = load_codebook(TINY)
    assert (len(tiny.categories), len(tiny.indicators)) == (2, 3)
    assert summary(tiny) == [("AAA", "Alpha", 2), ("BBB", "Beta", 1)]
    assert tiny.scheme().id == "binary" and tiny.scheme("strict").scores["conditional"] == 0.5


def test_parse_codebook_accepts_text_and_names_the_given_path():
    book = parse_codebook(TINY.read_text(encoding="utf-8"), "tiny.yaml")
    assert book.indicator_ids == ("AAA-01", "AAA-02", "BBB-01")
    with pytest.raises(CodebookError) as caught:
        parse_codebook("codebook: [", "inline.yaml")
    assert str(caught.value.problems[0]).startswith("inline.yaml:1: not valid YAML")


# ---- broken files -----------------------------------------------------------------------------

# file -> (message fragment, token whose line the problem must point at, which occurrence of it,
#          the indicator/category/key the problem names, or "" when it names none)
BROKEN_CASES = {
    "unknown_top_level_key": ("unknown key 'colour'", "colour:", 1, "key colour"),
    "unknown_indicator_key": ("unknown key 'notes'", "notes:", 1, "indicator AAA-02, key notes"),
    "duplicate_indicator_id": ("duplicate indicator id", "id: AAA-01", 2, "indicator AAA-01"),
    "duplicate_category_id": ("duplicate category id", "{id: AAA", 2, "category AAA"),
    "unknown_category": ("unknown category 'ZZZ'", "category: ZZZ", 1, "indicator CCC-01"),
    "empty_category": ("category has no indicators", "{id: CCC", 1, "category CCC"),
    "scheme_missing_score": ("answer 'conditional' has no score", "scores: {provided: 1, not_provided", 1, "scoring scheme strict"),
    "not_applicable_scored": ("not_applicable must score null", "not_applicable: 0}", 1, "scoring scheme binary"),
    "wrong_answer_code": ("got 'partially'", "{code: partially", 1, "key answers.1.code"),
    "missing_answer": ("answers must be exactly provided, conditional, not_provided, not_applicable", "answers:", 1, "key answers"),
    "invalid_yaml": ("not valid YAML", "indicators:", 1, ""),
    "duplicate_yaml_key": ("duplicate key 'question'", "question:", 3, "indicator AAA-02, key question"),
    "missing_question": ("missing key 'question'", "- id: AAA-02", 1, "indicator AAA-02, key question"),
    "bad_version": ("got '0.1'", 'version: "0.1"', 1, "key codebook.version"),
    "unknown_instrument": ("unknown instrument type 'treaty'", "[treaty]", 1, "indicator BBB-01"),
    "imbr_article_mismatch": ("IMBR article 7 differs from its category's (1)", "imbr_article: 7", 1, "indicator AAA-02"),
    "not_utf8": ("not UTF-8 text", b"Troisi\xe8me", 1, ""),
    "empty": ("the file is empty", "", 1, ""),
    "list_not_mapping": ("must be a mapping", "- id: AAA-01", 1, ""),
    "duplicate_aggregation_id": ("duplicate aggregation id", "{id: category_mean, label: Pooled", 1, "aggregation category_mean"),
    "alias_bomb": ("its aliases expand to more than 100,000 values", "x8: &x8", 1, "key x8"),
    "deep_nesting": ("nested more than 32 levels deep", "reference:", 1, "key codebook.reference.0..."),
}


def test_every_broken_fixture_has_a_case():
    assert {p.stem for p in BROKEN.glob("*.yaml")} == set(BROKEN_CASES) | {"three_errors"}


@pytest.mark.parametrize("name", sorted(BROKEN_CASES))
def test_broken_codebook_is_refused_with_file_line_and_culprit(name):
    fragment, token, occurrence, where = BROKEN_CASES[name]
    path = BROKEN / f"{name}.yaml"
    # An alias bomb used to hang the loader: fail the test after a minute instead of waiting for ever.
    signal.signal(signal.SIGALRM, lambda *_: pytest.fail(f"loading {name} took over a minute"))
    signal.alarm(60)
    try:
        with pytest.raises(CodebookError) as caught:
            load_codebook(path)
    finally:
        signal.alarm(0)
    problems = caught.value.problems
    assert len(problems) == 1, [str(p) for p in problems]
    problem = problems[0]
    assert fragment in problem.message
    assert problem.path == str(path)
    expected_line = line_of(path, token, occurrence) if token else 1
    assert problem.line == expected_line
    assert problem.where == where
    assert str(problem).startswith(f"{path}:{expected_line}: ")
    assert fragment in str(caught.value)


def test_unclosed_bracket_names_the_line_where_it_opened():
    path = BROKEN / "invalid_yaml.yaml"
    with pytest.raises(CodebookError) as caught:
        load_codebook(path)
    opened = line_of(path, "{id: BBB")
    assert opened == line_of(path, "indicators:") - 1
    assert f"starts on line {opened}" in caught.value.problems[0].message


def test_several_errors_in_one_file_are_all_reported_in_file_order():
    path = BROKEN / "three_errors.yaml"
    with pytest.raises(CodebookError) as caught:
        load_codebook(path)
    found = [(p.line, p.where, p.message) for p in caught.value.problems]
    assert found == [
        (line_of(path, 'version: "one"'), "key codebook.version", found[0][2]),
        (line_of(path, "weight: 2"), "indicator AAA-01, key weight", "unknown key 'weight'"),
        (line_of(path, "short_label: Third again"), "indicator BBB-01, key short_label", "duplicate key 'short_label'"),
    ]
    assert "got 'one'" in found[0][2]


def test_several_semantic_errors_are_all_reported(tmp_path):
    text = TINY.read_text(encoding="utf-8")
    text = text.replace("sources: [constitution]", "sources: [treaty]").replace("  - id: AAA-02", "  - id: AAA-01")
    text = text.replace("conditional: 0.5, ", "")
    path = tmp_path / "semantic.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CodebookError) as caught:
        load_codebook(path)
    messages = [p.message for p in caught.value.problems]
    assert messages == ["answer 'conditional' has no score", "duplicate indicator id", "unknown instrument type 'treaty'"]
    assert [p.line for p in caught.value.problems] == sorted(p.line for p in caught.value.problems)


def test_missing_file_is_refused_without_a_line(tmp_path):
    path = tmp_path / "nowhere.yaml"
    with pytest.raises(CodebookError) as caught:
        load_codebook(path)
    (problem,) = caught.value.problems
    assert problem.line is None
    assert "cannot read the file" in problem.message
    assert str(problem).startswith(f"{path}: cannot read the file")


def test_directory_instead_of_file_is_refused(tmp_path):
    with pytest.raises(CodebookError, match="cannot read the file"):
        load_codebook(tmp_path)


def test_yaml_aliases_may_share_guidance_but_may_not_refer_to_themselves():
    text = TINY.read_text(encoding="utf-8")
    shared = text.replace(
        "    guidance: {provided: Yes., conditional: Some., not_provided: No., not_applicable: Never., sources: [statute]}\n",
        "    guidance: &same {provided: Yes., conditional: Some., not_provided: No., not_applicable: Never., sources: [statute]}\n",
        1,
    ).replace(
        "    guidance: {provided: Yes., conditional: Some., not_provided: No., not_applicable: Never., sources: [statute]}\n",
        "    guidance: *same\n",
    )
    assert "*same" in shared
    book = parse_codebook(shared, "shared.yaml")
    assert book.indicators_by_id["AAA-02"].guidance == book.indicators_by_id["AAA-01"].guidance
    looped = text.replace("migrant_groups:\n", "loop: &loop [*loop]\nmigrant_groups:\n")
    with pytest.raises(CodebookError) as caught:
        parse_codebook(looped, "loop.yaml")
    (problem,) = caught.value.problems
    assert (problem.line, problem.message) == (looped.split("\n").index("loop: &loop [*loop]") + 1, "a YAML alias refers to itself")


def test_the_loader_does_not_hard_code_the_instrument_size():
    for path in sorted((PROJECT_ROOT / "rightsdb" / "codebook").glob("*.py")):
        assert not re.search(r"\b(17|65)\b", path.read_text(encoding="utf-8")), path
