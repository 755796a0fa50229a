"""Check every row of an import file against the codebook and turn the rows into answers with citations.

Nothing here touches the database: the caller passes the set of known country codes, so one bad file
costs one query, and every problem of every row is collected before anything is written. The column
table lives in `rightsdb.importing.importer`'s docstring.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

from rightsdb.codebook import Codebook, rules
from rightsdb.codebook.rules import ANSWER_CODES, CITATION_LIMITS
from rightsdb.importing.reader import Table

REQUIRED_COLUMNS = ("country_iso3", "indicator_id", "answer")
ANSWER_COLUMNS = REQUIRED_COLUMNS + ("groups", "notes")
CITATION_COLUMNS = (
    "instrument_type",
    "source_title",
    "source_url",
    "date_in_force",
    "language",
    "pinpoint",
    "citation_url",
    "excerpt",
    "translation",
)
COLUMNS = ANSWER_COLUMNS + CITATION_COLUMNS
# Field sizes of the tables the values go into (the citation limits of the codebook's rules).
MAX_LENGTHS = {
    "source_title": CITATION_LIMITS["title"],
    "source_url": CITATION_LIMITS["url"],
    "citation_url": CITATION_LIMITS["url"],
    "pinpoint": CITATION_LIMITS["pinpoint"],
    "language": CITATION_LIMITS["language"],
}
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
LANGUAGE_RE = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$")
PROGRESS_EVERY = 500
#: The column an import names for each kind of problem of `rules.answer_problems`.
RULE_COLUMNS = {"value": "answer", "citations": "source_title", "groups": "groups", "notes": "notes"}

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True, order=True)
class RowProblem:
    """One faulty row: its line in the file (header = 1), the column at fault and why."""

    line: int
    column: str
    message: str

    @property
    def location(self) -> str:
        return f"line {self.line}, column {self.column}" if self.column else f"line {self.line}"

    def __str__(self) -> str:
        return f"{self.location}: {self.message}"


@dataclass(frozen=True)
class CitationRow:
    """A citation given on one line: the legal source it points at and the pinpoint within it."""

    line: int
    instrument_type: str
    source_title: str
    source_url: str
    date_in_force: date | None
    language: str
    pinpoint: str
    citation_url: str
    excerpt: str
    translation: str

    def content(self) -> tuple:
        """Everything but the line number: two rows with equal content are the same citation."""
        return (
            self.instrument_type,
            self.source_title,
            self.source_url,
            self.date_in_force,
            self.language,
            self.pinpoint,
            self.citation_url,
            self.excerpt,
            self.translation,
        )

    def source_fields(self) -> dict:
        """The legal source the row cites, as the fields of a LegalSource."""
        return {
            "instrument_type": self.instrument_type,
            "title": self.source_title,
            "url": self.source_url,
            "date_in_force": self.date_in_force,
            "language": self.language,
        }

    def citation_fields(self) -> dict:
        """The provision the row cites, as the fields of a Citation (beside its answer, source and position)."""
        return {"pinpoint": self.pinpoint, "url": self.citation_url, "excerpt": self.excerpt, "translation": self.translation}


@dataclass
class AnswerRow:
    """One country's answer to one indicator, gathered from one or more lines."""

    line: int
    country_iso3: str
    indicator_id: str
    value: str
    groups: list[str]
    notes: str
    citations: list[CitationRow] = field(default_factory=list)

    @property
    def key(self) -> tuple[str, str]:
        return (self.country_iso3, self.indicator_id)


def check_columns(table: Table) -> list[RowProblem]:
    """Report missing required columns, unknown (probably misspelt) columns and repeated ones."""
    problems = []
    for name in REQUIRED_COLUMNS:
        if name not in table.columns:
            problems.append(RowProblem(1, name, "required column is missing"))
    seen = set()
    for name in table.columns:
        if name in seen:
            problems.append(RowProblem(1, name, "column appears twice"))
        elif name not in COLUMNS:
            hint = " (the file seems to use ';' as separator: save it comma-separated)" if ";" in name else ""
            problems.append(RowProblem(1, name or "(blank)", f"unknown column{hint}; the columns are: {', '.join(COLUMNS)}"))
        seen.add(name)
    return problems


class _LineFaults:
    """The problems found on one line, reported through `add` as they are found and counted."""

    def __init__(self, line: int, add: Callable[[int, str, str], None]):
        self.line, self.add, self.count = line, add, 0

    def __call__(self, column: str, message: str) -> None:
        self.add(self.line, column, message)
        self.count += 1

    def code(self, value: str, column: str, known, missing: str, unknown: Callable[[str], str]) -> str:
        """Check a required code: report it when empty (`missing`) or not one of `known` (`unknown(value)` says so)."""
        if not value:
            self(column, missing)
        elif value not in known:
            self(column, unknown(value))
        return value


def _parse_citation(line: int, cells: dict[str, str], codebook: Codebook, add) -> CitationRow | None:
    """Validate the citation columns of one line; None when the line gives no citation."""
    if not any(cells.get(c, "") for c in CITATION_COLUMNS):
        return None
    fault = _LineFaults(line, add)
    for column, limit in MAX_LENGTHS.items():
        if len(cells.get(column, "")) > limit:
            fault(column, f"longer than {limit} characters")
    instrument = fault.code(
        cells.get("instrument_type", ""),
        "instrument_type",
        codebook.instrument_labels,
        "a citation needs the instrument type",
        lambda v: f"unknown instrument type {v!r}; allowed: {', '.join(codebook.instrument_labels)}",
    )
    if not cells.get("source_title", ""):
        fault("source_title", "a citation needs the title of the legal source")
    for column in ("source_url", "citation_url"):
        value = cells.get(column, "")
        if value and (problem := rules.url_problem(value)):
            fault(column, f"{problem} Got {value[:200]!r}")
    raw_date = cells.get("date_in_force", "")
    in_force = None
    if raw_date:
        try:
            if not DATE_RE.match(raw_date):
                raise ValueError
            in_force = date.fromisoformat(raw_date)
        except ValueError:
            fault("date_in_force", f"not a date in the form YYYY-MM-DD: {raw_date!r}")
    language = cells.get("language", "")
    if language and not LANGUAGE_RE.match(language):
        fault("language", f"not a language code such as 'en', 'ru' or 'ar': {language!r}")
    if fault.count:
        return None
    return CitationRow(
        line=line,
        instrument_type=instrument,
        source_title=cells.get("source_title", ""),
        source_url=cells.get("source_url", ""),
        date_in_force=in_force,
        language=language,
        pinpoint=cells.get("pinpoint", ""),
        citation_url=cells.get("citation_url", ""),
        excerpt=cells.get("excerpt", ""),
        translation=cells.get("translation", ""),
    )


def _parse_answer(line: int, cells: dict[str, str], codebook: Codebook, known_countries: set[str], add) -> AnswerRow | None:
    """Validate the answer columns of one line; None when any of them is wrong."""
    fault = _LineFaults(line, add)
    iso3 = fault.code(
        cells.get("country_iso3", "").upper(),
        "country_iso3",
        known_countries,
        "missing country code",
        lambda v: f"unknown country {v!r} (not in the countries table)",
    )
    indicator_id = fault.code(
        cells.get("indicator_id", "").upper(),
        "indicator_id",
        codebook.indicators_by_id,
        "missing indicator id",
        lambda v: f"unknown indicator {v!r} in codebook version {codebook.version}",
    )
    value = cells.get("answer", "").lower()
    if value not in ANSWER_CODES:
        shown = repr(cells.get("answer", "")) if cells.get("answer", "") else "missing answer"
        fault("answer", f"{shown}: the answer must be one of {', '.join(ANSWER_CODES)}")
    groups: list[str] = []
    given = [g.strip() for g in cells.get("groups", "").split(";") if g.strip()]
    for group in given:
        if group not in codebook.group_labels:
            fault("groups", f"unknown migrant group {group!r}; allowed: {', '.join(codebook.group_labels)}")
    # Codebook order, so that equal sets of groups compare and display equally.
    groups = [g for g in codebook.group_labels if g in given]
    notes = cells.get("notes", "")
    if value in ANSWER_CODES:
        # Citations are checked once every line of the answer is read (parse_rows): taken as given here.
        for what, message in rules.answer_problems(value=value, groups=given, cited=True, has_notes=bool(notes.strip())):
            fault(RULE_COLUMNS[what], message if message.startswith(value) else f"a {value} answer {message}")
    if fault.count:
        return None
    return AnswerRow(line=line, country_iso3=iso3, indicator_id=indicator_id, value=value, groups=groups, notes=notes)


def parse_rows(
    table: Table, *, codebook: Codebook, known_countries: set[str], progress: Progress | None = None
) -> tuple[dict[tuple[str, str], AnswerRow], list[RowProblem]]:
    """Check every line; return the answers keyed by (country, indicator) and every problem found."""
    problems: list[RowProblem] = []

    def add(line: int, column: str, message: str) -> None:
        problems.append(RowProblem(line, column, message))

    for line in table.overlong:
        add(line, "", "more cells than the header has columns")
    answers: dict[tuple[str, str], AnswerRow] = {}
    # Answers whose citation columns were filled in but wrong: already reported, not "without citation".
    cited: set[tuple[str, str]] = set()
    seen_citations: dict[tuple, int] = {}
    # (country, instrument type, title) -> (line, url, date, language) first given for that source
    sources: dict[tuple[str, str, str], tuple[int, str, date | None, str]] = {}
    total = len(table.rows)
    for done, (line, cells) in enumerate(table.rows, start=1):
        answer = _parse_answer(line, cells, codebook, known_countries, add)
        citation = _parse_citation(line, cells, codebook, add)
        if progress and (done % PROGRESS_EVERY == 0 or done == total):
            progress("validated", done, total)
        if answer is None:
            continue
        previous = answers.get(answer.key)
        if previous is None:
            answers[answer.key] = previous = answer
        else:
            for column, mine, theirs in (
                ("answer", answer.value, previous.value),
                ("groups", answer.groups, previous.groups),
                ("notes", answer.notes, previous.notes),
            ):
                if mine != theirs:
                    add(
                        line,
                        column,
                        f"conflicts with line {previous.line} for {answer.country_iso3} {answer.indicator_id} (rows for the same country and indicator must give the same answer, groups and notes)",
                    )
        if any(cells.get(c, "") for c in CITATION_COLUMNS):
            cited.add(answer.key)
        if citation is None:
            continue
        key = (answer.key, citation.content())
        if key in seen_citations:
            add(line, "", f"repeats the citation of line {seen_citations[key]}")
            continue
        seen_citations[key] = line
        source_key = (answer.country_iso3, citation.instrument_type, citation.source_title)
        details = (citation.source_url, citation.date_in_force, citation.language)
        first = sources.setdefault(source_key, (line,) + details)
        for column, mine, theirs in zip(("source_url", "date_in_force", "language"), details, first[1:]):
            if mine != theirs:
                add(
                    line, column, f"differs from line {first[0]} for the same source {citation.source_title!r} ({citation.instrument_type})"
                )
        previous.citations.append(citation)
    for answer in answers.values():
        if rules.needs_citation(answer.value) and not answer.citations and answer.key not in cited:
            add(answer.line, "source_title", f"a {answer.value} answer needs at least one citation (instrument_type, source_title)")
    return answers, problems
