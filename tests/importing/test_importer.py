"""`rightsdb import`: all-or-nothing import of coded spreadsheets, as a coder's submission or as final values."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner
from sqlalchemy import func
from sqlmodel import Session, select

from rightsdb.db import create_all, make_engine
from rightsdb.errors import InvalidInput
from rightsdb.importing.importer import ImportRefused, import_codings
from rightsdb.models import Answer, Assignment, AuditEvent, Citation, CountryRound, Decision, DecisionCitation, LegalSource, Round, User
from rightsdb.ops.cli import main
from tests.conftest import DATA as TESTS_DATA
from tests.conftest import ROOT, TINY_CODEBOOK, load_codebook_once
from tests.factories.coding import make_source
from tests.factories.countries import make_country
from tests.factories.people import make_user
from tests.factories.querycount import count_queries
from tests.factories.rounds import make_assignments, make_round

DATA = TESTS_DATA / "import"
HEADER = "country_iso3,indicator_id,answer,groups,notes,instrument_type,source_title,source_url,date_in_force,language,pinpoint,citation_url,excerpt,translation"
COUNTED = (Answer, Citation, LegalSource, Decision, DecisionCitation, CountryRound, Assignment, AuditEvent)
RUSSIAN = "Иностранные граждане пользуются правом на труд.\nЧасть вторая."
ARABIC = "يتمتع الأجانب بالحماية القانونية."


@dataclass
class World:
    round: Round
    coder: User
    other: User
    supervisor: User
    xaa: Assignment
    xbb: Assignment


@pytest.fixture
def tiny_codebook(tiny_app):
    return tiny_app.extensions["rightsdb.codebook"]


def build_world(session: Session, codebook) -> World:
    """Two fictional countries in round 2026, each assigned to `coder` (slot A) and `other` (slot B)."""
    coder = make_user(session, "coder", email="ana@example.org")
    other = make_user(session, "coder", email="ben@example.org")
    supervisor = make_user(session, "supervisor", email="sue@example.org")
    round_ = make_round(session, codebook)
    _cr, xaa, _b = make_assignments(session, round_, make_country(session, 0), coder, other)
    _cr, xbb, _b = make_assignments(session, round_, make_country(session, 1), coder, other)
    make_country(session, 2)  # XCC: known, never coded in the system
    session.commit()
    return World(round_, coder, other, supervisor, xaa, xbb)


@pytest.fixture
def world(tiny_session, tiny_codebook) -> World:
    return build_world(tiny_session, tiny_codebook)


def counts(session: Session) -> dict[str, int]:
    return {m.__name__: session.exec(select(func.count()).select_from(m)).one() for m in COUNTED}


def run_import(session, codebook, path, *, mode="submission", user="ana@example.org", **kwargs):
    return import_codings(session=session, codebook=codebook, path=path, round_name="2026", mode=mode, user_email=user, **kwargs)


def write_csv(tmp_path: Path, lines: list[str], name: str = "file.csv") -> Path:
    path = tmp_path / name
    path.write_text("\n".join([HEADER] + lines) + "\n", encoding="utf-8")
    return path


def test_valid_csv_imports_as_submission_with_scripts_intact(tiny_session, tiny_codebook, world):
    summary = run_import(tiny_session, tiny_codebook, DATA / "submission_good.csv")
    tiny_session.commit()
    assert summary.answers == {"XAA": 3} and summary.citations == summary.new_citations == {"XAA": 3}
    assert (summary.sources_created, summary.sources_reused) == (2, 0)
    answers = {a.indicator_id: a for a in tiny_session.exec(select(Answer).where(Answer.assignment_id == world.xaa.id)).all()}
    assert {k: a.value for k, a in answers.items()} == {"AAA-01": "provided", "AAA-02": "conditional", "BBB-01": "not_applicable"}
    assert answers["AAA-02"].groups == ["permanent_residents", "irregular_migrants"]  # codebook order
    assert answers["BBB-01"].notes == "No such procedure exists in Arvenia."
    first = answers["AAA-01"].citations
    assert [c.excerpt for c in first] == [RUSSIAN, ARABIC]  # multi-line Cyrillic and Arabic survive
    assert [c.position for c in first] == [0, 1]
    assert first[0].url == "https://example.org/arvenia/aliens-act#art5" and first[0].source.language == "ru"
    assert str(first[0].source.date_in_force) == "2015-03-01"
    assert world.xaa.status == "in_progress"  # the coder reviews and submits in the application
    actions = [e.action for e in tiny_session.exec(select(AuditEvent)).all()]
    assert actions.count("import.submission") == 1 and actions.count("answer.import") == 3
    assert actions.count("citation.create") == 3 and actions.count("legal_source.create") == 2


def test_bom_csv_reads_the_first_column_name(tiny_session, tiny_codebook, world):
    assert (DATA / "submission_bom.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    summary = run_import(tiny_session, tiny_codebook, DATA / "submission_bom.csv")
    assert summary.answers == {"XAA": 3}


def test_submission_replaces_answers_and_reuses_sources(tiny_session, tiny_codebook, world):
    aliens_act = make_source(tiny_session, make_country(tiny_session, 0), title="Aliens Act")
    old = Answer(
        assignment_id=world.xaa.id,
        indicator_id="AAA-01",
        value="not_provided",
        codebook_version=tiny_codebook.version,
        carried_forward=True,
    )
    tiny_session.add(old)
    tiny_session.flush()
    tiny_session.add(Citation(answer_id=old.id, source_id=aliens_act.id, pinpoint="Art. 5", excerpt="old"))
    tiny_session.commit()
    summary = run_import(tiny_session, tiny_codebook, DATA / "submission_good.csv")
    tiny_session.commit()
    assert (summary.sources_created, summary.sources_reused) == (1, 1)
    assert summary.citations == {"XAA": 3} and summary.new_citations == {"XAA": 2}  # one already there
    assert "3 citations (2 new, 1 already recorded)" in summary.lines()[0] and summary.lines()[1] == "  XAA: 3 answers, 3 citations (2 new)"
    tiny_session.refresh(old)
    assert old.value == "provided" and old.carried_forward is False and old.version == 2
    # The existing Art. 5 citation is kept, not doubled; the constitution citation is added after it.
    assert [(c.source.title, c.pinpoint, c.excerpt) for c in old.citations] == [
        ("Aliens Act", "Art. 5", "old"),
        ("Constitution of Arvenia", "Art. 19", ARABIC),
    ]
    event = tiny_session.exec(select(AuditEvent).where(AuditEvent.action == "answer.import", AuditEvent.entity_id == str(old.id))).one()
    assert event.old["value"] == "not_provided" and event.new["value"] == "provided"


def test_submission_needs_the_coders_own_in_progress_assignment(tiny_session, tiny_codebook, world):
    stranger = make_user(tiny_session, "coder", email="cara@example.org")
    tiny_session.commit()
    with pytest.raises(ImportRefused) as refused:
        run_import(tiny_session, tiny_codebook, DATA / "submission_good.csv", user=stranger.email)
    assert [(p.line, p.column) for p in refused.value.rows] == [(2, "country_iso3")]
    assert "has no assignment for XAA" in refused.value.rows[0].message
    world.xaa.status = "submitted"
    tiny_session.add(world.xaa)
    tiny_session.commit()
    with pytest.raises(ImportRefused) as refused:
        run_import(tiny_session, tiny_codebook, DATA / "submission_good.csv")
    assert "must reopen it" in refused.value.rows[0].message


def test_bad_file_reports_every_faulty_row_and_writes_nothing(tiny_session, tiny_codebook, world):
    before = counts(tiny_session)
    with pytest.raises(ImportRefused) as refused:
        run_import(tiny_session, tiny_codebook, DATA / "submission_bad.csv")
    tiny_session.rollback()
    assert counts(tiny_session) == before
    found = {(p.line, p.column) for p in refused.value.rows}
    assert found == {
        (2, "country_iso3"),
        (3, "indicator_id"),
        (4, "answer"),
        (5, "groups"),
        (6, "groups"),
        (7, "date_in_force"),
        (8, "source_url"),
        (10, "answer"),
        (11, "source_title"),
    }
    messages = {(p.line, p.column): p.message for p in refused.value.rows}
    assert "unknown country 'XZZ'" in messages[(2, "country_iso3")]
    assert "conflicts with line 9" in messages[(10, "answer")]
    assert "needs at least one citation" in messages[(11, "source_title")]
    assert ("line 8, column source_url", messages[(8, "source_url")]) in refused.value.problems


def test_header_problems_are_reported_before_rows(tiny_session, tiny_codebook, world, tmp_path):
    path = tmp_path / "header.csv"
    path.write_text("country_iso3,indicatr_id,answer\nXAA,AAA-01,provided\n", encoding="utf-8")
    with pytest.raises(ImportRefused) as refused:
        run_import(tiny_session, tiny_codebook, path)
    assert {(p.line, p.column) for p in refused.value.rows} == {(1, "indicator_id"), (1, "indicatr_id")}
    path.write_text("country_iso3;indicator_id;answer\nXAA;AAA-01;provided\n", encoding="utf-8")
    with pytest.raises(ImportRefused) as refused:
        run_import(tiny_session, tiny_codebook, path)
    assert any("';' as separator" in p.message for p in refused.value.rows)
    path.write_text(HEADER + "\n", encoding="utf-8")
    with pytest.raises(ImportRefused) as refused:
        run_import(tiny_session, tiny_codebook, path)
    assert [str(p) for p in refused.value.rows] == ["line 1: the file has a header but no data lines"]


def test_invalid_utf8_names_the_line(tiny_session, tiny_codebook, world):
    with pytest.raises(InvalidInput) as refused:
        run_import(tiny_session, tiny_codebook, DATA / "latin1.csv")
    assert "not UTF-8 text" in str(refused.value) and "line 3" in str(refused.value)


def test_dry_run_reports_counts_and_writes_nothing(tiny_session, tiny_codebook, world):
    before = counts(tiny_session)
    summary = run_import(tiny_session, tiny_codebook, DATA / "submission_good.csv", dry_run=True)
    tiny_session.commit()
    assert counts(tiny_session) == before
    assert summary.dry_run and summary.answers == {"XAA": 3} and "nothing was written" in "\n".join(summary.lines())


@pytest.fixture
def final_world(tiny_session, tiny_codebook) -> User:
    """Round 2026 with three known countries and no coding yet; return its only supervisor."""
    supervisor = make_user(tiny_session, "supervisor", email="sue@example.org")
    make_user(tiny_session, "coder", email="ana@example.org")
    make_round(tiny_session, tiny_codebook)
    for index in range(3):
        make_country(tiny_session, index)
    tiny_session.commit()
    return supervisor


def test_valid_xlsx_imports_as_final(tiny_session, tiny_codebook, final_world):
    round_ = tiny_session.exec(select(Round)).one()
    planned = CountryRound(round_id=round_.id, country_iso3="XAA")  # planned but never coded: it is used
    tiny_session.add(planned)
    tiny_session.commit()
    summary = run_import(
        tiny_session, tiny_codebook, DATA / "final_good.xlsx", mode="final", user=None, reason="Coded by the 2018 pilot team"
    )
    tiny_session.commit()
    assert summary.answers == {"XAA": 3, "XBB": 3} and summary.citations == summary.new_citations == {"XAA": 3, "XBB": 2}
    crs = {cr.country_iso3: cr for cr in tiny_session.exec(select(CountryRound)).all()}
    assert set(crs) == {"XAA", "XBB"} and crs["XAA"].id == planned.id
    assert all(cr.finalized_at is not None for cr in crs.values())
    decisions = tiny_session.exec(select(Decision).where(Decision.country_round_id == planned.id)).all()
    assert {d.indicator_id: d.value for d in decisions} == {"AAA-01": "provided", "AAA-02": "conditional", "BBB-01": "not_provided"}
    assert {(d.outcome, d.chosen, d.reason, d.decided_by_id) for d in decisions} == {
        ("reconciled", "other", "Coded by the 2018 pilot team", final_world.id)
    }
    assignment = tiny_session.exec(select(Assignment).where(Assignment.country_round_id == planned.id)).one()
    assert (assignment.slot, assignment.coder_id, assignment.status) == ("A", final_world.id, "submitted")
    # Each decision reaches its citations through DecisionCitation, as reconciled decisions do.
    conditional = next(d for d in decisions if d.indicator_id == "AAA-02")
    linked = tiny_session.exec(
        select(Citation)
        .join(DecisionCitation, DecisionCitation.citation_id == Citation.id)
        .where(DecisionCitation.decision_id == conditional.id)
        .order_by(Citation.position)
    ).all()
    assert [(c.source.title, c.pinpoint) for c in linked] == [("Aliens Act", "Art. 7"), ("Constitution of Arvenia", "Art. 19")]
    assert linked[0].excerpt == "نص المادة السابعة." and str(linked[0].source.date_in_force) == "2015-03-01"
    borovia = tiny_session.exec(select(LegalSource).where(LegalSource.title == "Borovian Migration Code")).one()
    assert str(borovia.date_in_force) == "2019-07-01"
    assert tiny_session.exec(select(func.count()).select_from(DecisionCitation)).one() == 5
    actions = [e.action for e in tiny_session.exec(select(AuditEvent)).all()]
    assert actions.count("import.final") == 2 and actions.count("decision.create") == 6 and actions.count("country_round.create") == 1


def test_final_refuses_partial_codings_and_country_rounds_coded_in_the_system(tiny_session, tiny_codebook, world, tmp_path):
    before = counts(tiny_session)
    with pytest.raises(ImportRefused) as refused:
        run_import(tiny_session, tiny_codebook, DATA / "final_good.xlsx", mode="final", user="sue@example.org", reason="pilot")
    assert [(p.line, p.column) for p in refused.value.rows] == [(2, "country_iso3"), (6, "country_iso3")]
    partial = write_csv(tmp_path, ["XCC,AAA-01,not_provided,,,,,,,,,,,"])
    with pytest.raises(ImportRefused) as refused:
        run_import(tiny_session, tiny_codebook, partial, mode="final", user="sue@example.org", reason="pilot")
    assert [(p.line, p.column) for p in refused.value.rows] == [(2, "indicator_id")]
    assert "XCC lacks AAA-02, BBB-01" in refused.value.rows[0].message
    with pytest.raises(ImportRefused) as refused:
        run_import(tiny_session, tiny_codebook, partial, mode="final", user="ana@example.org", reason="")
    assert dict(refused.value.options) == {
        "--supervisor": "ana@example.org is a coder, not a supervisor",
        "--reason": "a final import needs the reason recorded with each decision",
    }
    tiny_session.rollback()
    assert counts(tiny_session) == before


def test_final_import_covers_the_real_codebook(session, codebook, tmp_path):
    supervisor = make_user(session, "supervisor")
    make_round(session, codebook)
    make_country(session, 0)
    session.commit()
    lines = [f"XAA,{i},provided,,,statute,Aliens Act,,,en,Art. {n},,Excerpt {n},," for n, i in enumerate(codebook.indicator_ids, 1)]
    summary = run_import(session, codebook, write_csv(tmp_path, lines), mode="final", user=supervisor.email, reason="Legacy data")
    session.commit()
    assert summary.answers == {"XAA": len(codebook.indicators)}
    assert session.exec(select(func.count()).select_from(Decision)).one() == len(codebook.indicators)
    assert session.exec(select(func.count()).select_from(LegalSource)).one() == 1
    with pytest.raises(ImportRefused):  # the same country-round cannot be imported twice
        run_import(session, codebook, write_csv(tmp_path, lines), mode="final", user=supervisor.email, reason="Again")


def test_unknown_round_and_other_codebook_version_are_refused(tiny_session, tiny_codebook, world):
    with pytest.raises(ImportRefused) as refused:
        import_codings(
            session=tiny_session,
            codebook=tiny_codebook,
            path=DATA / "submission_good.csv",
            round_name="1999",
            mode="submission",
            user_email="ana@example.org",
        )
    assert refused.value.options == [("--round", "no round named '1999'")]
    world.round.codebook_version = "9.9.9"
    tiny_session.add(world.round)
    tiny_session.commit()
    with pytest.raises(ImportRefused) as refused:
        run_import(tiny_session, tiny_codebook, DATA / "submission_good.csv")
    assert "codebook version 9.9.9" in refused.value.options[0][1]


def test_progress_is_reported_for_long_files(tiny_session, tiny_codebook, world, tmp_path):
    lines = [f"XAA,AAA-01,provided,,,statute,Aliens Act,,,,Art. {n},,," for n in range(1, 1201)]
    seen = []
    run_import(
        tiny_session, tiny_codebook, write_csv(tmp_path, lines), progress=lambda stage, done, total: seen.append((stage, done, total))
    )
    assert [s for s in seen if s[0] == "validated"] == [("validated", 500, 1200), ("validated", 1000, 1200), ("validated", 1200, 1200)]
    assert seen[-1] == ("written", 1200, 1200)


def test_reads_are_a_fixed_number_of_queries(tiny_app, tiny_session, tiny_codebook, world, tmp_path):
    engine = tiny_app.extensions["rightsdb.engine"]
    lines = [f"XAA,AAA-01,provided,,,statute,Aliens Act,,,,Art. {n},,," for n in range(1, 1201)]
    with count_queries(engine) as log:
        run_import(tiny_session, tiny_codebook, write_csv(tmp_path, lines), dry_run=True)
    assert (
        log.count == 7
    )  # round, coder, countries, the country-rounds' lock, assignments, legal sources, recorded citations: whatever the length
    good = (DATA / "submission_good.csv").read_text(encoding="utf-8").splitlines()[1:]
    selects = []
    for name, rows in (("one.csv", good), ("two.csv", good + [line.replace("XAA", "XBB") for line in good])):
        with count_queries(engine) as log:
            run_import(tiny_session, tiny_codebook, write_csv(tmp_path, rows, name))
        tiny_session.rollback()
        selects.append(sum(1 for s in log.statements if s.lstrip().upper().startswith("SELECT")))
    assert selects[0] == selects[1]  # no query per country or per row, only the inserts grow


def test_sheet_option_reads_the_named_sheet(tiny_session, tiny_codebook, world, tmp_path):
    workbook = openpyxl.Workbook()
    workbook.active.title = "About"
    workbook.active.append(["Read me first"])
    codings = workbook.create_sheet("Codings")
    codings.append(HEADER.split(","))
    codings.append(["XAA", "AAA-01", "provided", None, None, "statute", "Aliens Act", None, None, "en", "Art. 1"])
    workbook.save(tmp_path / "two.xlsx")
    assert run_import(tiny_session, tiny_codebook, tmp_path / "two.xlsx", sheet="Codings").answers == {"XAA": 1}
    with pytest.raises(InvalidInput, match="no sheet named 'Nope'"):
        run_import(tiny_session, tiny_codebook, tmp_path / "two.xlsx", sheet="Nope")


# --- the command line -----------------------------------------------------------------------------


@pytest.fixture
def cli_env(tiny_app, monkeypatch, tmp_path):
    """Point `rightsdb` (create_app reads the environment) at the test database and the tiny codebook."""
    monkeypatch.setenv("RIGHTSDB_DATABASE_URL", tiny_app.config["DATABASE_URL"])
    monkeypatch.setenv("RIGHTSDB_CODEBOOK_PATH", str(TINY_CODEBOOK))
    monkeypatch.setenv("RIGHTSDB_EXPORTS_DIR", str(tmp_path / "exports"))
    monkeypatch.setenv("RIGHTSDB_SECRET_KEY", "test-secret-key-that-is-long-enough-0123456789")
    monkeypatch.setenv("RIGHTSDB_ENV", "testing")
    return CliRunner()


def test_cli_imports_a_submission_and_prints_counts(cli_env, tiny_session, world):
    result = cli_env.invoke(
        main, ["import", str(DATA / "submission_good.csv"), "--round", "2026", "--as-submission", "--coder", "ana@example.org"]
    )
    assert result.exit_code == 0, result.output
    assert "imported 3 submission answers with 3 citations (3 new, 0 already recorded) for 1 country" in result.stdout
    assert "validated 4/4 rows" in result.stderr
    assert counts(tiny_session)["Answer"] == 3


def test_a_re_import_reports_its_citations_as_already_recorded_not_as_none(cli_env, tiny_session, world):
    args = ["import", str(DATA / "submission_good.csv"), "--round", "2026", "--as-submission", "--coder", "ana@example.org"]
    assert cli_env.invoke(main, args).exit_code == 0
    dry_run = cli_env.invoke(main, args + ["--dry-run"])
    again = cli_env.invoke(main, args)
    assert (dry_run.exit_code, again.exit_code) == (0, 0), again.output
    for result in (dry_run, again):  # the dry run foresees what the import does
        assert "imported 3 submission answers with 3 citations (0 new, 3 already recorded) for 1 country" in result.stdout.replace(
            "would import", "imported"
        )
        assert "  XAA: 3 answers, 3 citations (0 new)" in result.stdout
    assert counts(tiny_session)["Citation"] == 3


def test_cli_lists_faulty_rows_and_exits_1(cli_env, tiny_session, world):
    before = counts(tiny_session)
    result = cli_env.invoke(
        main, ["import", str(DATA / "submission_bad.csv"), "--round", "2026", "--as-submission", "--coder", "ana@example.org"]
    )
    assert result.exit_code == 1
    assert "nothing was imported" in result.stderr
    assert "line 7, column date_in_force: not a date in the form YYYY-MM-DD: '2015-13-45'" in result.stderr
    assert counts(tiny_session) == before


def test_cli_invalid_utf8_is_a_message_not_a_traceback(cli_env, world):
    result = cli_env.invoke(main, ["import", str(DATA / "latin1.csv"), "--round", "2026", "--as-submission", "--coder", "ana@example.org"])
    assert result.exit_code == 1 and result.exception is not None and isinstance(result.exception, SystemExit)
    assert "not UTF-8 text: byte 0xed on line 3" in result.stderr and "Traceback" not in result.output


def test_cli_dry_run_and_option_rules(cli_env, tiny_session, final_world):
    before = counts(tiny_session)
    args = ["import", str(DATA / "final_good.xlsx"), "--round", "2026", "--as-final", "--reason", "pilot", "--dry-run"]
    result = cli_env.invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "would import 6 final values" in result.stdout and "Dry run: nothing was written." in result.stdout
    assert counts(tiny_session) == before
    assert cli_env.invoke(main, args[:4] + ["--as-submission"]).exit_code == 2  # both modes
    assert cli_env.invoke(main, args[:4] + ["--as-final"]).exit_code == 2  # no reason
    result = cli_env.invoke(main, args[:-1])
    assert result.exit_code == 0 and counts(tiny_session)["Decision"] == 6


# --- crash safety ---------------------------------------------------------------------------------


def _wait_for_line(lines: queue.Queue, text: str, timeout: float = 60) -> str:
    """Collect the child's stderr lines until one contains `text`."""
    deadline = time.monotonic() + timeout
    seen = ""
    while time.monotonic() < deadline:
        try:
            seen += lines.get(timeout=0.5)
        except queue.Empty:
            continue
        if text in seen:
            return seen
    raise AssertionError(f"{text!r} never appeared; stderr so far:\n{seen}")


def test_killed_import_leaves_nothing_behind(tmp_path):
    url = f"sqlite:///{tmp_path / 'crash.sqlite'}"
    engine = make_engine(url)
    create_all(engine)
    codebook = load_codebook_once(TINY_CODEBOOK)
    with Session(engine) as session:
        build_world(session, codebook)
    good = (DATA / "submission_good.csv").read_text(encoding="utf-8").splitlines()
    path = write_csv(tmp_path, good[1:] + [line.replace("XAA", "XBB") for line in good[1:]])  # two countries
    env = dict(
        os.environ,
        RIGHTSDB_DATABASE_URL=url,
        RIGHTSDB_CODEBOOK_PATH=str(TINY_CODEBOOK),
        RIGHTSDB_ENV="testing",
        RIGHTSDB_SECRET_KEY="test-secret-key-that-is-long-enough-0123456789",
        RIGHTSDB_EXPORTS_DIR=str(tmp_path / "exports"),
    )
    arguments = ["import", str(path), "--round", "2026", "--as-submission", "--coder", "ana@example.org"]
    command = [sys.executable, "-m", "rightsdb.ops.cli", *arguments]
    paused = [sys.executable, "-m", "tests.crash_points", "import=1", "--", *arguments]
    process = subprocess.Popen(paused, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    lines: queue.Queue[str] = queue.Queue()
    # A thread reads stderr so that a child that never pauses cannot hang the test.
    reader = threading.Thread(target=lambda: [lines.put(line) for line in process.stderr], daemon=True)
    reader.start()
    try:
        seen = _wait_for_line(lines, "paused after writing")
        assert "written 4/8 rows" in seen  # the first country's rows were flushed, uncommitted
        os.kill(process.pid, signal.SIGKILL)
        assert process.wait(timeout=30) == -signal.SIGKILL
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        reader.join(timeout=10)
        process.stderr.close()
    with Session(engine) as session:
        left = counts(session)
    assert (left["Answer"], left["Citation"], left["LegalSource"], left["Decision"]) == (0, 0, 0, 0)
    assert left["AuditEvent"] == 0
    # The same import without the pause goes through: the killed run really was writing.
    finished = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert finished.returncode == 0, finished.stderr
    with Session(engine) as session:
        assert counts(session)["Answer"] == 6
    engine.dispose()
