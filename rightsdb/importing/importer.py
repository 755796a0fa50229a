"""Import an existing coded dataset from a spreadsheet, all or nothing (`rightsdb import FILE`).

    rightsdb import FILE --round NAME (--as-submission --coder EMAIL | --as-final --reason TEXT
                         [--supervisor EMAIL]) [--sheet NAME] [--dry-run]

FILE is a CSV file (UTF-8, with or without a byte-order mark, comma-separated) or an Excel workbook
(.xlsx: its first sheet, or the sheet named by --sheet). Line 1 holds the column names (any case);
a column may be left out when it would be empty everywhere, and unknown columns are refused (a
misspelt column would otherwise silently drop data). The file is read within the import limits
(RIGHTSDB_IMPORT_*, `rightsdb.importing.limits`): a larger file, more data lines or a workbook that
unpacks to more is refused unread, as is damaged or hostile XML (`rightsdb.importing.workbook`).
One line per country, indicator and citation:

| column | required | content |
|---|---|---|
| country_iso3 | yes | ISO 3166-1 alpha-3 code; the country must be in the countries table |
| indicator_id | yes | an indicator id of the codebook the round uses (e.g. `LAB-01`) |
| answer | yes | one of the codebook answer codes: `provided`, `conditional`, `not_provided`, `not_applicable` |
| groups | conditional only | `;`-separated migrant group codes from the codebook; required for `conditional`, refused otherwise |
| notes | not_applicable only | the coder's notes; required for `not_applicable` (the reason it cannot apply) |
| instrument_type | with a citation | an instrument type code of the codebook (`constitution`, `statute`, ...) |
| source_title | with a citation | title of the legal source (max. 500 characters) |
| source_url | no | http(s) address of the whole instrument |
| date_in_force | no | date the instrument entered into force, `YYYY-MM-DD` |
| language | no | language code of the original text (`en`, `ru`, `ar`, `pt-BR`) |
| pinpoint | no | article, section or paragraph cited (max. 300 characters) |
| citation_url | no | http(s) deep link to the provision |
| excerpt | no | the provision's text in the original language (any script) |
| translation | no | an English translation of the excerpt |

Several lines for the same country and indicator add several citations; their answer, groups and
notes must then be identical. `provided` and `conditional` answers need at least one citation. A
legal source is identified by (country, instrument_type, source_title): an existing one is reused
as it is, otherwise it is created once (its URL, date and language must agree on every line). Only a
source the imported coding may see is reused (blind coding, `rightsdb.coding.citations`): the
country's register, and for `--as-submission` the sources private to the coder's own assignment,
never the other coder's. A source an `--as-submission` import creates is private to the coder's
assignment until both codings are submitted in the web application, like one the coder enters
there; one an `--as-final` import creates goes straight into the country's register.

Every line is checked before anything is written, and every fault is reported with its line (the
header is line 1), its column and the reason. One fault and nothing is written. Otherwise everything is
written in one transaction committed once at the end, so an interrupted import (even a killed
process) leaves no partial import. `--dry-run` checks and reports the counts without writing.

`--as-submission` fills the importing coder's own assignment for each country of the round (it must
exist and be in progress). An answer already in the assignment is replaced by the imported one (the
audit trail keeps the old value); its existing citations are kept and an identical citation (same
source and pinpoint) is not added twice. The coder then reviews and submits in the web application.

`--as-final` records final values for country-rounds never coded in the system; every indicator of
the codebook must be present for each country. The supervisor (--supervisor, or the only active
supervisor when there is just one) decides: each indicator gets a Decision (outcome `reconciled`,
chosen `other`, reason = --reason) and the country-round is finalized. Why an assignment too: a
citation must hang on an Answer (`Citation.answer_id`) and a Decision reaches its citations through
`DecisionCitation`, so the import keeps the shape that reconciled data already has instead of adding a
second way to store citations: the imported coding becomes the country-round's slot-A Assignment,
held by the supervisor, status `submitted`, its message naming the file and the reason. Its Answers
carry the values, notes and citations, and each Decision links those citations. No model change is
needed and releases read imported and reconciled country-rounds alike. It never enters reliability
statistics (there is no second, independent coding to compare with). A country-round that already
has assignments or decisions is refused: an imported final coding replaces double coding, it is never
mixed with it.

Every import writes audit events: one per object created or changed, and one summary event per
country with its counts.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import func, or_
from sqlmodel import Session, select

from rightsdb.accounts.audit import record_added_all
from rightsdb.codebook import Codebook
from rightsdb.db import lock_country_rounds
from rightsdb.errors import InvalidInput
from rightsdb.importing.limits import ImportLimits
from rightsdb.importing.reader import read_table
from rightsdb.importing.rows import AnswerRow, Progress, RowProblem, check_columns, parse_rows
from rightsdb.importing.writer import write_final, write_submission
from rightsdb.models import Answer, Assignment, Citation, Country, CountryRound, Decision, LegalSource, Round, User

MODES = ("submission", "final")
SUPERVISING_ROLES = ("supervisor", "admin")


class ImportRefused(InvalidInput):
    """The file (or the options) break a rule: nothing was written; `rows` lists each faulty line."""

    def __init__(self, message: str, options: list[tuple[str, str]], rows: list[RowProblem]):
        self.options = options
        self.rows = sorted(rows)
        super().__init__(message, options + [(p.location, p.message) for p in self.rows])


@dataclass
class ImportSummary:
    """What an import wrote (or, in a dry run, would write)."""

    mode: str
    round_name: str
    file_name: str
    dry_run: bool
    rows: int
    answers: dict[str, int] = field(default_factory=dict)  # per country
    citations: dict[str, int] = field(default_factory=dict)  # per country: the citations the file gives
    # Per country: those not recorded yet (an answer's citation with the same source and pinpoint is not
    # added twice), so a re-import reports "0 new", not "0 citations".
    new_citations: dict[str, int] = field(default_factory=dict)
    sources_created: int = 0
    sources_reused: int = 0

    def lines(self) -> list[str]:
        """Describe the import in a few lines for the terminal."""
        verb = "would import" if self.dry_run else "imported"
        as_what = "final values" if self.mode == "final" else "submission answers"
        cited, new = sum(self.citations.values()), sum(self.new_citations.values())
        head = (
            f"{self.file_name}: {self.rows} rows valid; {verb} {sum(self.answers.values())} {as_what} with "
            f"{cited} citations ({new} new, {cited - new} already recorded) for {len(self.answers)} {'country' if len(self.answers) == 1 else 'countries'} in round {self.round_name} "
            f"({self.sources_created} legal sources new, {self.sources_reused} reused)."
        )
        per_country = [
            f"  {iso3}: {self.answers[iso3]} answers, {self.citations[iso3]} citations ({self.new_citations.get(iso3, 0)} new)"
            for iso3 in sorted(self.answers)
        ]
        tail = ["Dry run: nothing was written."] if self.dry_run else []
        return [head] + per_country + tail


def _find_user(session: Session, email: str | None, option: str, problems: list[tuple[str, str]]) -> User | None:
    """Return the active user with this email, or note why not."""
    user = session.exec(select(User).where(func.lower(User.email) == (email or "").strip().lower())).first()
    if user is None:
        problems.append((option, f"no user with email {email!r}"))
    elif not user.active:
        problems.append((option, f"{user.email} is deactivated"))
        return None
    return user


def _find_supervisor(session: Session, email: str | None, problems: list[tuple[str, str]]) -> User | None:
    """Return the named supervisor, or the only active supervisor when none is named."""
    if email:
        user = _find_user(session, email, "--supervisor", problems)
        if user is not None and user.role not in SUPERVISING_ROLES:
            problems.append(("--supervisor", f"{user.email} is a {user.role}, not a supervisor"))
            return None
        return user
    supervisors = session.exec(select(User).where(User.role == "supervisor", User.active == True)).all()  # noqa: E712
    if len(supervisors) != 1:
        problems.append(("--supervisor", f"name the deciding supervisor ({len(supervisors)} active supervisors exist)"))
        return None
    return supervisors[0]


def _first_lines(answers: dict[tuple[str, str], AnswerRow]) -> dict[str, int]:
    """Return the first line of each country in the file, where country-level problems are reported."""
    first: dict[str, int] = {}
    for answer in answers.values():
        first[answer.country_iso3] = min(first.get(answer.country_iso3, answer.line), answer.line)
    return first


def _check_submission(session: Session, round_: Round, coder: User, answers, problems: list[RowProblem]) -> dict[str, Assignment]:
    """Find the coder's in-progress assignment for every country of the file."""
    first = _first_lines(answers)
    # Saves and submits take the same locks: an assignment submitted while the file is checked is not written.
    lock_country_rounds(
        session, select(CountryRound.id).where(CountryRound.round_id == round_.id, CountryRound.country_iso3.in_(list(first)))
    )
    rows = session.exec(
        select(Assignment, CountryRound.country_iso3)
        .join(CountryRound, Assignment.country_round_id == CountryRound.id)
        .where(CountryRound.round_id == round_.id, Assignment.coder_id == coder.id, CountryRound.country_iso3.in_(list(first)))
        .execution_options(populate_existing=True)
    ).all()
    assignments = {iso3: assignment for assignment, iso3 in rows}
    for iso3, line in sorted(first.items()):
        assignment = assignments.get(iso3)
        if assignment is None:
            problems.append(RowProblem(line, "country_iso3", f"{coder.email} has no assignment for {iso3} in round {round_.name}"))
        elif assignment.status != "in_progress":
            problems.append(
                RowProblem(
                    line, "country_iso3", f"{coder.email}'s assignment for {iso3} is {assignment.status}; a supervisor must reopen it first"
                )
            )
    return assignments


def _check_final(
    session: Session, round_: Round, codebook: Codebook, answers, mentioned: set, problems: list[RowProblem]
) -> dict[str, CountryRound]:
    """Refuse partial codings and country-rounds that are already coded in the system."""
    first = _first_lines(answers)
    for iso3, line in sorted(first.items()):
        missing = [i for i in codebook.indicator_ids if (iso3, i) not in mentioned]
        if missing:
            problems.append(RowProblem(line, "indicator_id", f"a final coding needs every indicator; {iso3} lacks {', '.join(missing)}"))
    existing = session.exec(
        select(CountryRound).where(CountryRound.round_id == round_.id, CountryRound.country_iso3.in_(list(first)))
    ).all()
    by_country = {cr.country_iso3: cr for cr in existing}
    ids = [cr.id for cr in existing]
    if ids:
        busy = set(session.exec(select(Assignment.country_round_id).where(Assignment.country_round_id.in_(ids))).all())
        busy |= set(session.exec(select(Decision.country_round_id).where(Decision.country_round_id.in_(ids))).all())
        for cr in existing:
            if cr.id in busy:
                problems.append(
                    RowProblem(
                        first[cr.country_iso3],
                        "country_iso3",
                        f"{cr.country_iso3} is already being coded or final in round {round_.name}; a final import only fills country-rounds not coded in the system",
                    )
                )
    return by_country


def import_codings(
    *,
    session: Session,
    codebook: Codebook,
    path: str | Path,
    round_name: str,
    mode: str,
    user_email: str | None,
    reason: str = "",
    sheet: str | None = None,
    dry_run: bool = False,
    progress: Progress | None = None,
    limits: ImportLimits | None = None,
) -> ImportSummary:
    """Check a whole coded file and, when every line is valid and not a dry run, write it (flush only).

    The file is read within `limits` (default: the settings' defaults); past them it is refused unread.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}")
    path = Path(path)
    table = read_table(path, sheet=sheet, limits=limits)
    column_problems = check_columns(table)
    if not table.rows:
        column_problems.append(RowProblem(1, "", "the file has a header but no data lines"))
    if column_problems:
        raise ImportRefused(f"{path.name}: the layout of the file is not valid; nothing was imported.", [], column_problems)

    options: list[tuple[str, str]] = []
    round_ = session.exec(select(Round).where(Round.name == round_name)).first()
    if round_ is None:
        options.append(("--round", f"no round named {round_name!r}"))
    elif round_.codebook_version != codebook.version:
        options.append(
            ("--round", f"round {round_name} uses codebook version {round_.codebook_version}, the loaded codebook is {codebook.version}")
        )
        round_ = None
    if mode == "submission":
        user = _find_user(session, user_email, "--coder", options)
    else:
        user = _find_supervisor(session, user_email, options)
        if not reason.strip():
            options.append(("--reason", "a final import needs the reason recorded with each decision"))

    iso3s = {cells.get("country_iso3", "").upper() for _line, cells in table.rows}
    known = set(session.exec(select(Country.iso3).where(Country.iso3.in_(sorted(iso3s)))).all()) if iso3s else set()
    answers, problems = parse_rows(table, codebook=codebook, known_countries=known, progress=progress)
    targets: dict = {}
    if round_ is not None and user is not None:
        if mode == "submission":
            targets = _check_submission(session, round_, user, answers, problems)
        else:
            mentioned = {(c.get("country_iso3", "").upper(), c.get("indicator_id", "").upper()) for _line, c in table.rows}
            targets = _check_final(session, round_, codebook, answers, mentioned, problems)
    if options or problems:
        faults = [f"{len(set(p.line for p in problems))} faulty line(s)"] if problems else []
        faults += [f"{len(options)} problem(s) with the options"] if options else []
        raise ImportRefused(f"{path.name}: {' and '.join(faults)}; nothing was imported.", options, problems)

    sources = _existing_sources(session, answers, targets if mode == "submission" else {})
    summary = ImportSummary(mode=mode, round_name=round_name, file_name=path.name, dry_run=dry_run, rows=len(table.rows))
    for answer in answers.values():
        summary.answers[answer.country_iso3] = summary.answers.get(answer.country_iso3, 0) + 1
        summary.citations[answer.country_iso3] = summary.citations.get(answer.country_iso3, 0) + len(answer.citations)
    wanted = {(a.country_iso3, c.instrument_type, c.source_title) for a in answers.values() for c in a.citations}
    summary.sources_reused = len(wanted & set(sources))
    summary.sources_created = len(wanted - set(sources))
    recorded = _recorded_citations(session, targets, sources) if mode == "submission" else {}
    summary.new_citations = _count_new_citations(answers, recorded)
    if dry_run:
        return summary

    by_country: dict[str, list[AnswerRow]] = defaultdict(list)
    for answer in answers.values():
        by_country[answer.country_iso3].append(answer)
    _create_sources(session, answers, sources, user, targets if mode == "submission" else {})
    context = dict(
        session=session, codebook=codebook, by_country=by_country, sources=sources, user=user, file_name=path.name, progress=progress
    )
    if mode == "submission":
        # Citations an answer already had are not added twice: report what was really added.
        summary.new_citations = write_submission(assignments=targets, **context)
    else:
        summary.new_citations = write_final(round_=round_, country_rounds=targets, reason=reason.strip(), **context)
    return summary


def _recorded_citations(session: Session, assignments: dict[str, Assignment], sources: dict) -> dict[tuple[str, str], set]:
    """The citations the coder's answers already hold, as (source key, pinpoint) per (country, indicator)."""
    if not assignments:
        return {}
    countries = {assignment.id: iso3 for iso3, assignment in assignments.items()}
    keys = {source.id: key for key, source in sources.items()}
    rows = session.exec(
        select(Answer.assignment_id, Answer.indicator_id, Citation.source_id, Citation.pinpoint)
        .join(Citation, Citation.answer_id == Answer.id)
        .where(Answer.assignment_id.in_(list(countries)))
    ).all()
    recorded: dict[tuple[str, str], set] = defaultdict(set)
    for assignment_id, indicator_id, source_id, pinpoint in rows:
        recorded[(countries[assignment_id], indicator_id)].add((keys.get(source_id, source_id), pinpoint))
    return recorded


def _count_new_citations(answers: dict[tuple[str, str], AnswerRow], recorded: dict[tuple[str, str], set]) -> dict[str, int]:
    """Count per country the file's citations the writer will add: not recorded yet, nor given twice (same source and pinpoint)."""
    new: dict[str, int] = {}
    for answer in answers.values():
        have = set(recorded.get(answer.key, ()))
        new.setdefault(answer.country_iso3, 0)
        for citation in answer.citations:
            mark = ((answer.country_iso3, citation.instrument_type, citation.source_title), citation.pinpoint)
            if mark not in have:
                have.add(mark)
                new[answer.country_iso3] += 1
    return new


def _existing_sources(
    session: Session, answers: dict[tuple[str, str], AnswerRow], assignments: dict[str, Assignment]
) -> dict[tuple[str, str, str], LegalSource]:
    """Load the legal sources the import may reuse for the file's countries, keyed as the file names them.

    The country's current register, and the current sources private to `assignments` (a submission's
    own assignment per country); never another assignment's private source, never a replaced row.
    """
    countries = sorted({a.country_iso3 for a in answers.values()})
    if not countries:
        return {}
    own = [assignment.id for assignment in assignments.values()]
    visible = or_(LegalSource.assignment_id.is_(None), LegalSource.assignment_id.in_(own))  # type: ignore[union-attr]
    current = LegalSource.replaced_by_id.is_(None)  # type: ignore[union-attr]
    rows = session.exec(select(LegalSource).where(LegalSource.country_iso3.in_(countries), current, visible).order_by(LegalSource.id)).all()
    sources: dict[tuple[str, str, str], LegalSource] = {}
    for source in rows:
        sources.setdefault((source.country_iso3, source.instrument_type, source.title), source)
    return sources


def _create_sources(session: Session, answers, sources: dict, user: User, assignments: dict[str, Assignment]) -> None:
    """Create the legal sources the file cites that do not exist yet (each once), private to the country's assignment if any."""
    created = []
    for answer in sorted(answers.values(), key=lambda a: a.line):
        for citation in answer.citations:
            key = (answer.country_iso3, citation.instrument_type, citation.source_title)
            if key in sources:
                continue
            assignment = assignments.get(answer.country_iso3)
            source = LegalSource(
                country_iso3=answer.country_iso3,
                created_by_id=user.id,
                assignment_id=assignment.id if assignment is not None else None,
                **citation.source_fields(),
            )
            sources[key] = source
            created.append(source)
    record_added_all(session, created, new=_source_state, user_id=user.id, action="legal_source.create")


def _source_state(source: LegalSource) -> dict:
    return {
        "country": source.country_iso3,
        "instrument_type": source.instrument_type,
        "title": source.title,
        "via": "import",
        "private_to_assignment": source.assignment_id,
    }
