"""What coders wrote is published (coder_a_notes, coder_b_notes) and identical citations of both coders are one row (cited_by)."""

from __future__ import annotations

import csv
import io
from datetime import date

import pyarrow.parquet as pq
import pyreadstat
from openpyxl import load_workbook
from sqlmodel import select

from rightsdb.models import Answer, Assignment, Citation, Decision, DecisionCitation, ReleaseAnswer, ReleaseCitation
from rightsdb.publishing.collect import collect_final
from rightsdb.publishing.publish import publish_release
from rightsdb.publishing.verify import verify_release
from tests.factories.countries import make_country
from tests.factories.releases import make_final

NOTES_A = 'Searched the Aliens Act 2019 and the official gazette: nothing on "=SUM(1)" or family reunion.'
NOTES_B = "Искали в Кодексе; لا شيء\nsecond line"


def answers_by_slot(session, country_round_id: int) -> dict[tuple[str, str], Answer]:
    """Return {(slot, indicator): answer} of a country-round."""
    rows = session.exec(
        select(Assignment.slot, Answer)
        .join(Answer, Answer.assignment_id == Assignment.id)
        .where(Assignment.country_round_id == country_round_id)
    ).all()
    return {(slot, answer.indicator_id): answer for slot, answer in rows}


def cite(session, answer: Answer, decision: Decision, *, like: Citation, position: int, **changes) -> Citation:
    """Add a citation to `answer` with `like`'s content (changed by `changes`) and link it to the decision."""
    fields = {name: getattr(like, name) for name in ("source_id", "pinpoint", "url", "excerpt", "translation")}
    citation = Citation(answer_id=answer.id, position=position, **{**fields, **changes})
    session.add(citation)
    session.flush()
    session.add(DecisionCitation(decision_id=decision.id, citation_id=citation.id))
    session.flush()
    return citation


def build(session, book):
    """One final country-round: notes of both coders, and identical, near-identical and one-sided citations."""
    country_round, decisions = make_final(session, book, make_country(session, 0), excerpt="Every migrant")
    decision = {d.indicator_id: d for d in decisions}
    answers = answers_by_slot(session, country_round.id)
    answers["A", "AAA-01"].notes, answers["B", "AAA-01"].notes = NOTES_A, NOTES_B
    answers["B", "BBB-01"].notes = "Why not applicable: no such body."
    session.add_all([answers["A", "AAA-01"], answers["B", "AAA-01"], answers["B", "BBB-01"]])
    first = {c.answer.indicator_id: c for c in session.exec(select(Citation)).all()}  # coder A's citation of each indicator
    # AAA-01: B typed exactly what A typed: one row, cited by both.
    cite(session, answers["B", "AAA-01"], decision["AAA-01"], like=first["AAA-01"], position=0)
    # AAA-02: A also cites Art. 9 (second); B cites Art. 9 first and A's first one with one character changed.
    cite(session, answers["A", "AAA-02"], decision["AAA-02"], like=first["AAA-02"], position=1, pinpoint="Art. 9", excerpt="Ninth")
    cite(session, answers["B", "AAA-02"], decision["AAA-02"], like=first["AAA-02"], position=0, pinpoint="Art. 9", excerpt="Ninth")
    cite(session, answers["B", "AAA-02"], decision["AAA-02"], like=first["AAA-02"], position=1, excerpt=first["AAA-02"].excerpt + ".")
    # BBB-01: only B cites a second provision.
    cite(session, answers["B", "BBB-01"], decision["BBB-01"], like=first["BBB-01"], position=1, pinpoint="Art. 30")
    session.commit()


EXPECTED_CITATIONS = [
    # indicator, position, pinpoint, excerpt, cited_by
    ("AAA-01", "1", "Art. 1", "Every migrant AAA-01", "A;B"),
    ("AAA-02", "1", "Art. 2", "Every migrant AAA-02", "A"),
    ("AAA-02", "2", "Art. 9", "Ninth", "A;B"),
    ("AAA-02", "3", "Art. 2", "Every migrant AAA-02.", "B"),
    ("BBB-01", "1", "Art. 3", "Every migrant BBB-01", "A"),
    ("BBB-01", "2", "Art. 30", "Every migrant BBB-01", "B"),
]


def test_collect_final_merges_identical_citations_only(tiny_session, book):
    build(tiny_session, book)
    rows = collect_final(session=tiny_session, codebook=book, synthetic=True)
    got = [(r["indicator_id"], c[2], c[6], c[8]) for r in rows for c in r["citations"]]
    assert got == [(i, pin, excerpt, by) for i, _, pin, excerpt, by in EXPECTED_CITATIONS]
    notes = {r["indicator_id"]: (r["coder_a_notes"], r["coder_b_notes"]) for r in rows}
    assert notes == {"AAA-01": (NOTES_A, NOTES_B), "AAA-02": ("", ""), "BBB-01": ("", "Why not applicable: no such body.")}


def test_release_files_carry_notes_and_one_row_per_identical_citation(tiny_session, book, exports_dir):
    build(tiny_session, book)
    release = publish_release(
        session=tiny_session, codebook=book, exports_dir=exports_dir, version="1.0.0", release_date=date(2026, 3, 1), synthetic=True
    )
    tiny_session.commit()
    data = exports_dir / "1.0.0" / "data"

    # The snapshot the database froze holds the same rows as the files.
    frozen = tiny_session.exec(
        select(
            ReleaseAnswer.indicator_id,
            ReleaseCitation.position,
            ReleaseCitation.pinpoint,
            ReleaseCitation.excerpt,
            ReleaseCitation.cited_by,
        )
        .join(ReleaseAnswer, ReleaseAnswer.id == ReleaseCitation.release_answer_id)
        .where(ReleaseCitation.release_id == release.id)
        .order_by(ReleaseAnswer.id, ReleaseCitation.position)
    ).all()
    assert [(i, str(p), pin, e, by) for i, p, pin, e, by in frozen] == EXPECTED_CITATIONS
    notes = tiny_session.exec(
        select(ReleaseAnswer.coder_a_notes, ReleaseAnswer.coder_b_notes).where(
            ReleaseAnswer.release_id == release.id, ReleaseAnswer.indicator_id == "AAA-01"
        )
    ).one()
    assert tuple(notes) == (NOTES_A, NOTES_B)

    citations = list(csv.DictReader(io.StringIO((data / "citations.csv").read_text(encoding="utf-8"), newline="")))
    assert list(citations[0])[-1] == "cited_by"
    assert [(r["indicator"], r["position"], r["pinpoint"], r["excerpt"], r["cited_by"]) for r in citations] == EXPECTED_CITATIONS

    long = list(csv.DictReader(io.StringIO((data / "long.csv").read_text(encoding="utf-8"), newline="")))
    header = list(long[0])
    assert header[header.index("coder_b_answer") + 1 : header.index("coder_b_answer") + 3] == ["coder_a_notes", "coder_b_notes"]
    first = long[0]
    # The CSV rule guards formula text only at a cell's start; these notes start with a letter.
    assert (first["coder_a_notes"], first["coder_b_notes"]) == (NOTES_A, NOTES_B)
    assert long[2]["coder_b_notes"] == "Why not applicable: no such body." and long[1]["coder_a_notes"] == ""

    table = pq.read_table(data / "long.parquet").to_pydict()
    assert (table["coder_a_notes"][0], table["coder_b_notes"][0]) == (NOTES_A, NOTES_B)
    cited = pq.read_table(data / "citations.parquet").to_pydict()
    assert cited["cited_by"] == [row[4] for row in EXPECTED_CITATIONS]

    workbook = load_workbook(data / "release.xlsx", read_only=True)
    sheet = list(workbook["long"].iter_rows(values_only=True))
    a, b = sheet[0].index("coder_a_notes"), sheet[0].index("coder_b_notes")
    assert (sheet[1][a], sheet[1][b]) == (NOTES_A, NOTES_B)
    sheet = list(workbook["citations"].iter_rows(values_only=True))
    assert [row[sheet[0].index("cited_by")] for row in sheet[1:]] == [row[4] for row in EXPECTED_CITATIONS]
    workbook.close()

    frame, meta = pyreadstat.read_dta(str(data / "long.dta"))
    assert (frame["coder_a_notes"][0], frame["coder_b_notes"][0]) == (NOTES_A, NOTES_B)
    assert meta.column_names_to_labels["coder_a_notes"].startswith("Coder A's notes")

    assert verify_release(session=tiny_session, codebook=book, exports_dir=exports_dir, release=release) == []


def test_a_citation_typed_three_times_is_one_row_in_the_files_and_the_snapshot(tiny_session, book, exports_dir):
    """Coder A typed one provision twice and B once: one row, cited by both, the same in collect_final and in the database's copy."""
    country_round, decisions = make_final(tiny_session, book, make_country(tiny_session, 0), excerpt="Every migrant")
    decision = {d.indicator_id: d for d in decisions}
    answers = answers_by_slot(tiny_session, country_round.id)
    first = {c.answer.indicator_id: c for c in tiny_session.exec(select(Citation)).all()}
    cite(tiny_session, answers["A", "AAA-01"], decision["AAA-01"], like=first["AAA-01"], position=1)
    cite(tiny_session, answers["B", "AAA-01"], decision["AAA-01"], like=first["AAA-01"], position=0)
    # AAA-02: A typed it twice, B not at all: one row, cited by A.
    cite(tiny_session, answers["A", "AAA-02"], decision["AAA-02"], like=first["AAA-02"], position=1)
    tiny_session.commit()
    collected = {
        r["indicator_id"]: [(c[2], c[8]) for c in r["citations"]]
        for r in collect_final(session=tiny_session, codebook=book, synthetic=True)
    }
    assert collected["AAA-01"] == [("Art. 1", "A;B")]
    assert collected["AAA-02"] == [("Art. 2", "A")]
    release = publish_release(
        session=tiny_session, codebook=book, exports_dir=exports_dir, version="1.0.0", release_date=date(2026, 3, 1), synthetic=True
    )
    tiny_session.commit()
    frozen = tiny_session.exec(
        select(ReleaseAnswer.indicator_id, ReleaseCitation.pinpoint, ReleaseCitation.cited_by)
        .join(ReleaseAnswer, ReleaseAnswer.id == ReleaseCitation.release_answer_id)
        .where(ReleaseCitation.release_id == release.id)
        .order_by(ReleaseAnswer.id, ReleaseCitation.position)
    ).all()
    assert [tuple(row) for row in frozen] == [(i, pin, by) for i, cited in collected.items() for pin, by in cited]
    assert verify_release(session=tiny_session, codebook=book, exports_dir=exports_dir, release=release) == []
