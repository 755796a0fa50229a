"""The audit trail is readable in any script wherever it leaves the database: no \\u escapes of readable characters.

Checked where the old and new values are stored (the raw column text on both engines), where they are
shown (the supervisor's audit page) and where they are copied (backup files).
"""

from __future__ import annotations

import re
import sqlite3
import subprocess

import pytest
from alembic import command
from sqlmodel import Session

from rightsdb.accounts.audit import record_event
from rightsdb.ops.backup import backup_database
from rightsdb.ops.migrate import alembic_config
from tests.conftest import login
from tests.factories.people import make_user
from tests.factories.rounds import make_pair

RUSSIAN = "Закон об иностранцах"
ARABIC = "لكل مهاجر الحق في الحياة"
EMOJI = "⚖️👩🏽‍⚖️"
HOSTILE = "<script>alert(\"x\")</script> & 'quoted'"
#: A \u escape of any character (the JSON encoder's ensure_ascii form, or an HTML-safe one such as \u003c).
ESCAPE = re.compile(r"\\u[0-9a-fA-F]{4}")


def _event(session: Session, *, country_round_id: int | None = None) -> None:
    """Record one audit event whose old and new values hold Cyrillic, Arabic, an emoji and hostile HTML."""
    supervisor = make_user(session, "supervisor", name="Мария Иванова")
    record_event(
        session=session,
        user_id=supervisor.id,
        action="decision.correct",
        entity="decision",
        entity_id=1,
        old={"value": "provided", "reason": RUSSIAN, "groups": ["permanent_residents"]},
        new={"value": "not_provided", "reason": f"{ARABIC} {EMOJI}", "note": HOSTILE},
        country_round_id=country_round_id,
    )
    session.commit()


def _raw_columns(session: Session) -> tuple[str, str]:
    """Return the stored text of the one event's old and new columns, as the database itself gives it."""
    connection = session.connection()
    cast = "::text" if connection.dialect.name == "postgresql" else ""
    old, new = connection.exec_driver_sql(f"SELECT old{cast}, new{cast} FROM audit_events").one()
    return old, new


def test_the_stored_json_is_utf8_text_not_escapes(session):
    _event(session)
    old, new = _raw_columns(session)
    assert isinstance(old, str) and isinstance(new, str)  # the column text itself, not a value parsed by the driver
    assert RUSSIAN in old
    assert ARABIC in new and EMOJI in new and HOSTILE.replace('"', '\\"') in new
    assert not ESCAPE.search(old) and not ESCAPE.search(new), (old, new)


def test_the_audit_page_shows_every_script_as_written(app, session, codebook):
    _coder_a, _coder_b, country_round, _a, _b = make_pair(session, codebook)
    _event(session, country_round_id=country_round.id)
    supervisor = make_user(session, "supervisor")
    session.commit()
    page = login(app.test_client(), supervisor).get(f"/supervisor/country-rounds/{country_round.id}/audit")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert RUSSIAN in html and ARABIC in html and EMOJI in html
    assert not ESCAPE.search(html), ESCAPE.findall(html)[:5]
    # The hostile note is text: escaped once for HTML, never live markup, and readable as typed.
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &#39;quoted&#39;" in html.replace("\\&#34;", "&#34;")


@pytest.fixture
def stamped(app):
    """Stamp the create_all database with the Alembic head, as `init-db` would (a backup needs it); unstamp after."""
    url = app.config["DATABASE_URL"]
    command.stamp(alembic_config(url), "head")
    yield url
    with app.extensions["rightsdb.engine"].begin() as connection:
        connection.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")


def test_a_backup_keeps_the_text_as_written(app, session, stamped, tmp_path):
    _event(session)
    path = tmp_path / "rightsdb.backup"
    backup_database(url=stamped, path=path)
    if stamped.startswith("sqlite"):
        with sqlite3.connect(path) as backup:
            old, new = backup.execute("SELECT old, new FROM audit_events").fetchone()
        text = old + new
    else:
        # The archive's data as pg_restore writes it out (COPY lines): what a restore puts back.
        text = subprocess.run(
            ["pg_restore", "--data-only", "--table=audit_events", "-f", "-", str(path)], check=True, capture_output=True
        ).stdout
        text = text.decode("utf-8")
    assert RUSSIAN in text and ARABIC in text and EMOJI in text
    assert not ESCAPE.search(text.replace("\\\\", "\\"))
