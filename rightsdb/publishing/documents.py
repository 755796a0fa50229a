"""The release's documents for people: README.md (files, scoring rules, protocol, changelog) and CITATION.cff."""

from __future__ import annotations

import json
import re

import pandas as pd

from rightsdb.codebook import Codebook
from rightsdb.publishing import scoring
from rightsdb.publishing.changelog import changes_section
from rightsdb.publishing.formats import FORMATS, WORKBOOK
from rightsdb.publishing.formats.csv import CSV_RULE, PLAIN_RULE, UNDO_PATTERN

LICENSE = {"name": "CC-BY-4.0", "title": "Creative Commons Attribution 4.0", "path": "https://creativecommons.org/licenses/by/4.0/"}


TABLE_TITLES = {
    "long": "One row per country, round and indicator: final answer, scores, coders' answers, citations",
    "matrix": "Country-rounds by indicator (final answer codes), columns in codebook order",
    "scores": "Country-rounds by category score, with both aggregates",
    "codebook": "The indicators of the codebook, in order",
    "countries": "The countries in the release",
    "reliability": "Inter-coder reliability of the independent A/B answers",
    "citations": "One row per legal citation standing behind a final value, with the coders who gave it (cited_by)",
    "changes": "One row per change since the previous release: values, groups, notes, citations, indicators, country-rounds",
}


def _synthetic_note(release) -> str:
    return (
        " This release contains synthetic demonstration data (fictional countries), not findings about any real country's law."
        if release.synthetic
        else ""
    )


def _scheme_text(codebook: Codebook, release) -> str:
    scheme = codebook.scheme(release.scheme)
    scores = ", ".join(f"{code} = {'empty (leaves the denominator)' if v is None else v}" for code, v in scheme.scores.items())
    return f"{scheme.id} ({scheme.label}): {scores}"


#: The README's section on the CSV rule (formats.csv.FORMULA_RULE); releases of rule 0 have none.
FORMULA_SECTION = f"""## Text that looks like a formula (CSV rule 1)

A spreadsheet that opens a CSV file runs a cell beginning with `=`, `+`, `-`, `@`, a tab or a
carriage return as a formula. So that no text of this release can do so, the CSV files follow the
OWASP rule for CSV injection (datapackage.json records it as `"csv_rule": 1`):

- A text cell that begins with one of those characters, after any apostrophes, is written with one
  more apostrophe (`'`) in front and in double quotes: `=HYPERLINK("x")` is written
  `"'=HYPERLINK(""x"")"`, and a text cell `-5` is written `"'-5"` (the rule reads the first character,
  never whether the rest looks like a number).
- A text cell holding `;` or a tab right before one of those characters is written in double quotes,
  so that a spreadsheet splitting fields on `;` or tabs keeps it one cell.
- Numbers and booleans are never changed: a score of -1 or -0.5 is written as it is, and so is a
  number among the text of a column of type string. The header rows are written as they are.

To get the text back, remove one leading apostrophe from every text cell that begins with one or more
apostrophes followed by `=`, `+`, `-`, `@`, a tab or a carriage return; in Python with pandas:
`frame[column].str.replace(r"{UNDO_PATTERN}", "", regex=True)`. Nothing else is changed. The
Excel workbook, the Stata and the Parquet files hold the text as it is, as typed text (never a formula).
"""


def readme_text(
    release,
    codebook: Codebook,
    tables: dict[str, pd.DataFrame],
    *,
    csv_rule: int = CSV_RULE,
    previous_version: str | None = None,
    changes: list[tuple] | None = None,
) -> str:
    """Write the release README: what the files are, the scoring rules with formulas, the protocol and what changed.

    `changes` are the rows of changes.csv since release `previous_version` (publishing.changelog).

    `csv_rule` is the CSV rule of the files: from rule 1 on the README explains it (FORMULA_SECTION); a
    release of rule 0 is rebuilt with the README it was published with.
    """
    aggregation = next(a for a in codebook.scoring.aggregations if a.id == release.aggregation)
    lines = [f"# {release.title} (rightsdb release {release.version})", ""]
    if release.synthetic:
        lines += [
            "**This release contains synthetic demonstration data.** The countries are fictional",
            "(ISO 3166 user-assigned codes); nothing here describes any real country's law.",
            "",
        ]
    lines += [
        f"- Release date: {release.release_date.isoformat()}",
        f"- Codebook: {codebook.codebook.title}, version {release.codebook_version}",
        f"- Scoring scheme: {_scheme_text(codebook, release)}",
        f"- Headline aggregation: {aggregation.id} ({aggregation.label}); scores.csv gives both aggregates",
        f"- Country-rounds: {len(tables['scores'])}; rows in long.csv: {len(tables['long'])}",
        "",
    ]
    if release.notes:
        lines += ["## Notes", "", release.notes, ""]
    lines += ["## Scoring rules", "", scoring.FORMULAS, ""]
    lines += [
        "## Coding protocol",
        "",
        "Each indicator measures national law on the books (constitution, statutes, regulations, case law)",
        "in force on the round's reference date, not practice. Two coders code every country independently",
        "(slots A and B), each answer supported by pinpoint citations to the legal source. Where both give",
        "the same answer the value is `agreed`; otherwise a supervisor decides (`reconciled`) and records a",
        "reason. The citations that stand behind each final value are in citations.csv (one row for a",
        "citation both coders gave, cited_by A;B), and each coder's notes (what was searched for a",
        "not-provided answer, why an indicator does not apply, the condition behind other_condition) in",
        "long.csv (coder_a_notes, coder_b_notes). Reliability",
        "statistics (percent agreement, Cohen's kappa, Krippendorff's alpha (nominal), Gwet's AC1, with n and",
        "prevalence) are computed on the coders' independent answers; coder identities are not published.",
        "",
        "## Files",
        "",
    ]
    lines += [f"- data/{name}.csv: {TABLE_TITLES[name]}" for name in tables]
    lines += [
        f"- {WORKBOOK}: the same tables as an Excel workbook (one sheet each; text is never a formula)",
        *(f"- {f.path(name)}: {f.describe.format(table=name)}" for f in FORMATS for name in f.tables),
        "- datapackage.json: Frictionless data package (schemas, SHA-256 of each file, license, sources)",
        "- CITATION.cff: how to cite this release",
        "- SHA256SUMS: checksums of every file (check with `sha256sum -c SHA256SUMS`)",
        "",
        "Every file, the Excel workbook included, is byte-identical when rebuilt from the release snapshot",
        f"(`rightsdb release verify {release.version}` checks every file).",
        "",
        *([] if csv_rule == PLAIN_RULE else [FORMULA_SECTION]),
        *changes_section(changes or [], previous_version=previous_version),
        "## Citation",
        "",
        suggested_citation(release),
        "",
    ]
    return "\n".join(lines)


def suggested_citation(release) -> str:
    """Return the suggested citation of a release."""
    kind = " Synthetic demonstration data." if release.synthetic else ""
    return f"rightsdb Migrant Rights Database coding team ({release.release_date.year}). {release.title}, version {release.version} [dataset].{kind}"


#: What a YAML double-quoted string cannot hold as it is (outside YAML's printable set, or a YAML line break).
_NOT_YAML_PRINTABLE = re.compile("[\x7f-\x9f\u2028\u2029\ufffe\uffff]")


def _yaml_string(text: str, ensure_ascii: bool = True) -> str:
    """Quote text as a YAML double-quoted string: JSON's quoting, and a \\u escape for what YAML cannot hold."""
    return _NOT_YAML_PRINTABLE.sub(lambda m: f"\\u{ord(m.group()):04x}", json.dumps(text, ensure_ascii=ensure_ascii))


def citation_cff(release, codebook: Codebook) -> str:
    """Write CITATION.cff (Citation File Format 1.2.0) for a release."""
    q = _yaml_string
    abstract = f"Migrant rights in national law, coded with the {codebook.codebook.title} (codebook {release.codebook_version}).{_synthetic_note(release)}"
    return "\n".join(
        [
            "cff-version: 1.2.0",
            'message: "If you use these data, please cite them as below."',
            "type: dataset",
            f"title: {q(release.title, ensure_ascii=False)}",
            f"version: {q(release.version)}",
            f"date-released: {q(release.release_date.isoformat())}",
            "authors:",
            '  - name: "rightsdb Migrant Rights Database coding team"',
            f"abstract: {q(abstract, ensure_ascii=False)}",
            f"license: {LICENSE['name']}",
            "keywords:",
            "  - migrant rights",
            "  - legal coding",
            *(['  - "synthetic demonstration data"'] if release.synthetic else []),
            "",
        ]
    )
