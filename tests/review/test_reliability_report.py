"""The reliability report built from the database, on a small dataset checked by hand (tiny codebook)."""

from __future__ import annotations

import pytest

from rightsdb.review.reconciliation import compare_country_round, resolve
from rightsdb.review.reliability import Thresholds
from rightsdb.review.reliability_report import CSV_COLUMNS, build_report, collect_units, report_csv
from tests.conftest import login
from tests.factories.people import make_user
from tests.factories.rounds import make_round
from tests.factories.supervision import make_double_coding

P, NP = "provided", "not_provided"


@pytest.fixture
def dataset(tiny_app, tiny_session):
    """Two submitted double codings (3 indicators each), one half-submitted coding that must not count.

    Pairs: XAA (P,P) (P,NP) (NP,NP); XBB (P,P) (P,P) (P,P).
    """
    book = tiny_app.extensions["rightsdb.codebook"]
    session = tiny_session
    round_ = make_round(session, book, name="R1")
    ann, bea = make_user(session, "coder", name="Ann"), make_user(session, "coder", name="Bea")
    first = make_double_coding(
        session, book, round_, country_index=0, coders=(ann, bea), values_a={"BBB-01": NP}, values_b={"AAA-02": NP, "BBB-01": NP}
    )
    make_double_coding(session, book, round_, country_index=1, coders=(ann, bea))
    make_double_coding(
        session, book, round_, country_index=2, coders=(ann, bea), values_b={"AAA-01": NP, "AAA-02": NP, "BBB-01": NP}, submit_b=False
    )
    session.commit()
    return book, round_, ann, bea, first


def _row(rows, level, key):
    return next(r for r in rows if r.level == level and r.key == key)


def test_units_come_only_from_both_submitted_codings(dataset, tiny_session):
    book, _round, _ann, _bea, _first = dataset
    units = collect_units(session=tiny_session, codebook=book)
    assert len(units) == 6
    assert {u.country for u in units} == {"XAA", "XBB"}
    assert [(u.indicator, u.value_a, u.value_b) for u in units if u.country == "XAA"] == [
        ("AAA-01", P, P),
        ("AAA-02", P, NP),
        ("BBB-01", NP, NP),
    ]


def test_figures_match_the_hand_computation(dataset, tiny_session):
    book, round_, ann, bea, _first = dataset
    rows = build_report(session=tiny_session, codebook=book, thresholds=Thresholds(0.667, 0.8))
    whole = _row(rows, "round", "R1")
    assert whole.n == 6
    assert whole.percent_agreement == pytest.approx(5 / 6)
    # Marginals: A P=5 NP=1, B P=4 NP=2 -> pe = 22/36, kappa = (30/36 - 22/36) / (14/36) = 8/14.
    assert whole.cohen_kappa == pytest.approx(8 / 14)
    # Nominal alpha with N = 12 values (P 9, NP 3), one disagreement: 1 - 11 * 2 / (144 - 81 - 9) = 32/54.
    assert whole.krippendorff_alpha == pytest.approx(32 / 54)
    # AC1 with q = 4 answers: pe = (2 * 0.75 * 0.25) / 3 = 1/8; (5/6 - 1/8) / (7/8) = 17/21.
    assert whole.gwet_ac1 == pytest.approx(17 / 21)
    assert (whole.prevalence, whole.prevalent_value) == (pytest.approx(0.75), P)
    assert whole.rating == "red"
    pair = _row(rows, "coder_pair", f"Ann (#{ann.id}) / Bea (#{bea.id})")
    assert pair.n == 6 and pair.krippendorff_alpha == whole.krippendorff_alpha
    # Both coders said "provided" in both countries: agreement is perfect but kappa and alpha are undefined.
    same = _row(rows, "indicator", "AAA-01")
    assert same.percent_agreement == 1.0
    assert same.cohen_kappa is None and same.krippendorff_alpha is None
    assert same.rating == "undefined" and same.display("krippendorff_alpha") == "undefined"
    beta = _row(rows, "category", "BBB")
    assert (beta.label, beta.cohen_kappa, beta.krippendorff_alpha, beta.rating) == ("Beta", 1.0, 1.0, "green")


def test_reliability_ignores_reconciled_values(dataset, tiny_session):
    book, _round, _ann, _bea, (cr, a, _b) = dataset
    before = build_report(session=tiny_session, codebook=book, thresholds=Thresholds())
    supervisor = make_user(tiny_session, "supervisor")
    compare_country_round(session=tiny_session, codebook=book, country_round=cr)
    resolve(
        session=tiny_session,
        codebook=book,
        country_round_id=cr.id,
        indicator_id="AAA-02",
        choice="B",
        citation_ids=[],
        reason="Repealed.",
        actor_id=supervisor.id,
    )
    tiny_session.commit()
    assert build_report(session=tiny_session, codebook=book, thresholds=Thresholds()) == before


def test_csv_has_fixed_columns_sorted_rows_and_undefined(dataset, tiny_session):
    book = dataset[0]
    rows = build_report(session=tiny_session, codebook=book, thresholds=Thresholds())
    text = report_csv(rows)
    lines = text.split("\n")
    assert "\r" not in text and text.endswith("\n")
    assert lines[0] == ",".join(CSV_COLUMNS)
    assert lines[1].startswith("round,R1,R1,R1,6,0.833,0.571,0.593,0.810,0.750,provided,red,")
    levels = [line.split(",")[0] for line in lines[1:-1]]
    assert levels == sorted(levels, key=["round", "category", "indicator", "coder_pair"].index)
    aaa01 = next(line for line in lines if line.startswith("indicator,R1,AAA-01,"))
    assert aaa01.split(",")[5:9] == ["1.000", "undefined", "undefined", "1.000"]
    assert report_csv(rows) == text  # byte-stable


def test_no_submitted_codings_gives_an_empty_report(tiny_app, tiny_session):
    book = tiny_app.extensions["rightsdb.codebook"]
    assert build_report(session=tiny_session, codebook=book, thresholds=Thresholds()) == []
    assert report_csv([]) == ",".join(CSV_COLUMNS) + "\n"


def test_reliability_page_and_csv_download(tiny_app, dataset, tiny_session):
    supervisor = make_user(tiny_session, "supervisor")
    tiny_session.commit()
    client = login(tiny_app.test_client(), supervisor)
    page = client.get("/supervisor/reliability")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'class="rate-red"' in html and 'class="rate-green"' in html and "undefined" in html
    assert "Synthetic demonstration data" in html  # the fictional countries are flagged
    csv_response = client.get("/supervisor/reliability.csv")
    assert csv_response.status_code == 200
    assert csv_response.mimetype == "text/csv"
    assert csv_response.headers["Content-Disposition"] == 'attachment; filename="rightsdb-reliability.csv"'
    assert csv_response.get_data(as_text=True).startswith(",".join(CSV_COLUMNS) + "\n")
