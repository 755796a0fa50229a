"""changes.csv: two releases around each kind of change, read back exactly; the README's "What changed" and the brief changelog."""

from __future__ import annotations

import csv
import io
import shutil
from datetime import date

from sqlmodel import select

from rightsdb.codebook import load_codebook
from rightsdb.models import Citation, CountryRound, Decision, DecisionCitation, EvidenceCorrection, LegalSource
from rightsdb.publishing.changelog import CHANGE_COLUMNS, changes_section
from rightsdb.publishing.publish import publish_release
from rightsdb.publishing.verify import verify_release
from tests.conftest import TINY_CODEBOOK
from tests.factories.countries import make_country
from tests.factories.releases import make_final
from tests.publishing.test_notes_and_cited_by import answers_by_slot, cite

HEADER = list(CHANGE_COLUMNS)


def publish(session, book, exports_dir, version, **kwargs):
    release = publish_release(
        session=session, codebook=book, exports_dir=exports_dir, version=version, release_date=date(2026, 3, 1), synthetic=True, **kwargs
    )
    session.commit()
    return release


def changes(exports_dir, version) -> list[tuple]:
    """Read a release's changes.csv with the csv module: the header checked, then the rows as tuples."""
    text = (exports_dir / version / "data" / "changes.csv").read_text(encoding="utf-8")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows[0] == HEADER
    return [tuple(row) for row in rows[1:]]


def decisions(session, iso3: str) -> dict[str, Decision]:
    rows = session.exec(
        select(Decision).join(CountryRound, CountryRound.id == Decision.country_round_id).where(CountryRound.country_iso3 == iso3)
    ).all()
    return {d.indicator_id: d for d in rows}


def verified(session, book, exports_dir, *releases) -> None:
    for release in releases:
        assert verify_release(session=session, codebook=book, exports_dir=exports_dir, release=release) == [], release.version


def test_first_release_has_no_changes(tiny_session, book, exports_dir):
    make_final(tiny_session, book, make_country(tiny_session, 0))
    tiny_session.commit()
    publish(tiny_session, book, exports_dir, "1.0.0")
    assert changes(exports_dir, "1.0.0") == []
    assert "First release: nothing to compare with." in (exports_dir / "1.0.0" / "README.md").read_text(encoding="utf-8")


def test_country_rounds_added_and_removed_give_one_row_per_indicator(tiny_session, book, exports_dir):
    old, _ = make_final(tiny_session, book, make_country(tiny_session, 0))
    tiny_session.commit()
    first = publish(tiny_session, book, exports_dir, "1.0.0")
    old.finalized_at = None  # reopened: no longer final, so not in the next release
    tiny_session.add(old)
    make_final(tiny_session, book, make_country(tiny_session, 1), final={"AAA-01": "not_provided"})
    tiny_session.commit()
    second = publish(tiny_session, book, exports_dir, "1.1.0")
    assert changes(exports_dir, "1.1.0") == [
        ("XAA", "2026", "AAA-01", "country_round_removed", "provided", "", ""),
        ("XAA", "2026", "AAA-02", "country_round_removed", "provided", "", ""),
        ("XAA", "2026", "BBB-01", "country_round_removed", "provided", "", ""),
        ("XBB", "2026", "AAA-01", "country_round_added", "", "not_provided", ""),
        ("XBB", "2026", "AAA-02", "country_round_added", "", "provided", ""),
        ("XBB", "2026", "BBB-01", "country_round_added", "", "provided", ""),
    ]
    assert second.changelog.splitlines()[1:3] == ["- Country-rounds added: XBB 2026", "- Country-rounds removed: XAA 2026"]
    verified(tiny_session, book, exports_dir, first, second)


def test_indicators_added_and_removed_within_a_country_round(tiny_session, book, exports_dir):
    make_final(tiny_session, book, make_country(tiny_session, 0))
    tiny_session.commit()
    held = decisions(tiny_session, "XAA")
    links = tiny_session.exec(select(DecisionCitation).where(DecisionCitation.decision_id == held["BBB-01"].id)).all()
    saved = [(link.decision_id, link.citation_id) for link in links]
    for link in links:  # BBB-01 not decided yet in the first release
        tiny_session.delete(link)
    tiny_session.flush()
    bbb = held["BBB-01"]
    tiny_session.delete(bbb)
    tiny_session.commit()
    first = publish(tiny_session, book, exports_dir, "1.0.0")
    again = Decision(country_round_id=bbb.country_round_id, indicator_id="BBB-01", value="not_provided", groups=[], outcome="agreed")
    tiny_session.add(again)
    tiny_session.flush()
    tiny_session.add_all([DecisionCitation(decision_id=again.id, citation_id=c) for _, c in saved])
    for link in tiny_session.exec(select(DecisionCitation).where(DecisionCitation.decision_id == held["AAA-02"].id)).all():
        tiny_session.delete(link)
    tiny_session.flush()
    tiny_session.delete(held["AAA-02"])
    tiny_session.commit()
    second = publish(tiny_session, book, exports_dir, "1.1.0")
    assert changes(exports_dir, "1.1.0") == [
        ("XAA", "2026", "AAA-02", "indicator_removed", "provided", "", ""),
        ("XAA", "2026", "BBB-01", "indicator_added", "", "not_provided", ""),
    ]
    assert "- Indicators added: 1" in second.changelog and "- Indicators removed: 1" in second.changelog
    verified(tiny_session, book, exports_dir, first, second)


def test_corrected_value_and_groups_carry_the_decision_reason(tiny_session, book, exports_dir):
    make_final(tiny_session, book, make_country(tiny_session, 0), final={"AAA-02": "conditional"})
    tiny_session.commit()
    first = publish(tiny_session, book, exports_dir, "1.0.0")
    held = decisions(tiny_session, "XAA")
    held["AAA-01"].value, held["AAA-01"].outcome, held["AAA-01"].corrected = "not_provided", "reconciled", True
    held["AAA-01"].reason = "The 2019 amendment repealed the right."
    held["AAA-02"].groups = ["irregular_migrants", "permanent_residents"]
    held["AAA-02"].outcome, held["AAA-02"].reason, held["AAA-02"].corrected = "reconciled", "Art. 2 also covers irregular migrants.", True
    tiny_session.add_all([held["AAA-01"], held["AAA-02"]])
    tiny_session.commit()
    second = publish(tiny_session, book, exports_dir, "1.1.0")
    assert changes(exports_dir, "1.1.0") == [
        ("XAA", "2026", "AAA-01", "value", "provided", "not_provided", "The 2019 amendment repealed the right."),
        (
            "XAA",
            "2026",
            "AAA-02",
            "groups",
            "permanent_residents",
            "irregular_migrants;permanent_residents",
            "Art. 2 also covers irregular migrants.",
        ),
    ]
    assert second.changelog.splitlines() == [
        "Changes since 1.0.0:",
        "- Country-rounds added: none",
        "- Country-rounds removed: none",
        "- Values changed: 2",
        "  - XAA 2026 AAA-01: provided -> not_provided",
        "  - XAA 2026 AAA-02 groups: permanent_residents -> irregular_migrants;permanent_residents",
    ]
    verified(tiny_session, book, exports_dir, first, second)


def test_either_coders_notes(tiny_session, book, exports_dir):
    country_round, _ = make_final(tiny_session, book, make_country(tiny_session, 0))
    answers = answers_by_slot(tiny_session, country_round.id)
    answers["A", "AAA-01"].notes = "Searched the gazette."
    tiny_session.add(answers["A", "AAA-01"])
    tiny_session.commit()
    first = publish(tiny_session, book, exports_dir, "1.0.0")
    answers["A", "AAA-01"].notes = "Searched the gazette and the 2019 act."
    answers["B", "BBB-01"].notes = "Другое условие: «только для беженцев»"
    tiny_session.add_all([answers["A", "AAA-01"], answers["B", "BBB-01"]])
    tiny_session.commit()
    second = publish(tiny_session, book, exports_dir, "1.1.0")
    assert changes(exports_dir, "1.1.0") == [
        ("XAA", "2026", "AAA-01", "notes", "A: Searched the gazette.", "A: Searched the gazette and the 2019 act.", ""),
        ("XAA", "2026", "BBB-01", "notes", "B: ", "B: Другое условие: «только для беженцев»", ""),
    ]
    assert "- Values changed: none" in second.changelog and "- Coders' notes changed: 2 values" in second.changelog
    verified(tiny_session, book, exports_dir, first, second)


def test_citations_added_removed_and_cited_by_changed(tiny_session, book, exports_dir):
    country_round, _ = make_final(tiny_session, book, make_country(tiny_session, 0))
    tiny_session.commit()
    first = publish(tiny_session, book, exports_dir, "1.0.0")
    held = decisions(tiny_session, "XAA")
    answers = answers_by_slot(tiny_session, country_round.id)
    standing = {c.answer.indicator_id: c for c in tiny_session.exec(select(Citation)).all()}
    cite(tiny_session, answers["B", "AAA-01"], held["AAA-01"], like=standing["AAA-01"], position=0)  # now cited by both
    cite(tiny_session, answers["A", "AAA-02"], held["AAA-02"], like=standing["AAA-02"], position=1, pinpoint="Art. 20")  # one more
    link = tiny_session.exec(select(DecisionCitation).where(DecisionCitation.decision_id == held["BBB-01"].id)).one()
    tiny_session.delete(link)  # BBB-01's only citation no longer stands
    tiny_session.commit()
    second = publish(tiny_session, book, exports_dir, "1.1.0")
    assert changes(exports_dir, "1.1.0") == [
        ("XAA", "2026", "AAA-01", "citation_changed", "Aliens Act, Art. 1 (cited_by: A)", "Aliens Act, Art. 1 (cited_by: A;B)", ""),
        ("XAA", "2026", "AAA-02", "citation_added", "", "Aliens Act, Art. 20", ""),
        ("XAA", "2026", "BBB-01", "citation_removed", "Aliens Act, Art. 3", "", ""),
    ]
    assert "- Values changed: none" in second.changelog
    assert "- Citations changed: 1 added, 1 removed, 1 changed (in 3 values)" in second.changelog
    verified(tiny_session, book, exports_dir, first, second)


def correct_source(session, source: LegalSource, *, title: str, reason: str) -> LegalSource:
    """Correct a source behind final values as rightsdb.review.evidence does: new versions, links moved, one EvidenceCorrection per decision."""
    new = LegalSource(
        country_iso3=source.country_iso3,
        instrument_type=source.instrument_type,
        title=title,
        url=source.url,
        date_in_force=date(2019, 7, 1),
        language=source.language,
        version=source.version + 1,
    )
    session.add(new)
    session.flush()
    source.replaced_by_id = new.id
    session.add(source)
    for old in session.exec(select(Citation).where(Citation.source_id == source.id, Citation.replaced_by_id.is_(None))).all():
        fresh = Citation(
            answer_id=old.answer_id, source_id=new.id, pinpoint=old.pinpoint, url=old.url, excerpt=old.excerpt, position=old.position
        )
        session.add(fresh)
        session.flush()
        old.replaced_by_id = fresh.id
        session.add(old)
        for link in session.exec(select(DecisionCitation).where(DecisionCitation.citation_id == old.id)).all():
            decision = session.get(Decision, link.decision_id)
            session.delete(link)
            session.flush()
            session.add(DecisionCitation(decision_id=decision.id, citation_id=fresh.id))
            session.add(
                EvidenceCorrection(
                    kind="source",
                    old_id=source.id,
                    new_id=new.id,
                    reason=reason,
                    country_round_id=decision.country_round_id,
                    indicator_id=decision.indicator_id,
                    decision_id=decision.id,
                )
            )
    session.flush()
    return new


def test_source_correction_gives_citation_changed_with_its_reason(tiny_session, book, exports_dir):
    make_final(tiny_session, book, make_country(tiny_session, 0), final={"BBB-01": "not_applicable"})
    tiny_session.commit()
    first = publish(tiny_session, book, exports_dir, "1.0.0")
    # A correction recorded before the first release is not this release's.
    tiny_session.add(
        EvidenceCorrection(
            kind="citation",
            old_id=1,
            new_id=1,
            reason="Earlier.",
            at=first.published_at,
            country_round_id=1,
            indicator_id="AAA-01",
            decision_id=decisions(tiny_session, "XAA")["AAA-01"].id,
        )
    )
    source = tiny_session.exec(select(LegalSource)).one()
    correct_source(tiny_session, source, title="Aliens Act (No. 12/2019)", reason="Title and date in force as in the official gazette.")
    tiny_session.commit()
    second = publish(tiny_session, book, exports_dir, "1.1.0")
    reason = "Title and date in force as in the official gazette."
    assert changes(exports_dir, "1.1.0") == [
        (
            "XAA",
            "2026",
            indicator,
            "citation_changed",
            f"Aliens Act, Art. {n} (title: Aliens Act; date_in_force: )",
            f"Aliens Act (No. 12/2019), Art. {n} (title: Aliens Act (No. 12/2019); date_in_force: 2019-07-01)",
            reason,
        )
        for n, indicator in ((1, "AAA-01"), (2, "AAA-02"))
    ]
    assert "- Values changed: none" in second.changelog
    assert "- Citations changed: 2 changed (in 2 values)" in second.changelog
    assert "- Evidence corrected by a supervisor, with a reason: 2 values" in second.changelog
    readme = (exports_dir / "1.1.0" / "README.md").read_text(encoding="utf-8")
    assert "| citation_changed | 2 |" in readme
    assert f"- XAA 2026 AAA-01 (citation changed): {reason}" in readme
    verified(tiny_session, book, exports_dir, first, second)
    # Rebuilt from the snapshots and the corrections, never from the coding tables: a later edit changes nothing.
    tiny_session.exec(select(Decision)).first().reason = "edited later"
    for citation in tiny_session.exec(select(Citation)).all():
        citation.excerpt = "changed after the release"
    tiny_session.commit()
    verified(tiny_session, book, exports_dir, first, second)


def test_codebook_version_and_scoring_scheme_are_release_level_rows(tiny_session, book, exports_dir, tmp_path):
    make_final(tiny_session, book, make_country(tiny_session, 0))
    tiny_session.commit()
    first = publish(tiny_session, book, exports_dir, "1.0.0")
    newer = tmp_path / "tiny.yaml"
    shutil.copy(TINY_CODEBOOK, newer)
    newer.write_text(newer.read_text(encoding="utf-8").replace('version: "0.1.0"', 'version: "0.2.0"'), encoding="utf-8")
    revised = load_codebook(newer)
    second = publish(tiny_session, revised, exports_dir, "1.1.0", scheme_id="strict")
    assert changes(exports_dir, "1.1.0") == [
        ("", "", "", "codebook_version", "0.1.0", "0.2.0", ""),
        ("", "", "", "scoring_scheme", "binary", "strict", ""),
    ]
    assert second.changelog.splitlines()[1:3] == ["- Codebook version: 0.1.0 -> 0.2.0", "- Scoring scheme: binary -> strict"]
    readme = (exports_dir / "1.1.0" / "README.md").read_text(encoding="utf-8")
    assert "Changes to the whole release:\n\n- codebook version: 0.1.0 -> 0.2.0\n- scoring scheme: binary -> strict" in readme
    verified(tiny_session, revised, exports_dir, second)
    verified(tiny_session, book, exports_dir, first)


def test_changes_are_sorted_by_country_round_codebook_order_and_kind(tiny_session, book, exports_dir):
    make_final(tiny_session, book, make_country(tiny_session, 1))
    country_round, _ = make_final(tiny_session, book, make_country(tiny_session, 0))
    tiny_session.commit()
    publish(tiny_session, book, exports_dir, "1.0.0")
    for iso3 in ("XBB", "XAA"):
        held = decisions(tiny_session, iso3)
        for indicator in ("BBB-01", "AAA-01"):
            held[indicator].value, held[indicator].groups = "conditional", ["refugees"]
            tiny_session.add(held[indicator])
    answers = answers_by_slot(tiny_session, country_round.id)
    answers["B", "AAA-01"].notes = "Only for refugees."
    tiny_session.add(answers["B", "AAA-01"])
    tiny_session.commit()
    publish(tiny_session, book, exports_dir, "1.1.0")
    assert [row[:4] for row in changes(exports_dir, "1.1.0")] == [
        ("XAA", "2026", "AAA-01", "value"),
        ("XAA", "2026", "AAA-01", "groups"),
        ("XAA", "2026", "AAA-01", "notes"),
        ("XAA", "2026", "BBB-01", "value"),
        ("XAA", "2026", "BBB-01", "groups"),
        ("XBB", "2026", "AAA-01", "value"),
        ("XBB", "2026", "AAA-01", "groups"),
        ("XBB", "2026", "BBB-01", "value"),
        ("XBB", "2026", "BBB-01", "groups"),
    ]


def test_readme_lists_a_bounded_number_of_changes():
    rows = [
        ("XAA", "2026", f"AAA-{n:02d}", "citation_changed", "A, Art. 1 (title: A)", "B, Art. 1 (title: B)", "Gazette.") for n in range(5)
    ]
    lines = changes_section(rows, previous_version="1.0.0", limit=2)
    text = "\n".join(lines)
    assert "- XAA 2026 AAA-00: A, Art. 1 (title: A) -> B, Art. 1 (title: B) (citation changed)" in lines
    assert "AAA-02: A" not in text
    assert "- ... the first 2 of 5: see data/changes.csv for all 5 rows." in lines
    assert "- ... the first 2 of 5: see the reason column of data/changes.csv." in lines


def test_changed_at_is_after_the_previous_release(tiny_session, book, exports_dir):
    """A correction's time decides its release: one made after release 1.1.0 belongs to the next, not to 1.1.0."""
    make_final(tiny_session, book, make_country(tiny_session, 0))
    tiny_session.commit()
    publish(tiny_session, book, exports_dir, "1.0.0")
    source = tiny_session.exec(select(LegalSource)).one()
    correct_source(tiny_session, source, title="Aliens Act 2019", reason="First correction.")
    tiny_session.commit()
    publish(tiny_session, book, exports_dir, "1.1.0")
    assert {row[6] for row in changes(exports_dir, "1.1.0")} == {"First correction."}
    newer = tiny_session.exec(select(LegalSource).where(LegalSource.replaced_by_id.is_(None))).one()
    correct_source(tiny_session, newer, title="Aliens Act 2019 (consolidated)", reason="Second correction.")
    tiny_session.commit()
    publish(tiny_session, book, exports_dir, "1.2.0")
    assert {row[6] for row in changes(exports_dir, "1.2.0")} == {"Second correction."}
    assert len(changes(exports_dir, "1.2.0")) == 3
