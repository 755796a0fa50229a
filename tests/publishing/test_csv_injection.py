"""Formula injection (issue 14, item 5): OWASP's rule in every CSV the app writes, and releases rebuilt under the rule they were published with.

The rule's expected bytes are restated independently in tests/publishing/csv_oracle.py; the files are
read back with Python's csv module. Releases of rule 0 (before the rule) are checked against the bytes
the code before the rule wrote for the golden data set (tests/golden/rule-0).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import shutil
from datetime import date

import openpyxl
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rightsdb.errors import InvalidInput
from rightsdb.publishing import files as release_files
from rightsdb.publishing.documents import FORMULA_SECTION
from rightsdb.publishing.formats.csv import CSV_RULE, FORMULA_RULE, PLAIN_RULE, UNDO_PATTERN, csv_bytes, csv_chunks, csv_field
from rightsdb.publishing.formats.xlsx import xlsx_bytes
from rightsdb.publishing.publish import publish_release
from rightsdb.publishing.snapshot import release_inputs
from rightsdb.publishing.verify import split_report, verify_release
from rightsdb.review.reliability_report import CSV_COLUMNS, ReportRow, report_csv
from tests.factories.countries import make_country
from tests.factories.releases import make_final, make_golden_data
from tests.publishing.csv_oracle import FORMULA, assert_csv, read_back

DAY = date(2026, 3, 1)


def runs_as_formula(cell: str) -> bool:
    """Tell whether a spreadsheet would run a cell as a formula (its first character is a formula character)."""
    return cell[:1] in FORMULA and cell != ""


def body(frame: pd.DataFrame) -> str:
    """Return the rows of csv_bytes' output, without the header."""
    return csv_bytes(frame).decode("utf-8").split("\n", 1)[1]


# ---- the rule, cell by cell -------------------------------------------------------------------------


def test_the_current_rule_is_the_formula_rule():
    assert CSV_RULE == FORMULA_RULE == 1 and PLAIN_RULE == 0


def test_owasps_own_examples_are_written_as_owasp_writes_them():
    # https://owasp.org/www-community/attacks/CSV_Injection: the two examples of its escaped output.
    frame = pd.DataFrame({"text": ['=1+2";=1+2', "=1+2'\" ;,=1+2"]})
    assert body(frame) == '"\'=1+2"";=1+2"\n"\'=1+2\'"" ;,=1+2"\n'


@pytest.mark.parametrize("start", FORMULA)
def test_each_formula_character_gets_an_apostrophe_and_quotes(start):
    frame = pd.DataFrame({"text": [f"{start}HYPERLINK(1)", "safe"], "n": [1, 2]})
    assert body(frame) == f'"\'{start}HYPERLINK(1)",1\nsafe,2\n'
    assert read_back(csv_bytes(frame))[1] == ["'" + f"{start}HYPERLINK(1)", "1"]


def test_numbers_never_change_and_text_such_as_minus_five_does():
    frame = pd.DataFrame(
        {
            "text": ["-5", "-0.5", "5-"],
            "integer": pd.array([-1, None, -300], dtype="Int64"),
            "number": pd.array([-0.5, -1.0, None], dtype="Float64"),
            "flag": [True, False, True],
            "mixed": pd.Series([-1, "-1", -2.5], dtype=object),
        }
    )
    assert body(frame) == '"\'-5",-1,-0.5,True,-1\n"\'-0.5",,-1.0,False,"\'-1"\n5-,-300,,True,-2.5\n'
    assert_csv(frame)


def test_apostrophes_already_in_front_get_one_more_so_that_the_text_comes_back():
    texts = ["'=x", "''-y", "'plain", "'", "it's", "=done'"]
    written = csv_bytes(pd.DataFrame({"text": texts}))
    assert read_back(written)[1:] == [["''=x"], ["'''-y"], ["'plain"], ["'"], ["it's"], ["'=done'"]]
    back = pd.read_csv(io.BytesIO(written), dtype=str, keep_default_na=False)["text"]
    assert back.str.replace(UNDO_PATTERN, "", regex=True).tolist() == texts


@settings(max_examples=80, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["", "'", "''", "=", "+", "-", "@", "\t", ";=", "a;-", "x\t@"]), st.text(max_size=10)).map("".join),
        min_size=1,
        max_size=20,
    )
)
def test_the_readme_recipe_gives_back_any_text(texts):
    texts = [t.replace("\x00", "").replace("\r", "") for t in texts]
    frame = pd.DataFrame({"text": texts, "n": range(len(texts))})
    assert_csv(frame)
    back = [row[0] for row in read_back(csv_bytes(frame))[1:]]
    assert [re.sub(UNDO_PATTERN, "", t) for t in back] == texts


@pytest.mark.parametrize("separator", [";", "\t"])
def test_a_spreadsheet_splitting_on_semicolons_or_tabs_finds_no_formula(separator):
    texts = ["a;=1+1", "b\t+2", "c;-3;@4", "plain;text", "=5", "x\t\ty", 'q;"=6"']
    written = csv_bytes(pd.DataFrame({"first": texts, "second": ["ok"] * len(texts)}))
    assert body(pd.DataFrame({"t": ["plain;text", "a;=1+1"]})) == 'plain;text\n"a;=1+1"\n'  # only what needs it is quoted
    for row in csv.reader(io.StringIO(written.decode("utf-8"), newline=""), delimiter=separator):
        for cell in row:
            assert not runs_as_formula(cell), (separator, row)


def test_a_header_is_written_as_it_is():
    assert csv_bytes(pd.DataFrame({"=name": ["x"]})) == b"=name\nx\n"


def test_an_unknown_rule_is_refused_with_the_rules_it_knows():
    frame = pd.DataFrame({"a": ["x"]})
    for rule in (2, -1, True, "1", None):
        with pytest.raises(ValueError, match="Unknown CSV rule .* writes rules 0, 1"):
            csv_bytes(frame, rule)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="Unknown CSV rule"):
            csv_chunks(frame, rule)  # type: ignore[arg-type]  # refused when called, before a byte is written
        with pytest.raises(ValueError, match="Unknown CSV rule"):
            csv_field("x", rule=rule)  # type: ignore[arg-type]


@settings(max_examples=80, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from(["", "=", "-", "'@", "a;+", '"', ","]), st.text(max_size=8)).map("".join), min_size=2, max_size=6)
)
def test_the_field_writer_for_rows_agrees_with_the_column_writer(texts):
    texts = [t.replace("\x00", "").replace("\r", "") for t in texts]
    frame = pd.DataFrame({f"c{n}": [t] for n, t in enumerate(texts)})
    for rule in (PLAIN_RULE, FORMULA_RULE):
        assert ",".join(csv_field(t, rule=rule) for t in texts) + "\n" == csv_bytes(frame, rule).decode().split("\n", 1)[1]
    assert csv_field("-0.25", text=False) == "-0.25" and csv_field("-0.25") == '"\'-0.25"'


# ---- the reliability report ------------------------------------------------------------------------


def test_the_reliability_csv_guards_names_but_not_negative_figures():
    figures = dict(n=4, percent_agreement=0.25, cohen_kappa=-0.2, krippendorff_alpha=-0.125, gwet_ac1=None, prevalence=0.5)
    row = ReportRow(
        **figures,
        prevalent_value="provided",
        level="coder_pair",
        round="2026",
        key='=HYPERLINK("http://x") (#3) / Ann (#4)',
        label="@SUM(A1)",
        rating="red",
        notes="-fewer than 10 units",
    )
    text = report_csv([row])
    lines = text.split("\n")
    assert lines[0] == ",".join(CSV_COLUMNS)
    assert lines[1] == (
        'coder_pair,2026,"\'=HYPERLINK(""http://x"") (#3) / Ann (#4)","\'@SUM(A1)",4,0.250,-0.200,-0.125,undefined,0.500,'
        'provided,red,"\'-fewer than 10 units"'
    )
    assert list(csv.reader(io.StringIO(text, newline="")))[1][6:8] == ["-0.200", "-0.125"]


# ---- releases ---------------------------------------------------------------------------------------


@pytest.fixture
def release(tiny_session, book, exports_dir):
    make_golden_data(tiny_session, book)
    tiny_session.commit()
    published = publish_release(
        session=tiny_session, codebook=book, exports_dir=exports_dir, version="1.0.0", title="Golden", release_date=DAY, synthetic=True
    )
    tiny_session.commit()
    return published


def _package(folder):
    return json.loads((folder / "datapackage.json").read_text(encoding="utf-8"))


def _sign(tiny_session, release, folder) -> None:
    """Record the folder's SHA256SUMS as the release's, as publication does."""
    release.sha256 = hashlib.sha256((folder / "SHA256SUMS").read_bytes()).hexdigest()
    tiny_session.add(release)
    tiny_session.commit()


def _rebuild_under(tiny_session, book, release, folder, rule) -> None:
    """Write the release's folder again from its snapshot under CSV rule `rule`, and sign it."""
    shutil.rmtree(folder)
    release_files.write_release_files(folder, inputs=release_inputs(session=tiny_session, release=release), codebook=book, csv_rule=rule)
    _sign(tiny_session, release, folder)


def test_a_new_release_records_its_rule_guards_its_csv_and_explains_it(release, tiny_session, book, exports_dir):
    folder = exports_dir / "1.0.0"
    assert _package(folder)["rightsdb"]["csv_rule"] == FORMULA_RULE
    rows = read_back((folder / "data" / "citations.csv").read_bytes())
    excerpts = [row[rows[0].index("excerpt")] for row in rows[1:]]
    assert '\'=HYPERLINK("x") لكل مهاجر الحق AAA-01' in excerpts
    assert not [e for e in excerpts if runs_as_formula(e)]
    readme = (folder / "README.md").read_text(encoding="utf-8")
    assert FORMULA_SECTION in readme and UNDO_PATTERN in readme
    assert verify_release(session=tiny_session, codebook=book, exports_dir=exports_dir, release=release) == []


def test_files_written_under_rule_0_are_rebuilt_under_rule_0(release, tiny_session, book, exports_dir):
    # The bytes the code before the rule wrote are kept in tests/golden/rule-0 and checked as a
    # format-1 release (tests/publishing/test_verify_every_file.py); this is the rule-0 writer of today.
    folder = exports_dir / "1.0.0"
    _rebuild_under(tiny_session, book, release, folder, PLAIN_RULE)
    assert b'"=HYPERLINK' in (folder / "data" / "citations.csv").read_bytes()
    assert "csv_rule" not in _package(folder)["rightsdb"]
    assert verify_release(session=tiny_session, codebook=book, exports_dir=exports_dir, release=release) == []
    citations = folder / "data" / "citations.csv"
    citations.write_bytes(citations.read_bytes().replace(b'"=HYPERLINK', b"\"'=HYPERLINK"))
    assert verify_release(session=tiny_session, codebook=book, exports_dir=exports_dir, release=release) == ["data/citations.csv"]


def test_a_rule_taken_out_of_datapackage_json_is_found(release, tiny_session, book, exports_dir):
    path = exports_dir / "1.0.0" / "datapackage.json"
    path.write_text(path.read_text(encoding="utf-8").replace('    "csv_rule": 1,\n', ""), encoding="utf-8")
    problems = verify_release(session=tiny_session, codebook=book, exports_dir=exports_dir, release=release)
    assert problems == ["README.md", "data/citations.csv", "datapackage.json"]


def test_an_unreadable_datapackage_json_is_reported_and_the_rest_verified(release, tiny_session, book, exports_dir):
    (exports_dir / "1.0.0" / "datapackage.json").write_text("{not json", encoding="utf-8")
    note, problems = split_report(verify_release(session=tiny_session, codebook=book, exports_dir=exports_dir, release=release))
    assert problems == ["datapackage.json"] and "release format is unknown" in note  # the rest checked against SHA256SUMS


def test_a_release_of_a_rule_this_code_does_not_know_is_refused_clearly(release, tiny_session, book, exports_dir):
    folder = exports_dir / "1.0.0"
    path = folder / "datapackage.json"
    path.write_text(path.read_text(encoding="utf-8").replace('"csv_rule": 1', '"csv_rule": 9'), encoding="utf-8")
    sums = folder / "SHA256SUMS"
    digest = release_files.sha256_file(path)
    sums.write_text(re.sub(r"^\w+  datapackage.json$", f"{digest}  datapackage.json", sums.read_text(), flags=re.M))
    _sign(tiny_session, release, folder)
    with pytest.raises(InvalidInput, match="CSV rule 9; this version of rightsdb knows rules 0, 1"):
        verify_release(session=tiny_session, codebook=book, exports_dir=exports_dir, release=release)
    assert path.read_text(encoding="utf-8").count('"csv_rule": 9') == 1  # nothing was changed


# ---- the public site's custom tables and the workbooks ---------------------------------------------


@pytest.fixture
def hostile_release(tiny_session, book, exports_dir):
    """A release whose reasons and source title begin with formula characters."""
    _, decisions = make_final(
        tiny_session, book, make_country(tiny_session, 0), source_title='=HYPERLINK("http://evil")', coder_b={"AAA-01": "not_provided"}
    )
    for decision, reason in zip(decisions, ["-5", "+cmd|' /C calc'!A0", "@SUM(1+1)"]):
        decision.reason = reason
        tiny_session.add(decision)
    tiny_session.commit()
    publish_release(session=tiny_session, codebook=book, exports_dir=exports_dir, version="1.0.0", release_date=DAY, synthetic=True)
    tiny_session.commit()


def test_the_custom_table_download_guards_formula_text(tiny_app, hostile_release):
    response = tiny_app.test_client().get("/table.csv?country=XAA")
    assert response.status_code == 200
    rows = read_back(response.data)
    header = rows[0]
    reasons = [row[header.index("reason")] for row in rows[1:]]
    citations = [row[header.index("citations")] for row in rows[1:]]
    assert reasons[:3] == ["'-5", "'+cmd|' /C calc'!A0", "'@SUM(1+1)"]
    assert citations[0] == '\'=HYPERLINK("http://evil"), Art. 1'
    scores = [row[header.index("score")] for row in rows[1:]]
    assert all(not s.startswith("'") for s in scores)
    assert b'"\'-5"' in response.data


def test_workbooks_hold_formula_text_as_typed_strings_never_formulas(tiny_app, hostile_release, exports_dir):
    downloaded = tiny_app.test_client().get("/table.xlsx?country=XAA")
    assert downloaded.status_code == 200
    books = {
        "custom table": openpyxl.load_workbook(io.BytesIO(downloaded.data))["table"],
        "release workbook": openpyxl.load_workbook(exports_dir / "1.0.0" / "data" / "release.xlsx")["long"],
    }
    for name, sheet in books.items():
        header = [cell.value for cell in sheet[1]]
        reason, cited = header.index("reason") + 1, header.index("citations") + 1
        cells = [sheet.cell(row=2, column=reason), sheet.cell(row=3, column=reason), sheet.cell(row=4, column=reason)]
        cells.append(sheet.cell(row=2, column=cited))
        assert [c.value for c in cells] == ["-5", "+cmd|' /C calc'!A0", "@SUM(1+1)", '=HYPERLINK("http://evil"), Art. 1'], name
        assert [c.data_type for c in cells] == ["s"] * 4, name  # strings: "-5" is no number, "=..." no formula ("f")
    formula = openpyxl.load_workbook(io.BytesIO(xlsx_bytes({"t": pd.DataFrame({"a": ["=1+1"]})})))["t"]["A2"]
    assert (formula.value, formula.data_type) == ("=1+1", "s")
