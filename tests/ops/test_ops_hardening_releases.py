"""Operations (issue 14, item 10) for release folders: published readable by other accounts, and the
temporary folders of killed builds cleaned without ever touching a live build's, of any version.
"""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlmodel import Session

from rightsdb.ops.cli import main
from rightsdb.publishing import staging
from rightsdb.publishing.publish import discard_release_files, publish_release
from rightsdb.publishing.staging import building_folder, remove_stale_builds
from tests.conftest import ROOT, TINY_CODEBOOK, make_app
from tests.factories.countries import make_country
from tests.factories.releases import make_final
from tests.system.test_killed_release_build import PAUSE_LINE, _prepare, _read_lines, _wait_for_pause


def _publish(app, version: str) -> Path:
    codebook = app.extensions["rightsdb.codebook"]
    with Session(app.extensions["rightsdb.engine"], expire_on_commit=False) as session:
        if version == "1.0.0":
            make_final(session, codebook, make_country(session, 0))
        publish_release(
            session=session,
            codebook=codebook,
            exports_dir=app.config["EXPORTS_DIR"],
            version=version,
            release_date=date(2026, 3, 1),
            synthetic=True,
        )
        session.commit()
    return Path(app.config["EXPORTS_DIR"]) / version


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def strict_umask():
    """Build under umask 077, as a cautious service account might: the release must still be readable."""
    previous = os.umask(0o077)
    yield
    os.umask(previous)


def test_a_published_release_is_readable_by_other_accounts(tiny_app, strict_umask):
    folder = _publish(tiny_app, "1.0.0")
    folders = [folder, *(p for p in folder.rglob("*") if p.is_dir())]
    files = [p for p in folder.rglob("*") if p.is_file()]
    assert len(folders) >= 2 and len(files) > 10  # data/ and the files in it
    assert {str(p.relative_to(folder)): _mode(p) for p in folders} == {str(p.relative_to(folder)): 0o755 for p in folders}
    assert {str(p.relative_to(folder)): _mode(p) for p in files} == {str(p.relative_to(folder)): 0o644 for p in files}


def _dead_build(exports: Path, version: str) -> Path:
    """Leave a temporary folder as a killed build of `version` would: files inside, nobody holding it."""
    leftover = exports / f".{version}.deadbeef.partial"
    (leftover / "data").mkdir(parents=True)
    (leftover / "data" / "long.csv").write_text("half,written\n", encoding="utf-8")
    return leftover


def test_a_build_removes_dead_builds_folders_but_never_a_live_builds(tiny_app):
    exports = Path(tiny_app.config["EXPORTS_DIR"])
    _publish(tiny_app, "1.0.0")
    dead = _dead_build(exports, "0.9.0")
    with building_folder(exports / "3.0.0") as live:  # another build, still writing
        (live / "SHA256SUMS").write_text("in progress\n", encoding="utf-8")
        _publish(tiny_app, "2.0.0")
        assert not dead.exists()
        assert (live / "SHA256SUMS").read_text(encoding="utf-8") == "in progress\n"
        assert (exports / "2.0.0" / "SHA256SUMS").is_file() and (exports / "1.0.0" / "SHA256SUMS").is_file()
    # Its build over without renaming it (an error removes it; here the test just stops), it is anybody's to remove.
    assert remove_stale_builds(exports) == [live.name]
    assert sorted(p.name for p in exports.iterdir()) == ["1.0.0", "2.0.0"]


def test_discarding_a_version_spares_a_live_build_of_a_version_it_prefixes(tmp_path):
    exports = tmp_path / "exports"
    with building_folder(exports / "1.0.0-rc.1") as live:
        dead = _dead_build(exports, "1.0.0-rc")
        (exports / "1.0.0-rc").mkdir()
        discard_release_files(exports_dir=exports, version="1.0.0-rc")
        assert live.is_dir() and not dead.exists() and not (exports / "1.0.0-rc").exists()


@pytest.mark.parametrize("window", ["before the open", "between the open and the lock"])
def test_a_folder_removed_by_a_cleaner_before_its_build_locked_it_is_made_again(tmp_path, monkeypatch, window):
    exports = tmp_path / "exports"
    real_mkdtemp, real_open = staging.tempfile.mkdtemp, staging._open_folder
    made, cleaned = [], []

    def cleaner_runs() -> None:
        # Another process's cleaner, before this build holds the lock, takes the new folder for a dead build's.
        if not cleaned:
            cleaned.append(True)
            assert remove_stale_builds(exports) == [Path(made[0]).name]

    def mkdtemp(**kwargs):
        made.append(real_mkdtemp(**kwargs))
        if window == "before the open":
            cleaner_runs()
        return made[-1]

    def open_folder(path):
        handle = real_open(path)
        if window == "between the open and the lock":
            cleaner_runs()
        return handle

    monkeypatch.setattr(staging.tempfile, "mkdtemp", mkdtemp)
    monkeypatch.setattr(staging, "_open_folder", open_folder)
    with building_folder(exports / "1.0.0") as temporary:
        assert len(made) == 2 and temporary == Path(made[1]) and temporary.is_dir()
        assert remove_stale_builds(exports) == []
    assert not Path(made[0]).exists()


def test_a_server_start_removes_dead_builds_folders(db_url, tmp_path):
    exports = tmp_path / "exports"
    dead = _dead_build(exports, "1.0.0")
    app = make_app(db_url, tmp_path, CODEBOOK_PATH=str(TINY_CODEBOOK))
    app.extensions["rightsdb.engine"].dispose()
    assert not dead.exists()


def test_release_list_spares_a_paused_build_and_removes_it_once_killed(tmp_path, monkeypatch):
    url, exports, env = _prepare(tmp_path)
    for name in list(os.environ):
        if name.startswith("RIGHTSDB_"):
            monkeypatch.delenv(name)
    for name, value in env.items():
        if name.startswith("RIGHTSDB_"):
            monkeypatch.setenv(name, value)
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.crash_points", "release", "--", "release", "build", "1.0.0", "--synthetic"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines, reader = _read_lines(process)
    try:
        line = _wait_for_pause(process, lines)
        temporary = Path(line[len(PAUSE_LINE) :].split(" (crash point)")[0])
        assert temporary.is_dir()
        # Alive (paused before its rename): neither `release list` nor a cleaner touches its folder.
        listed = CliRunner().invoke(main, ["release", "list"])
        assert listed.exit_code == 0, listed.output
        assert listed.output == "No release is published yet.\n"
        assert remove_stale_builds(exports) == [] and (temporary / "SHA256SUMS").is_file()
        os.kill(process.pid, signal.SIGKILL)
        assert process.wait(timeout=60) == -signal.SIGKILL
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        reader.join(timeout=30)
        process.stderr.close()
    listed = CliRunner().invoke(main, ["release", "list"])
    assert listed.exit_code == 0, listed.output
    assert listed.output == f"Removed {temporary.name}, left by a release build that did not finish.\nNo release is published yet.\n"
    assert not temporary.exists() and list(exports.iterdir()) == []
