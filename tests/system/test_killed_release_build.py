"""A release build killed with SIGKILL half-way leaves no partial release, and the same version builds afterwards."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
from pathlib import Path

import sqlalchemy as sa
from sqlmodel import Session, select

from rightsdb.models import AuditEvent, Release, ReleaseAnswer
from tests.conftest import ROOT, TINY_CODEBOOK, make_app
from tests.factories.countries import make_country
from tests.factories.releases import make_final

VERSION = "1.0.0"
PAUSE_LINE = "paused with the files in "


def _prepare(tmp_path: Path) -> tuple[str, Path, dict[str, str]]:
    """Make a SQLite database holding two final synthetic country-rounds; return its URL, exports dir and CLI env."""
    url = f"sqlite:///{tmp_path / 'crash.sqlite'}"
    exports = tmp_path / "exports"
    app = make_app(url, tmp_path, CODEBOOK_PATH=str(TINY_CODEBOOK), EXPORTS_DIR=str(exports))
    codebook = app.extensions["rightsdb.codebook"]
    engine = app.extensions["rightsdb.engine"]
    with Session(engine, expire_on_commit=False) as session:
        make_final(session, codebook, make_country(session, 0), coder_b={codebook.indicator_ids[0]: "not_provided"})
        make_final(session, codebook, make_country(session, 1))
        session.commit()
    engine.dispose()
    env = {key: value for key, value in os.environ.items() if not key.startswith("RIGHTSDB_")}
    env.update(
        RIGHTSDB_ENV="testing",
        RIGHTSDB_SECRET_KEY="test-secret-key-that-is-long-enough-0123456789",
        RIGHTSDB_DATABASE_URL=url,
        RIGHTSDB_EXPORTS_DIR=str(exports),
        RIGHTSDB_CODEBOOK_PATH=str(TINY_CODEBOOK),
    )
    return url, exports, env


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rightsdb.ops.cli", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def _read_lines(process: subprocess.Popen) -> tuple[queue.Queue, threading.Thread]:
    """Start a thread copying the process's stderr lines into a queue (None at the end)."""
    lines: queue.Queue = queue.Queue()

    def read() -> None:
        for line in process.stderr:
            lines.put(line)
        lines.put(None)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    return lines, reader


def _wait_for_pause(process: subprocess.Popen, lines: queue.Queue, seconds: float = 180) -> str:
    """Read the build's stderr until it says it paused; return that line (fail if it ends or stalls)."""
    seen = []
    while True:
        try:
            line = lines.get(timeout=seconds)
        except queue.Empty:
            raise AssertionError(f"the build never paused; stderr so far: {''.join(seen)}") from None
        if line is None:
            raise AssertionError(f"the build ended (status {process.wait()}) without pausing: {''.join(seen)}")
        seen.append(line)
        if line.startswith(PAUSE_LINE):
            return line


def _state(url: str) -> tuple[int, int, int]:
    """Return the numbers of Release rows, ReleaseAnswer rows and release.publish audit events."""
    engine = sa.create_engine(url)
    try:
        with Session(engine) as session:
            releases = len(session.exec(select(Release.id)).all())
            answers = len(session.exec(select(ReleaseAnswer.id)).all())
            events = len(session.exec(select(AuditEvent.id).where(AuditEvent.action == "release.publish")).all())
    finally:
        engine.dispose()
    return releases, answers, events


def test_release_build_killed_mid_build_leaves_nothing_and_can_be_rebuilt(tmp_path):
    url, exports, env = _prepare(tmp_path)
    with open(tmp_path / "build.out", "w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.crash_points", "release", "--", "release", "build", VERSION, "--synthetic"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.PIPE,
            text=True,
        )
        lines, reader = _read_lines(process)
        try:
            line = _wait_for_pause(process, lines)
            temporary = Path(line[len(PAUSE_LINE) :].split(" (crash point)")[0])
            # The build really is mid-way: every file is written, in a hidden temporary folder, not yet renamed.
            assert temporary.parent == exports and temporary.name.startswith(f".{VERSION}.")
            assert (temporary / "SHA256SUMS").is_file() and (temporary / "data" / "long.csv").is_file()
            os.kill(process.pid, signal.SIGKILL)
            assert process.wait(timeout=60) == -signal.SIGKILL
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
            reader.join(timeout=30)  # the pipe is at its end once the process is gone
            process.stderr.close()

    # Nothing of the release survives in the database or under its name on disk.
    assert _state(url) == (0, 0, 0)
    assert not (exports / VERSION).exists()
    leftovers = [p.name for p in exports.iterdir()]
    assert all(name.startswith(f".{VERSION}.") and name.endswith(".partial") for name in leftovers), leftovers

    # The leftover temporary folder is not served, and neither is the version.
    app = make_app(url, tmp_path, CODEBOOK_PATH=str(TINY_CODEBOOK), EXPORTS_DIR=str(exports))
    try:
        client = app.test_client()
        for name in leftovers + [VERSION]:
            assert client.get(f"/downloads/{name}/SHA256SUMS").status_code == 404
            assert client.get(f"/downloads/{name}/data/long.csv").status_code == 404
        page = client.get("/downloads")
        assert page.status_code == 200
        assert all(name not in page.get_data(as_text=True) for name in leftovers)
    finally:
        app.extensions["rightsdb.engine"].dispose()

    # The same version then builds and verifies.
    built = _cli(env, "release", "build", VERSION, "--synthetic")
    assert built.returncode == 0, built.stderr
    assert (exports / VERSION / "SHA256SUMS").is_file()
    releases, answers, events = _state(url)
    assert (releases, events) == (1, 1) and answers > 0
    verified = _cli(env, "release", "verify", VERSION)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert f"Release {VERSION} verified." in verified.stdout
