"""The progress board (review.progress): derived statuses, round summaries, the default round, a fixed number of queries."""

from __future__ import annotations

from datetime import date

from sqlmodel import select

from rightsdb.models import Answer, Country, CountryRound
from rightsdb.review import progress
from rightsdb.review.reconciliation import compare_country_round
from tests.factories.coding import fill_assignment
from tests.factories.countries import make_country
from tests.factories.people import make_user
from tests.factories.querycount import count_queries
from tests.factories.rounds import make_assignments, make_round
from tests.factories.supervision import make_double_coding


def test_progress_board_derives_every_status(session, codebook):
    round_ = make_round(session, codebook)
    coders = (make_user(session, "coder"), make_user(session, "coder"))
    first = codebook.indicator_ids[0]
    statuses = {}
    cr0, _, _ = make_assignments(session, round_, make_country(session, 0), *coders)
    statuses[cr0.id] = "not_started"
    cr1, a1, _ = make_assignments(session, round_, make_country(session, 1), *coders)
    fill_assignment(session, a1, codebook)
    statuses[cr1.id] = "coding"
    cr2, _, _ = make_double_coding(session, codebook, round_, country_index=2, coders=coders, submit_b=False)
    statuses[cr2.id] = "one_submitted"
    cr3, _, _ = make_double_coding(session, codebook, round_, country_index=3, coders=coders, values_b={first: "not_provided"})
    compare_country_round(session=session, codebook=codebook, country_round=cr3)
    statuses[cr3.id] = "reconciliation"
    cr4, _, _ = make_double_coding(session, codebook, round_, country_index=4, coders=coders)
    compare_country_round(session=session, codebook=codebook, country_round=cr4)
    statuses[cr4.id] = "final"
    session.commit()
    board = progress.progress_board(session=session, codebook=codebook)
    assert len(board) == 1
    got = {c.country_round_id: c.status for c in board[0].countries}
    assert got == statuses
    coding = next(c for c in board[0].countries if c.country_round_id == cr1.id)
    assert [(s.slot, s.answered, s.total) for s in coding.slots] == [
        ("A", len(codebook.indicator_ids), len(codebook.indicator_ids)),
        ("B", 0, len(codebook.indicator_ids)),
    ]
    reconciling = next(c for c in board[0].countries if c.country_round_id == cr3.id)
    assert reconciling.decided == len(codebook.indicator_ids) - 1
    assert board[0].synthetic


def test_derive_status_both_submitted_before_comparison():
    slots = [
        progress.SlotProgress(1, "A", 1, "a", True, "submitted", 3, 3, ""),
        progress.SlotProgress(2, "B", 2, "b", True, "submitted", 3, 3, ""),
    ]
    assert progress.derive_status(slots=slots, compared=False, finalized=False) == "both_submitted"


def _one_country_coded(session, codebook):
    """The small world of the query-count tests: two coders and one double-coded country in round 2026."""
    coders = (make_user(session, "coder"), make_user(session, "coder"))
    round_ = make_round(session, codebook)
    make_double_coding(session, codebook, round_, country_index=0, coders=coders)
    session.commit()
    return coders, round_


def test_progress_board_runs_a_fixed_number_of_queries(app, session, codebook):
    engine = app.extensions["rightsdb.engine"]
    coders, round_ = _one_country_coded(session, codebook)
    with count_queries(engine) as small:
        progress.progress_board(session=session, codebook=codebook)
    other = make_round(session, codebook, name="2027")
    for index in range(1, 5):
        make_double_coding(session, codebook, round_, country_index=index, coders=coders, submit_b=False)
        make_double_coding(session, codebook, other, country_index=index, coders=coders)
    session.commit()
    session.expunge_all()
    with count_queries(engine) as large:
        board = progress.progress_board(session=session, codebook=codebook)
    assert sum(len(r.countries) for r in board) == 9
    assert small.count == large.count == 3


# --- Round summaries (the board's figures for every round, in SQL aggregates) -----------------------


def _extra_country(session, code: str, name: str, *, synthetic: bool = True) -> Country:
    """Add a fictional jurisdiction beyond the five of tests.factories.countries (ISO 3166 user-assigned codes)."""
    letter = code[2]  # XQA -> QM, XQB -> QN, ...: alpha-2 QM-QZ and numeric 9xx are user-assigned too
    iso2 = "Q" + chr(ord("M") + ord(letter) - ord("A"))
    country = Country(iso3=code, iso2=iso2, numeric=str(960 + ord(letter) - ord("A")), name=name, region="Europe", synthetic=synthetic)
    session.add(country)
    session.flush()
    return country


def _every_status_round(session, codebook, round_, coders):
    """Fill `round_` with one country per derived status, plus answers that must not count as coding."""
    first = codebook.indicator_ids[0]
    make_assignments(session, round_, make_country(session, 0), *coders)  # not started
    _cr, a1, _ = make_assignments(session, round_, make_country(session, 1), *coders)  # coding
    fill_assignment(session, a1, codebook)
    make_double_coding(session, codebook, round_, country_index=2, coders=coders, submit_b=False)  # one submitted
    cr3, _, _ = make_double_coding(session, codebook, round_, country_index=3, coders=coders, values_b={first: "not_provided"})
    compare_country_round(session=session, codebook=codebook, country_round=cr3)  # reconciliation
    cr4, _, _ = make_double_coding(session, codebook, round_, country_index=4, coders=coders)
    compare_country_round(session=session, codebook=codebook, country_round=cr4)  # final
    # Both submitted but not compared yet.
    both, _a, _b = make_assignments(session, round_, _extra_country(session, "XQA", "Quorvia"), *coders)
    for assignment in (_a, _b):
        fill_assignment(session, assignment, codebook)
        assignment.status = "submitted"
        session.add(assignment)
    # An answer without a value (notes only) and one to an indicator the codebook no longer has: not coding.
    _cr, blank, _ = make_assignments(session, round_, _extra_country(session, "XQB", "Quessa"), *coders)
    session.add(Answer(assignment_id=blank.id, indicator_id=first, value=None, notes="Still searching.", codebook_version=codebook.version))
    _cr, stale, _ = make_assignments(session, round_, _extra_country(session, "XQC", "Quilmar"), *coders)
    session.add(Answer(assignment_id=stale.id, indicator_id="OLD-99", value="provided", codebook_version="0.1"))
    session.flush()


def _figures_from_rows(progress) -> dict:
    """Compute a round's summary figures the slow way, from its detailed country rows."""
    statuses: dict[str, int] = {}
    for country in progress.countries:
        statuses[country.status] = statuses.get(country.status, 0) + 1
    slots = [s for c in progress.countries for s in c.slots]
    return {
        "countries": len(progress.countries),
        "by_status": statuses,
        "codings": len(slots),
        "codings_submitted": sum(1 for s in slots if s.status == "submitted"),
        "decided": sum(c.decided for c in progress.countries),
        "values": sum(c.total for c in progress.countries),
        "synthetic": progress.synthetic,
    }


def _figures(summary) -> dict:
    return {
        "countries": summary.countries,
        "by_status": summary.by_status,
        "codings": summary.codings,
        "codings_submitted": summary.codings_submitted,
        "decided": summary.decided,
        "values": summary.values,
        "synthetic": summary.synthetic,
    }


def test_round_summaries_equal_the_figures_of_the_detailed_rows(session, codebook):
    coders = (make_user(session, "coder"), make_user(session, "coder"))
    older = make_round(session, codebook, name="2025", reference_date=date(2025, 1, 1))
    for index in range(3):
        cr, _a, _b = make_double_coding(session, codebook, older, country_index=index, coders=coders)
        compare_country_round(session=session, codebook=codebook, country_round=cr)
    _extra = make_assignments(session, older, _extra_country(session, "XQD", "Realistan", synthetic=False), *coders)
    newer = make_round(session, codebook, name="2026", reference_date=date(2026, 1, 1))
    _every_status_round(session, codebook, newer, coders)
    empty = make_round(session, codebook, name="2027", reference_date=date(2027, 1, 1))
    session.commit()

    summaries = progress.round_summaries(session=session, codebook=codebook)
    assert [s.round.id for s in summaries] == [empty.id, newer.id, older.id]  # newest first, like list_rounds
    rows = {p.round.id: p for p in progress.progress_board(session=session, codebook=codebook)}
    for summary in summaries:
        assert _figures(summary) == _figures_from_rows(rows[summary.round.id]), summary.round.name
    by_id = {s.round.id: s for s in summaries}
    assert by_id[newer.id].by_status == {
        "not_started": 3,
        "coding": 1,
        "one_submitted": 1,
        "both_submitted": 1,
        "reconciliation": 1,
        "final": 1,
    }
    assert by_id[newer.id].decided > 0 and by_id[newer.id].codings_submitted == 7
    assert (by_id[older.id].final, by_id[older.id].countries, by_id[older.id].count("not_started")) == (3, 4, 1)
    assert (by_id[empty.id].countries, by_id[empty.id].by_status, by_id[empty.id].values, by_id[empty.id].synthetic) == (0, {}, 0, False)


def test_round_summaries_run_two_queries_whatever_the_size(app, session, codebook):
    engine = app.extensions["rightsdb.engine"]
    coders, round_ = _one_country_coded(session, codebook)
    with count_queries(engine) as small:
        progress.round_summaries(session=session, codebook=codebook)
    other = make_round(session, codebook, name="2027", reference_date=date(2027, 1, 1))
    make_round(session, codebook, name="2028", reference_date=date(2028, 1, 1))
    _every_status_round(session, codebook, other, coders)
    session.commit()
    with count_queries(engine) as large:
        summaries = progress.round_summaries(session=session, codebook=codebook)
    assert sum(s.countries for s in summaries) == 9
    assert small.count == large.count == 2


def test_default_round_is_the_newest_with_unfinished_work(session, codebook):
    assert progress.default_summary(progress.round_summaries(session=session, codebook=codebook)) is None
    coders = (make_user(session, "coder"), make_user(session, "coder"))
    old = make_round(session, codebook, name="2024", reference_date=date(2024, 1, 1))
    cr, _a, _b = make_double_coding(session, codebook, old, country_index=0, coders=coders)
    compare_country_round(session=session, codebook=codebook, country_round=cr)
    middle = make_round(session, codebook, name="2025", reference_date=date(2025, 1, 1))
    make_double_coding(session, codebook, middle, country_index=0, coders=coders, submit_b=False)
    new = make_round(session, codebook, name="2026", reference_date=date(2026, 1, 1))
    cr, _a, _b = make_double_coding(session, codebook, new, country_index=0, coders=coders)
    compare_country_round(session=session, codebook=codebook, country_round=cr)
    session.commit()

    def default():
        return progress.default_summary(progress.round_summaries(session=session, codebook=codebook)).round.id

    assert default() == middle.id  # 2026 is all final; 2025 still has a country being coded
    cr, _a, _b = make_double_coding(session, codebook, middle, country_index=1, coders=coders)
    session.commit()
    assert default() == middle.id
    for country_round in session.exec(select(CountryRound).where(CountryRound.round_id == middle.id)).all():
        for assignment in country_round.assignments:
            assignment.status = "submitted"
        compare_country_round(session=session, codebook=codebook, country_round=country_round)
    session.commit()
    assert default() == new.id  # every round final: the newest
    opened = make_round(session, codebook, name="2023 (late)", reference_date=date(2023, 6, 1))
    session.commit()
    assert default() == opened.id  # a round without countries still has work: assigning them
