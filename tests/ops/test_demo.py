"""The demonstration data: every workflow state present, all synthetic, idempotent."""

from __future__ import annotations

from pathlib import Path

from sqlmodel import func, select

from rightsdb.models import Answer, AuditEvent, Country, Decision, Release, ReleaseAnswer, SQLModel
from rightsdb.ops.countries import is_user_assigned
from rightsdb.ops.demo import DEMO_RELEASE_VERSION, load_demo
from rightsdb.review.progress import progress_board


def _counts(session):
    return {t.name: session.exec(select(func.count()).select_from(t)).one() for t in SQLModel.metadata.sorted_tables}


def test_demo_loads_every_state_and_a_synthetic_release(app, session, codebook):
    report = load_demo(session=session, codebook=codebook, app_config=app.config)
    session.commit()
    assert report.created and "release" in report.summary()

    states = {(r.round.name, c.iso3): c.status for r in progress_board(session=session, codebook=codebook) for c in r.countries}
    assert set(states.values()) == {"not_started", "coding", "one_submitted", "reconciliation", "final"}
    assert states[("2026", "XAA")] == "not_started" and states[("2025", "XAA")] == "final"

    # Only fictional jurisdictions carry data, all with user-assigned codes.
    coded = session.exec(select(Country).join(ReleaseAnswer, ReleaseAnswer.country_iso3 == Country.iso3).distinct()).all()
    assert coded and all(c.synthetic and is_user_assigned(c.iso2, c.iso3) for c in coded)

    release = session.exec(select(Release).where(Release.version == DEMO_RELEASE_VERSION)).one()
    assert release.synthetic is True
    folder = Path(app.config["EXPORTS_DIR"]) / DEMO_RELEASE_VERSION
    assert "synthetic demonstration data" in (folder / "README.md").read_text(encoding="utf-8").lower()
    assert "synthetic demonstration data" in (folder / "datapackage.json").read_text(encoding="utf-8").lower()
    assert session.exec(select(func.count()).select_from(Decision).where(Decision.outcome == "reconciled")).one() > 0


def test_demo_is_idempotent(app, session, codebook):
    load_demo(session=session, codebook=codebook, app_config=app.config)
    session.commit()
    before = _counts(session)
    report = load_demo(session=session, codebook=codebook, app_config=app.config)
    session.commit()
    assert report.created == []
    assert "already loaded" in report.summary()
    assert _counts(session) == before


def test_demo_coders_disagree_on_some_indicators(app, session, codebook):
    load_demo(session=session, codebook=codebook, app_config=app.config)
    session.commit()
    assert session.exec(select(func.count()).select_from(Answer)).one() > 0
    queue_events = session.exec(select(AuditEvent).where(AuditEvent.action == "decision.reconcile")).all()
    assert len(queue_events) > 0
