"""Publication keeps the request's database connection on the request's thread.

The files are written on a second thread while the database copies the snapshot; every statement of
the publication must still run on the thread that owns the session (SQLAlchemy connections are not
shared between threads).
"""

from __future__ import annotations

import threading
from datetime import date

import sqlalchemy as sa

from rightsdb.publishing.publish import publish_release
from tests.factories.countries import make_country
from tests.factories.releases import make_final


def test_every_statement_of_a_publication_runs_on_the_callers_thread(tiny_session, book, exports_dir):
    for index in range(2):
        make_final(tiny_session, book, make_country(tiny_session, index))
    tiny_session.commit()
    threads: list[str] = []
    engine = tiny_session.get_bind()

    def record(*_args) -> None:
        threads.append(threading.current_thread().name)

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        release = publish_release(
            session=tiny_session, codebook=book, exports_dir=exports_dir, version="1.0.0", release_date=date(2026, 3, 1), synthetic=True
        )
        tiny_session.commit()
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
    assert release.sha256 and (exports_dir / "1.0.0" / "SHA256SUMS").is_file()
    assert threads and set(threads) == {threading.current_thread().name}
