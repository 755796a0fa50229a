"""Releases: snapshot the final data into an immutable Release, with its changelog and files.

A release holds every final country-round (CountryRound.finalized_at set) of one kind only: real
countries, or (synthetic=True) fictional demonstration countries, never both. Publication writes one
ReleaseAnswer row per (country, round, indicator) and one ReleaseCitation row per citation standing
behind it (copied by the database itself); files are built from those rows alone, so a later
correction of a Decision changes nothing in a published release and only shows in the next one's
changelog. Files are written to a temporary sibling folder and renamed into place at the end, so a
failed build leaves no partial release (and the caller, which has not committed, leaves no row).
"""

from __future__ import annotations

import hashlib
import re
import shutil
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

import sqlalchemy as sa
from sqlmodel import Session, select

from rightsdb.accounts.audit import record_event
from rightsdb.codebook import Codebook
from rightsdb.errors import Conflict, InvalidInput, NotFound
from rightsdb.models import Release
from rightsdb.process import with_collector_paused
from rightsdb.publishing import scoring
from rightsdb.publishing.changelog import describe_changes
from rightsdb.publishing.collect import ReleaseInputs, collect_final, snapshot_inputs
from rightsdb.publishing.files import read_sums, write_release_files
from rightsdb.publishing.snapshot import hold_sources, load_snapshot, release_changes
from rightsdb.publishing.staging import building_folder, make_readable, remove_stale_builds
from rightsdb.text import clean_text

#: The longest release title (the column's length).
TITLE_MAX = 300

VERSION_PATTERN = re.compile(r"^\d+\.\d+\.\d+(-[0-9A-Za-z.]+)?$")
SYNTHETIC_TEXT = "synthetic demonstration data"


def list_releases(*, session: Session) -> list[Release]:
    """Return every release, newest first."""
    return list(session.exec(select(Release).order_by(Release.published_at.desc(), Release.id.desc())).all())  # type: ignore[attr-defined]


def default_release(releases: list[Release]) -> Release | None:
    """Pick the latest real release, or the latest synthetic one when no real release exists."""
    real = [r for r in releases if not r.synthetic]
    return (real or releases or [None])[0]


class NoRelease(NotFound):
    """No release is published yet (of any kind)."""


#: What a researcher is told before the first release.
NO_RELEASE = "No release is published yet; researchers will see data here once a supervisor publishes one."


def choose_release(releases: list[Release], version: str | None) -> Release:
    """Return the release a reader asked for by `version`, or the default one when none is named.

    Raises NotFound for an unknown version and NoRelease when nothing is published: the public pages
    answer 404, the API 400, each with this message.
    """
    if version:
        chosen = next((r for r in releases if r.version == version), None)
        if chosen is None:
            raise NotFound(f"Unknown release {version!r}: no release of that version is published.")
        return chosen
    release = default_release(releases)
    if release is None:
        raise NoRelease(NO_RELEASE)
    return release


def get_release(*, session: Session, version: str) -> Release:
    """Return the release with this version, or raise NotFound."""
    release = session.exec(select(Release).where(Release.version == version)).first()
    if release is None:
        raise NotFound(f"There is no release {version}.")
    return release


def move_into_place(temporary: Path, folder: Path) -> None:
    """Rename a release's finished temporary folder to its published name (one atomic rename)."""
    temporary.rename(folder)


def _write_atomically(folder: Path, inputs: ReleaseInputs, codebook: Codebook, progress: Callable[[str], None]) -> None:
    """Build the files in a temporary sibling folder held by this build, make them readable, and rename it into place."""
    with building_folder(folder) as temporary:
        write_release_files(temporary, inputs=inputs, codebook=codebook, progress=progress)
        make_readable(temporary)
        move_into_place(temporary, folder)


@with_collector_paused
def publish_release(
    *,
    session: Session,
    codebook: Codebook,
    exports_dir: str | Path,
    version: str,
    title: str = "",
    notes: str = "",
    release_date: date,
    synthetic: bool = False,
    user_id: int | None = None,
    scheme_id: str | None = None,
    aggregation: str | None = None,
    progress: Callable[[str], None] = lambda _m: None,
) -> Release:
    """Snapshot every final country-round of one kind into a new release and write its files.

    The caller commits; if it does not (an error), it should call `discard_release_files`. `progress`
    receives one line per file written ("[3/17] data/scores.csv").
    """
    version = version.strip()
    if not VERSION_PATTERN.match(version):
        raise InvalidInput(f"{version!r} is not a semantic version such as 1.0.0.")
    title, notes = clean_text(title).strip(), clean_text(notes).strip()
    if len(title) > TITLE_MAX:
        raise InvalidInput(f"The release title has {len(title)} characters; at most {TITLE_MAX} fit.", [("title", "too long")])
    scheme = codebook.scheme(scheme_id) if (scheme_id is None or scheme_id in codebook.schemes_by_id) else None
    if scheme is None:
        raise InvalidInput(f"Unknown scoring scheme {scheme_id!r}.")
    aggregation = aggregation or codebook.scoring.default_aggregation
    if aggregation not in scoring.AGGREGATIONS:
        raise InvalidInput(f"Unknown aggregation {aggregation!r}.")
    exists = f"Release {version} already exists; releases are immutable, publish a new version."
    hold_sources(session)
    if session.exec(select(Release.id).where(Release.version == version)).first() is not None:
        raise Conflict(exists)
    rows = collect_final(session=session, codebook=codebook, synthetic=synthetic, scheme_id=scheme.id)
    if not rows:
        kind = "synthetic" if synthetic else "real"
        raise InvalidInput(f"There are no final {kind} country-rounds to release.")
    release = Release(
        version=version,
        title=title or f"Release {version}",
        notes=notes,
        release_date=release_date,
        published_by_id=user_id,
        codebook_version=codebook.version,
        scheme=scheme.id,
        aggregation=aggregation,
        synthetic=synthetic,
    )
    session.add(release)
    try:
        # Two publications of one version: the unique version makes the second wait here, then fail.
        session.flush()
    except sa.exc.IntegrityError:
        raise Conflict(exists) from None
    # Since the previous release of the same kind, from its snapshot: what verify rebuilds (changes.csv, README).
    changes, previous = release_changes(session=session, codebook=codebook, release=release, rows=rows)
    release.changelog = describe_changes(changes, previous_version=previous.version if previous else None)
    folder = Path(exports_dir) / version
    # This transaction now owns the version, so a folder under its name can only be left by a build
    # that was killed before its transaction committed: never published, never served. Remove it so
    # that the same version can be built again, with the temporary folders of every dead build.
    discard_release_files(exports_dir=exports_dir, version=version)
    count = len(rows)
    inputs = snapshot_inputs(
        session=session, release=release, rows=rows, changes=changes, previous_version=previous.version if previous else None
    )
    connection = session.connection()
    # The files are written on a second thread (pyarrow, zlib and file writes release the GIL) while
    # this thread has the database copy the snapshot from the same rows (SQLite's C code and the
    # PostgreSQL server run without the GIL). The request's connection never leaves the request's
    # thread, and neither side touches what the other uses.
    snapshot_error: BaseException | None = None
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="rightsdb-release-files") as pool:
        files = pool.submit(_write_atomically, folder, inputs, codebook, progress)
        try:
            load_snapshot(connection, release_id=release.id, rows=rows, synthetic=synthetic, codebook=codebook)
        except BaseException as exc:  # the files are awaited (leaving this block) before it is raised
            snapshot_error = exc
    failure = snapshot_error or files.exception()
    if failure is not None:
        discard_release_files(exports_dir=exports_dir, version=version)
        raise failure
    del rows
    release.sha256 = hashlib.sha256((folder / "SHA256SUMS").read_bytes()).hexdigest()
    session.add(release)
    record_event(
        session=session,
        user_id=user_id,
        action="release.publish",
        entity="release",
        entity_id=version,
        new={"version": version, "synthetic": synthetic, "rows": count, "scheme": scheme.id, "aggregation": aggregation},
    )
    session.flush()
    return release


def discard_release_files(*, exports_dir: str | Path, version: str) -> None:
    """Remove the folder of a release whose transaction did not commit, and the temporary folders of dead builds.

    Temporary folders go by their build's lock, not by name: `.1.0.0-rc.*` also matches a live build of 1.0.0-rc.1.
    """
    shutil.rmtree(Path(exports_dir) / version, ignore_errors=True)
    remove_stale_builds(exports_dir)


def release_files(*, exports_dir: str | Path, release: Release) -> list[tuple[str, int, str]]:
    """Return (relative path, size, sha256) of every published file of a release, from SHA256SUMS."""
    folder = Path(exports_dir) / release.version
    sums_path = folder / "SHA256SUMS"
    if not sums_path.exists():
        return []
    return [
        (name, (folder / name).stat().st_size if (folder / name).exists() else 0, digest) for name, digest in read_sums(sums_path).items()
    ]
