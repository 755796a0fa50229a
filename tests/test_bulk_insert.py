"""The release snapshot's bulk load (COPY on PostgreSQL, a driver executemany on SQLite) keeps every value."""

from __future__ import annotations

import json
from datetime import date

import sqlalchemy as sa

from rightsdb.db import bulk_insert, json_text
from rightsdb.models import Release, ReleaseAnswer
from rightsdb.releases import SNAPSHOT_COLUMNS

AWKWARD = ['tab\there', "new\nline", "back\\slash \\N", 'quote " and \'', "Право на суд", "حق اللجوء", "", "end\r"]


def _release(session) -> Release:
    release = Release(version="0.0.1", title="t", release_date=date(2026, 1, 1), codebook_version="1", scheme="binary",
                      aggregation="category_mean", synthetic=True)
    session.add(release)
    session.flush()
    return release


def _rows(release_id: int) -> list[tuple]:
    rows = []
    for n, text in enumerate(AWKWARD):
        citations = [{"title": text, "excerpt": f"{text} {n}", "url": None, "pinpoint": "Art. 1"}] * (n % 3)
        rows.append((release_id, f"XA{chr(65 + n)}", f"round {text}", date(2025, 1, 1 + n), f"IND-{n:02d}", "CAT", "provided",
                     json_text(["group a", text] if n % 2 else []), None if n == 3 else n % 2, None if n == 3 else n / 3,
                     None if n == 5 else "provided", "not_provided", "reconciled", text, json_text(citations)))
    return rows


def test_bulk_insert_stores_awkward_text_json_dates_and_missing_values_exactly(session):
    release = _release(session)
    columns = ["release_id", *SNAPSHOT_COLUMNS]
    rows = _rows(release.id)
    count = bulk_insert(session.connection(), ReleaseAnswer.__table__, columns, iter(rows))
    assert count == len(rows)
    stored = session.execute(sa.select(*(getattr(ReleaseAnswer, c) for c in columns)).where(ReleaseAnswer.release_id == release.id)
                             .order_by(ReleaseAnswer.id)).all()
    assert len(stored) == len(rows)
    for got, sent in zip(stored, rows):
        expected = list(sent)
        expected[columns.index("groups")] = json.loads(sent[columns.index("groups")])
        expected[columns.index("citations")] = json.loads(sent[columns.index("citations")])
        assert list(got) == expected


def test_bulk_insert_joins_the_callers_transaction(session):
    release = _release(session)
    bulk_insert(session.connection(), ReleaseAnswer.__table__, ["release_id", *SNAPSHOT_COLUMNS], iter(_rows(release.id)))
    session.rollback()
    assert session.execute(sa.select(sa.func.count()).select_from(ReleaseAnswer.__table__)).scalar() == 0
    assert session.execute(sa.select(sa.func.count()).select_from(Release.__table__)).scalar() == 0


def test_bulk_insert_of_nothing_writes_nothing(session):
    release = _release(session)
    assert bulk_insert(session.connection(), ReleaseAnswer.__table__, ["release_id", *SNAPSHOT_COLUMNS], iter([])) == 0
    assert session.execute(sa.select(sa.func.count()).select_from(ReleaseAnswer.__table__)).scalar() == 0


def test_release_build_pauses_the_cyclic_collector_and_restores_it():
    import gc

    from rightsdb import releases

    seen = []

    @releases._collector_paused
    def build():
        seen.append(gc.isenabled())
        raise RuntimeError("failed build")

    assert gc.isenabled()
    try:
        build()
    except RuntimeError:
        pass
    assert seen == [False] and gc.isenabled()
    gc.disable()
    try:
        releases._collector_paused(lambda: None)()
        assert not gc.isenabled()  # a caller that had it off keeps it off
    finally:
        gc.enable()
