"""Verify a published release: rebuild its files from the snapshot and compare every checksum."""

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
from rightsdb.publishing.formats import NOT_REPRODUCIBLE
from rightsdb.publishing.formats.csv import CSV_RULE, CSV_RULES, PLAIN_RULE
from rightsdb.publishing.formats.datapackage import CSV_RULE_KEY
from rightsdb.publishing.snapshot import release_inputs

#: How verify_release's report of a damaged snapshot (not a file) starts.
SNAPSHOT_PROBLEM = "snapshot: "


def published_csv_rule(folder: Path, stored: dict[str, str], *, sums_intact: bool) -> int:
    """Return the CSV rule the release in `folder` was written with, as its datapackage.json records it.

    A datapackage.json naming no rule is of the releases published before the rules were numbered
    (rule 0). One that cannot be read gives the current rule: verify then reports it as differing.
    Raises InvalidInput for a rule this code does not know in an intact datapackage.json (its checksum
    that of `stored`, the SHA256SUMS, itself intact): a release published by a newer rightsdb.
    """
    path = folder / "datapackage.json"
    try:
        raw = path.read_bytes()
        rule = json.loads(raw.decode("utf-8"))["rightsdb"].get(CSV_RULE_KEY, PLAIN_RULE)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return CSV_RULE
    if type(rule) is int and rule in CSV_RULES:
        return rule
    if sums_intact and hashlib.sha256(raw).hexdigest() == stored.get("datapackage.json"):
        known = ", ".join(map(str, CSV_RULES))
        raise InvalidInput(
            f"Release files in {folder} were written under CSV rule {rule!r}; this version of rightsdb knows rules {known}:"
            " verify the release with the version of rightsdb that published it."
        )
    return CSV_RULE


@with_collector_paused
def verify_release(*, session: Session, codebook: Codebook, exports_dir: str | Path, release: Release) -> list[str]:
    """Rebuild a release from its snapshot and return the files whose checksum differs from SHA256SUMS.

    The Excel workbook is skipped: its bytes change on every save, and it holds the same data as the
    verified CSV files. The files are rebuilt under the CSV rule they were published with
    (`published_csv_rule`), so a release of an older rule verifies as it was. Snapshot citations that
    belong to no value of the release (they have no foreign key) are reported too, as one entry
    starting with SNAPSHOT_PROBLEM.
    """
    folder = Path(exports_dir) / release.version
    sums_path = folder / "SHA256SUMS"
    if not sums_path.exists():
        raise NotFound(f"The files of release {release.version} are missing ({sums_path}).")
    stored = read_sums(sums_path)
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
    sums_intact = hashlib.sha256(sums_path.read_bytes()).hexdigest() == release.sha256
    if not sums_intact:
        problems.append("SHA256SUMS")
    csv_rule = published_csv_rule(folder, stored, sums_intact=sums_intact)
    with tempfile.TemporaryDirectory(prefix=f".verify-{release.version}.") as temporary:
        rebuilt = Path(temporary)
        write_release_files(rebuilt, inputs=release_inputs(session=session, release=release), codebook=codebook, csv_rule=csv_rule)
        expected = read_sums(rebuilt / "SHA256SUMS")
        for name in sorted(set(stored) | set(expected)):
            if name in NOT_REPRODUCIBLE:
                continue
            path = folder / name
            actual = sha256_file(path) if path.exists() else None
            if stored.get(name) != expected.get(name) or actual != stored.get(name):
                problems.append(name)
    return problems
