"""Releases: snapshot, immutability, changelog, no mixing, crash safety, rebuild and verify."""

from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlmodel import Session, select

import rightsdb.publishing.files as exports_files
import rightsdb.publishing.publish as publication
from rightsdb.errors import Conflict, InvalidInput
from rightsdb.models import AuditEvent, Decision, Release, ReleaseAnswer
from rightsdb.ops.cli import main
from rightsdb.publishing.publish import get_release, list_releases, publish_release
from rightsdb.publishing.snapshot import release_inputs
from rightsdb.publishing.verify import verify_release
from tests.conftest import TINY_CODEBOOK, make_app
from tests.factories.countries import make_country, make_real_country
from tests.factories.people import make_user
from tests.factories.releases import make_final, make_golden_data

DAY = date(2026, 3, 1)


def publish(session, book, exports_dir, version="1.0.0", **kwargs):
    release = publish_release(session=session, codebook=book, exports_dir=exports_dir, version=version, release_date=DAY, **kwargs)
    session.commit()
    return release


def test_publish_snapshots_final_country_rounds_and_writes_files(tiny_session, book, exports_dir):
    make_golden_data(tiny_session, book)
    make_final(tiny_session, book, make_country(tiny_session, 2), finalized=False)  # in progress: never released
    tiny_session.commit()
    release = publish(tiny_session, book, exports_dir, synthetic=True, title="Demo")
    rows = tiny_session.exec(select(ReleaseAnswer).where(ReleaseAnswer.release_id == release.id)).all()
    assert {r.country_iso3 for r in rows} == {"XAA", "XBB"}
    assert len(rows) == 2 * len(book.indicators)
    assert release.changelog == "First release."
    assert (release.scheme, release.aggregation, release.codebook_version) == ("binary", "category_mean", book.version)
    folder = exports_dir / "1.0.0"
    for name in (
        "data/long.csv",
        "data/matrix.csv",
        "data/scores.csv",
        "data/codebook.csv",
        "data/countries.csv",
        "data/reliability.csv",
        "data/citations.csv",
        "data/release.xlsx",
        "data/long.dta",
        "data/long.parquet",
        "datapackage.json",
        "CITATION.cff",
        "README.md",
        "SHA256SUMS",
    ):
        assert (folder / name).is_file(), name
    assert [p.name for p in exports_dir.iterdir()] == ["1.0.0"]  # no temporary folder left behind
    assert "synthetic demonstration data" in (folder / "README.md").read_text(encoding="utf-8")
    assert "synthetic demonstration data" in (folder / "CITATION.cff").read_text(encoding="utf-8")
    assert tiny_session.exec(select(AuditEvent).where(AuditEvent.action == "release.publish")).first().entity_id == "1.0.0"


def test_real_and_synthetic_data_are_never_mixed(tiny_session, book, exports_dir):
    make_golden_data(tiny_session, book)  # synthetic countries
    make_final(tiny_session, book, make_real_country(tiny_session, "DEU", "DE", "Germany", "Europe"))
    tiny_session.commit()
    real = publish(tiny_session, book, exports_dir, "1.0.0")
    demo = publish(tiny_session, book, exports_dir, "0.1.0-demo", synthetic=True)
    real_isos = {r.country_iso3 for r in tiny_session.exec(select(ReleaseAnswer).where(ReleaseAnswer.release_id == real.id))}
    demo_isos = {r.country_iso3 for r in tiny_session.exec(select(ReleaseAnswer).where(ReleaseAnswer.release_id == demo.id))}
    assert (real_isos, demo_isos) == ({"DEU"}, {"XAA", "XBB"})
    assert not real.synthetic and demo.synthetic
    assert "synthetic" not in (exports_dir / "1.0.0" / "README.md").read_text(encoding="utf-8").lower()
    countries = (exports_dir / "0.1.0-demo" / "data" / "countries.csv").read_text(encoding="utf-8").splitlines()
    assert countries[0].endswith(",synthetic") and all(line.endswith(",True") for line in countries[1:])


def test_nothing_of_that_kind_to_release_is_refused(tiny_session, book, exports_dir):
    make_golden_data(tiny_session, book)
    tiny_session.commit()
    with pytest.raises(InvalidInput, match="no final real"):
        publish_release(session=tiny_session, codebook=book, exports_dir=exports_dir, version="1.0.0", release_date=DAY)


def test_versions_are_semantic_and_unique(tiny_session, book, exports_dir):
    make_golden_data(tiny_session, book)
    tiny_session.commit()
    with pytest.raises(InvalidInput, match="semantic version"):
        publish_release(session=tiny_session, codebook=book, exports_dir=exports_dir, version="v1", release_date=DAY, synthetic=True)
    publish(tiny_session, book, exports_dir, synthetic=True)
    with pytest.raises(Conflict, match="already exists"):
        publish_release(session=tiny_session, codebook=book, exports_dir=exports_dir, version="1.0.0", release_date=DAY, synthetic=True)


def test_release_is_immutable_and_later_corrections_go_to_the_changelog(tiny_session, book, exports_dir):
    make_golden_data(tiny_session, book)
    tiny_session.commit()
    first = publish(tiny_session, book, exports_dir, synthetic=True)
    long_before = (exports_dir / "1.0.0" / "data" / "long.csv").read_bytes()
    decision = tiny_session.exec(select(Decision).where(Decision.indicator_id == "AAA-01", Decision.value == "not_provided")).one()
    decision.value, decision.corrected = "provided", True
    tiny_session.add(decision)
    make_final(tiny_session, book, make_country(tiny_session, 2))
    tiny_session.commit()
    second = publish(tiny_session, book, exports_dir, "1.1.0", synthetic=True)
    old_rows = {
        (r.country_iso3, r.indicator_id): r.answer
        for r in tiny_session.exec(select(ReleaseAnswer).where(ReleaseAnswer.release_id == first.id))
    }
    assert old_rows[("XBB", "AAA-01")] == "not_provided"  # the published release did not change
    assert (exports_dir / "1.0.0" / "data" / "long.csv").read_bytes() == long_before
    assert second.changelog.splitlines() == [
        "Changes since 1.0.0:",
        "- Country-rounds added: XCC 2026",
        "- Country-rounds removed: none",
        "- Values changed: 1",
        "  - XBB 2026 AAA-01: not_provided -> provided",
    ]
    assert "XBB 2026 AAA-01: not_provided -> provided" in (exports_dir / "1.1.0" / "README.md").read_text(encoding="utf-8")
    assert [r.version for r in list_releases(session=tiny_session)] == ["1.1.0", "1.0.0"]


def test_a_build_that_fails_midway_leaves_no_folder_and_no_row(tiny_session, book, exports_dir, monkeypatch):
    make_golden_data(tiny_session, book)
    tiny_session.commit()
    original = exports_files.write_release_files

    def crash(folder, **kwargs):
        original(folder, **kwargs)
        raise RuntimeError("disk full")

    monkeypatch.setattr(publication, "write_release_files", crash)
    with pytest.raises(RuntimeError):
        publish_release(session=tiny_session, codebook=book, exports_dir=exports_dir, version="1.0.0", release_date=DAY, synthetic=True)
    tiny_session.rollback()
    assert list(exports_dir.iterdir()) == []
    assert tiny_session.exec(select(Release)).all() == []
    assert tiny_session.exec(select(ReleaseAnswer)).all() == []


def test_files_left_by_a_build_killed_before_commit_are_replaced(tiny_session, book, exports_dir):
    """A folder renamed into place by a process killed before its commit has no release row: rebuild it."""
    make_golden_data(tiny_session, book)
    tiny_session.commit()
    orphan = exports_dir / "1.0.0"
    (orphan / "data").mkdir(parents=True)
    (orphan / "data" / "long.csv").write_text("half-written", encoding="utf-8")
    partial = exports_dir / ".1.0.0.abc123.partial"
    partial.mkdir()
    release = publish(tiny_session, book, exports_dir, synthetic=True)
    assert (orphan / "data" / "long.csv").read_text(encoding="utf-8") != "half-written"
    assert not partial.exists()
    assert verify_release(session=tiny_session, codebook=book, exports_dir=exports_dir, release=release) == []
    with pytest.raises(Conflict):
        publish(tiny_session, book, exports_dir, synthetic=True)  # a published version is never rebuilt


def test_rebuild_gives_identical_files_and_verify_finds_tampering(tiny_session, book, exports_dir, tmp_path):
    make_golden_data(tiny_session, book)
    tiny_session.commit()
    release = publish(tiny_session, book, exports_dir, synthetic=True)
    rebuilt = tmp_path / "rebuilt"
    exports_files.write_release_files(rebuilt, inputs=release_inputs(session=tiny_session, release=release), codebook=book)
    stored = exports_files.read_sums(exports_dir / "1.0.0" / "SHA256SUMS")
    again = exports_files.read_sums(rebuilt / "SHA256SUMS")
    for name in stored:  # every file, the workbook included
        assert (rebuilt / name).read_bytes() == (exports_dir / "1.0.0" / name).read_bytes(), name
        assert again[name] == stored[name]
    assert verify_release(session=tiny_session, codebook=book, exports_dir=exports_dir, release=release) == []
    scores = exports_dir / "1.0.0" / "data" / "scores.csv"
    scores.write_bytes(scores.read_bytes().replace(b"0.75", b"0.95"))
    assert verify_release(session=tiny_session, codebook=book, exports_dir=exports_dir, release=release) == ["data/scores.csv"]


def test_cli_build_list_and_verify(tmp_path, monkeypatch):
    """The command-line test uses its own SQLite app: the CLI builds its app from the environment."""
    url = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    app = make_app(url, tmp_path, CODEBOOK_PATH=str(TINY_CODEBOOK))
    book = app.extensions["rightsdb.codebook"]
    exports_dir = Path(app.config["EXPORTS_DIR"])
    with Session(app.extensions["rightsdb.engine"]) as session:
        make_golden_data(session, book)
        session.commit()
    app.extensions["rightsdb.engine"].dispose()
    monkeypatch.setenv("RIGHTSDB_DATABASE_URL", url)
    monkeypatch.setenv("RIGHTSDB_EXPORTS_DIR", str(exports_dir))
    monkeypatch.setenv("RIGHTSDB_CODEBOOK_PATH", str(TINY_CODEBOOK))
    runner = CliRunner()
    result = runner.invoke(main, ["release", "build", "1.0.0", "--synthetic", "--title", "Demo", "--date", "2026-03-01"])
    assert result.exit_code == 0, result.output
    assert "synthetic demonstration data" in result.output
    assert "1.0.0" in runner.invoke(main, ["release", "list"]).output
    verified = runner.invoke(main, ["release", "verify", "1.0.0"])
    assert verified.exit_code == 0 and "verified" in verified.output
    (exports_dir / "1.0.0" / "data" / "long.csv").write_text("tampered\n", encoding="utf-8")
    failed = runner.invoke(main, ["release", "verify", "1.0.0"])
    assert failed.exit_code == 1 and "data/long.csv" in failed.output
    again = runner.invoke(main, ["release", "build", "1.0.0", "--synthetic"])
    assert again.exit_code == 1 and "already exists" in again.output


def test_publish_page_for_supervisors_only(tiny_app, tiny_session, book, exports_dir):
    make_golden_data(tiny_session, book)
    supervisor = make_user(tiny_session, "supervisor")
    coder = make_user(tiny_session, "coder", email="other-coder@example.org")
    tiny_session.commit()
    from tests.conftest import login

    assert login(tiny_app.test_client(), coder).get("/releases-admin/").status_code == 403
    assert tiny_app.test_client().get("/releases-admin/").status_code == 302
    client = login(tiny_app.test_client(), supervisor)
    page = client.get("/releases-admin/")
    assert page.status_code == 200 and b"Publish a release" in page.data
    refused = client.post("/releases-admin/publish", data={"version": "1.0.0", "release_date": "2026-03-01"})
    assert refused.status_code == 400 and b"no final real" in refused.data
    response = client.post(
        "/releases-admin/publish", data={"version": "1.0.0", "title": "Demo", "release_date": "2026-03-01", "synthetic": "y"}
    )
    assert response.status_code == 302
    with Session(tiny_app.extensions["rightsdb.engine"]) as fresh:
        release = get_release(session=fresh, version="1.0.0")
        assert release.synthetic and release.published_by_id == supervisor.id
    assert (exports_dir / "1.0.0" / "SHA256SUMS").is_file()
