"""Verify a published release: every file in its folder, against SHA256SUMS and against a rebuild from the snapshot.

A release of the current release format (formats.RELEASE_FORMAT) is rebuilt from its snapshot and every
file compared byte for byte, the workbook included. A release of format 1 (published before the formats
were numbered: its files hold other columns and carried library versions) cannot be rebuilt byte for
byte by this code, so it is checked for integrity only: every file against SHA256SUMS, and SHA256SUMS
against the checksum recorded at publication. Either way every file listed in SHA256SUMS, and every file
in the folder, is checked, and each one found wrong is named.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from pathlib import Path

import sqlalchemy as sa
from sqlmodel import Session, select

from rightsdb.codebook import Codebook
from rightsdb.errors import InvalidInput, NotFound
from rightsdb.models import Release, ReleaseAnswer, ReleaseCitation
from rightsdb.process import with_collector_paused
from rightsdb.publishing.files import read_sums, sha256_file, write_release_files
from rightsdb.publishing.formats import RELEASE_FORMAT, RELEASE_FORMATS
from rightsdb.publishing.formats.csv import CSV_RULE, CSV_RULES, PLAIN_RULE
from rightsdb.publishing.formats.datapackage import CSV_RULE_KEY, FORMAT_KEY
from rightsdb.publishing.snapshot import release_inputs

#: How verify_release's report of a damaged snapshot (not a file) starts.
SNAPSHOT_PROBLEM = "snapshot: "
#: How the report of a file that SHA256SUMS lists (or the rebuild writes) but the folder lacks starts.
MISSING = "missing: "
#: How the report of a file in the release's folder that SHA256SUMS does not list starts.
UNLISTED = "not listed in SHA256SUMS: "
#: How the first entry of verify_release's answer starts when it checked a release's integrity only.
INTEGRITY_ONLY = "integrity only: "
#: The prefixes of the entries that say what they are; any other entry is a file whose bytes differ.
PREFIXES = (SNAPSHOT_PROBLEM, MISSING, UNLISTED)
#: The format of the releases published before release formats were numbered.
UNNUMBERED_FORMAT = 1


def _recorded(folder: Path, key: str, default: int) -> tuple[object, bool]:
    """Return the value of `key` under "rightsdb" in the folder's datapackage.json (`default` when absent), and whether it could be read."""
    try:
        raw = (folder / "datapackage.json").read_bytes()
        return json.loads(raw.decode("utf-8"))["rightsdb"].get(key, default), True
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None, False


def _package_intact(folder: Path, stored: dict[str, str], *, sums_intact: bool) -> bool:
    """Tell whether datapackage.json is the published one: listed so in a SHA256SUMS that is itself intact."""
    path = folder / "datapackage.json"
    return sums_intact and path.is_file() and sha256_file(path) == stored.get("datapackage.json")


def published_csv_rule(folder: Path, stored: dict[str, str], *, sums_intact: bool) -> int:
    """Return the CSV rule the release in `folder` was written with, as its datapackage.json records it.

    A datapackage.json naming no rule is of the releases published before the rules were numbered
    (rule 0). One that cannot be read gives the current rule: verify then reports it as differing.
    Raises InvalidInput for a rule this code does not know in an intact datapackage.json (its checksum
    that of `stored`, the SHA256SUMS, itself intact): a release published by a newer rightsdb.
    """
    rule, readable = _recorded(folder, CSV_RULE_KEY, PLAIN_RULE)
    if not readable:
        return CSV_RULE
    if type(rule) is int and rule in CSV_RULES:
        return rule
    if _package_intact(folder, stored, sums_intact=sums_intact):
        known = ", ".join(map(str, CSV_RULES))
        raise InvalidInput(
            f"Release files in {folder} were written under CSV rule {rule!r}; this version of rightsdb knows rules {known}:"
            " verify the release with the version of rightsdb that published it."
        )
    return CSV_RULE


def published_format(folder: Path, stored: dict[str, str], *, sums_intact: bool) -> int | None:
    """Return the release format (formats.RELEASE_FORMATS) of the release in `folder`, as its datapackage.json records it.

    A datapackage.json naming none is of format 1, published before the formats were numbered. One that
    cannot be read gives None (unknown) when SHA256SUMS is intact: verify then checks the files against it
    only. With SHA256SUMS not intact either, nothing says what the files were: the current format is
    assumed and the rebuild names what differs. Raises InvalidInput for a format this code does not
    know in an intact datapackage.json, like `published_csv_rule`.
    """
    number, readable = _recorded(folder, FORMAT_KEY, UNNUMBERED_FORMAT)
    if not readable:
        return None if sums_intact else RELEASE_FORMAT
    if type(number) is int and number in RELEASE_FORMATS:
        return number
    if _package_intact(folder, stored, sums_intact=sums_intact):
        known = ", ".join(map(str, RELEASE_FORMATS))
        raise InvalidInput(
            f"Release files in {folder} are of release format {number!r}; this version of rightsdb knows formats {known}:"
            " verify the release with the version of rightsdb that published it."
        )
    return RELEASE_FORMAT


def integrity_note(release: Release, number: int | None) -> str:
    """Return the line that says a release was checked for integrity only: of an older format (`number`), or of one unknown (None)."""
    if number is None:
        kind = "datapackage.json cannot be read, so the release format is unknown"
    else:
        kind = f"is of release format {number}, which this version of rightsdb cannot rebuild byte for byte (it writes format {RELEASE_FORMAT})"
    return (
        f"{INTEGRITY_ONLY}release {release.version}: {kind}; its files were checked against SHA256SUMS, and SHA256SUMS against"
        " the checksum recorded at publication, but not against a rebuild from the snapshot."
    )


def split_report(report: list[str]) -> tuple[str | None, list[str]]:
    """Split verify_release's answer into its integrity-only note (or None) and the problems found."""
    if report and report[0].startswith(INTEGRITY_ONLY):
        return report[0], report[1:]
    return None, report


def _files_in(folder: Path) -> set[str]:
    """Return every file of the release's folder (SHA256SUMS aside), as release-relative paths."""
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file() or p.is_symlink()} - {"SHA256SUMS"}


def _compare(folder: Path, expected: dict[str, str], listed: dict[str, str] | None) -> list[str]:
    """Name every file that is missing, not listed, or whose checksum is not that of `expected` and of `listed`.

    `listed` is the published SHA256SUMS, or None when it is not the published one (then only `expected` counts).
    """
    present = _files_in(folder)
    problems = []
    for name in sorted(set(expected) | set(listed or {}) | present):
        if name not in present:
            problems.append(MISSING + name)
        elif name not in (expected if listed is None else listed):
            problems.append(UNLISTED + name)
        else:
            actual = sha256_file(folder / name)
            if actual != expected.get(name) or (listed is not None and actual != listed[name]):
                problems.append(name)
    return problems


@with_collector_paused
def verify_release(*, session: Session, codebook: Codebook, exports_dir: str | Path, release: Release) -> list[str]:
    """Check every file of a release; return what is wrong, one entry per file (empty: the release verifies).

    An entry is a file whose bytes differ from SHA256SUMS or from the rebuild, or starts with MISSING
    (listed, or written by the rebuild, but absent), UNLISTED (in the folder but not in SHA256SUMS) or
    SNAPSHOT_PROBLEM (snapshot citations that belong to no value of the release: they have no foreign
    key). "SHA256SUMS" is an entry when its checksum is not the one recorded at publication; its own
    digests are then not trusted.

    A release of the current format is rebuilt from its snapshot under the CSV rule it was published
    with (`published_csv_rule`) and every file compared with the rebuild. A release of format 1 is
    checked for integrity only, and the answer's first entry then starts with INTEGRITY_ONLY
    (`integrity_note`; `split_report` separates it from the problems).
    """
    folder = Path(exports_dir) / release.version
    sums_path = folder / "SHA256SUMS"
    if not sums_path.exists():
        raise NotFound(f"The files of release {release.version} are missing ({sums_path}).")
    sums_intact = hashlib.sha256(sums_path.read_bytes()).hexdigest() == release.sha256
    # A SHA256SUMS that is not the published one is not read at all (it may not even be text).
    stored = read_sums(sums_path) if sums_intact else {}
    problems = []
    values = select(ReleaseAnswer.id).where(ReleaseAnswer.release_id == release.id)
    stray = session.exec(
        select(sa.func.count())
        .select_from(ReleaseCitation)
        .where(ReleaseCitation.release_id == release.id, ReleaseCitation.release_answer_id.not_in(values))  # type: ignore[attr-defined]
    ).one()
    if stray:
        words = "citation belongs" if stray == 1 else "citations belong"
        problems.append(f"{SNAPSHOT_PROBLEM}{stray} {words} to no value of the release (release_citations)")
    if not sums_intact:
        problems.append("SHA256SUMS")
    number = published_format(folder, stored, sums_intact=sums_intact)
    if number != RELEASE_FORMAT:
        # Only SHA256SUMS says what the files were; a SHA256SUMS that is not the published one says nothing.
        return [integrity_note(release, number), *problems, *(_compare(folder, stored, stored) if sums_intact else [])]
    csv_rule = published_csv_rule(folder, stored, sums_intact=sums_intact)
    with tempfile.TemporaryDirectory(prefix=f".verify-{release.version}.") as temporary:
        rebuilt = Path(temporary)
        inputs = release_inputs(session=session, release=release, codebook=codebook)  # with its changes since the previous release
        write_release_files(rebuilt, inputs=inputs, codebook=codebook, csv_rule=csv_rule)
        expected = read_sums(rebuilt / "SHA256SUMS")
    return problems + _compare(folder, expected, stored if sums_intact else None)
