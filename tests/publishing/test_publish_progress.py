"""A release build reports its progress: one numbered line per file on the command line, and to a callback."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

from click.testing import CliRunner
from sqlmodel import Session

from rightsdb.ops.cli import main
from rightsdb.publishing.publish import publish_release
from tests.conftest import TINY_CODEBOOK, make_app
from tests.factories.releases import make_golden_data

PROGRESS_LINE = re.compile(r"^\[(\d+)/(\d+)\] (\S+)$")


def test_release_build_prints_one_progress_line_per_file(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    app = make_app(url, tmp_path, CODEBOOK_PATH=str(TINY_CODEBOOK))
    exports_dir = Path(app.config["EXPORTS_DIR"])
    with Session(app.extensions["rightsdb.engine"]) as session:
        make_golden_data(session, app.extensions["rightsdb.codebook"])
        session.commit()
    app.extensions["rightsdb.engine"].dispose()
    monkeypatch.setenv("RIGHTSDB_DATABASE_URL", url)
    monkeypatch.setenv("RIGHTSDB_EXPORTS_DIR", str(exports_dir))
    monkeypatch.setenv("RIGHTSDB_CODEBOOK_PATH", str(TINY_CODEBOOK))
    result = CliRunner().invoke(main, ["release", "build", "1.0.0", "--synthetic", "--date", "2026-03-01"])
    assert result.exit_code == 0, result.output
    steps = [PROGRESS_LINE.match(line) for line in result.output.splitlines()]
    steps = [(int(m[1]), int(m[2]), m[3]) for m in steps if m]
    total = steps[0][1]
    assert [n for n, _t, _name in steps] == list(range(1, total + 1))  # numbered 1..total, none skipped
    assert {t for _n, t, _name in steps} == {total}
    names = [name for _n, _t, name in steps]
    assert "data/scores.csv" in names and "data/release.xlsx" in names and names[-1] == "SHA256SUMS"
    assert len(set(names)) == total
    folder = exports_dir / "1.0.0"
    assert all((folder / name).is_file() for name in names)
    # Every file listed in SHA256SUMS was reported.
    summed = {line.split("  ", 1)[1] for line in (folder / "SHA256SUMS").read_text().splitlines()}
    assert summed | {"SHA256SUMS"} == set(names)


def test_publish_release_reports_progress_to_a_callback(tiny_app, tiny_session, book):
    make_golden_data(tiny_session, book)
    lines: list[str] = []
    publish_release(
        session=tiny_session,
        codebook=book,
        exports_dir=tiny_app.config["EXPORTS_DIR"],
        version="1.0.0",
        release_date=date(2026, 3, 1),
        synthetic=True,
        progress=lines.append,
    )
    tiny_session.commit()
    assert lines and all(PROGRESS_LINE.match(line) for line in lines)
    assert lines[-1].endswith("SHA256SUMS") and lines[-1].startswith(f"[{len(lines)}/{len(lines)}]")
