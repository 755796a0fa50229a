"""A small complete world for access and fuzz tests: every role, two coded countries, a release, hostile text.

Everything a URL parameter can point at exists (an assignment, a legal source, a round, a country-round,
a flag, a user to administer, a released country and file), and the free text a user can type is the
hostile markup of HOSTILE, so every page that shows it proves it escapes it.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import Session, SQLModel, select

from rightsdb.codebook import Codebook
from rightsdb.models import Answer, Citation, CodebookFlag, User
from rightsdb.publishing.publish import publish_release, release_files
from tests.conftest import TINY_CODEBOOK, login, make_app
from tests.factories.coding import make_source
from tests.factories.countries import make_country
from tests.factories.people import make_user
from tests.factories.releases import make_final
from tests.factories.rounds import make_assignments, make_round

SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'
HOSTILE = f"{SCRIPT} {IMG}"
#: how Jinja's autoescape writes HOSTILE's two payloads
SCRIPT_ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
IMG_ESCAPED = "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;"

PERSONAS = ("anonymous", "coder", "other_coder", "foreign_coder", "supervisor", "admin")
#: Each coder's own legal source, private to their assignment until both submit (blind coding): the
#: strings of one must never reach the other coder. Coder X ("coder") holds assignment A, "other_coder" B.
PRIVATE_SOURCE_A = {"title": "Decree ALPHA-7f3c on residence", "url": "https://example.org/alpha-7f3c/art-12"}
PRIVATE_SOURCE_B = {"title": "Order BRAVO-19d2 on labour", "url": "https://example.org/bravo-19d2/s-4"}
RELEASE_VERSION = "1.0.0"
RELEASED_ISO3 = "XCC"


class World:
    """The rows tests point at: `users` (persona -> user), `target` (a user the admin pages act on), `round_`,
    `country_round_x`, `assignment_a` (coder X's own), `assignment_b` (the other coder's, same country-round),
    `assignment_y` (the foreign coder's), `source_x` (in the register), `source_a` and `source_b` (private to A and B), `citation_x` (coder X's, first indicator), `flag` and `release_file`."""

    def __init__(self, **rows):
        self.__dict__.update(rows)

    def __repr__(self) -> str:
        return "World()"  # keeps failure reports short

    def url_values(self, codebook: Codebook) -> dict[str, object]:
        """Return a value for every URL argument name the application uses."""
        return {
            "assignment_id": self.assignment_a.id,
            "source_id": self.source_x.id,
            "citation_id": self.citation_x.id,
            "round_id": self.round_.id,
            "country_round_id": self.country_round_x.id,
            "indicator_id": codebook.indicator_ids[0],
            "flag_id": self.flag.id,
            "user_id": self.target.id,
            "iso3": RELEASED_ISO3,
            "version": RELEASE_VERSION,
            "filename": self.release_file,
            "_anything": "no-such-endpoint",
        }


def _answer(session: Session, codebook: Codebook, assignment, indicator_id: str, source, *, value: str = "provided") -> Answer:
    """Add an answer with hostile notes and one citation with a hostile excerpt."""
    answer = Answer(
        assignment_id=assignment.id,
        indicator_id=indicator_id,
        value=value,
        groups=[],
        notes=f"Note {HOSTILE}",
        codebook_version=codebook.version,
        updated_by_id=assignment.coder_id,
    )
    session.add(answer)
    session.flush()
    session.add(
        Citation(
            answer_id=answer.id,
            source_id=source.id,
            pinpoint=f"Art. 1 {HOSTILE}",
            excerpt=f"Excerpt {HOSTILE}",
            translation=f"Translation {HOSTILE}",
        )
    )
    session.flush()
    return answer


def build_world(session: Session, codebook: Codebook, exports_dir: str | Path) -> World:
    """Add the world and commit it (a release is published, so it must be committed)."""
    users = {
        "coder": make_user(session, "coder", name=f"Coder X {HOSTILE}"),
        "other_coder": make_user(session, "coder", name="Coder X second"),
        "foreign_coder": make_user(session, "coder", name="Coder Y"),
        "supervisor": make_user(session, "supervisor"),
        "admin": make_user(session, "admin"),
    }
    target = make_user(session, "coder", name=f"Target {HOSTILE}")
    # The released country, in an earlier round (make_final gives it to the first two coders).
    make_final(session, codebook, make_country(session, 2), round_name="2025", excerpt=f"Excerpt {HOSTILE}", source_title=f"Act {HOSTILE}")
    round_ = make_round(session, codebook, name="2026")
    country_round_x, a, b = make_assignments(session, round_, make_country(session, 0), users["coder"], users["other_coder"])
    third = make_user(session, "coder")
    _country_round_y, y, _y2 = make_assignments(session, round_, make_country(session, 1), users["foreign_coder"], third)
    source_x = make_source(session, make_country(session, 0), title=f"Aliens Act {HOSTILE}")
    # Every indicator but the last answered, so submitting is refused with a message.
    answers_a = [_answer(session, codebook, a, indicator_id, source_x) for indicator_id in codebook.indicator_ids[:-1]]
    citation_x = session.exec(select(Citation).where(Citation.answer_id == answers_a[0].id)).one()  # coder X's, first indicator
    for indicator_id in codebook.indicator_ids:
        _answer(session, codebook, b, indicator_id, source_x, value="not_provided")
    private = {}
    for slot, assignment, fields, answer_id in (
        ("a", a, PRIVATE_SOURCE_A, answers_a[1].id),
        ("b", b, PRIVATE_SOURCE_B, session.exec(select(Answer.id).where(Answer.assignment_id == b.id).order_by(Answer.id)).first()),
    ):
        private[slot] = make_source(session, make_country(session, 0), title=fields["title"])
        private[slot].url, private[slot].assignment_id, private[slot].created_by_id = fields["url"], assignment.id, assignment.coder_id
        session.flush()
        session.add(Citation(answer_id=answer_id, source_id=private[slot].id, pinpoint=f"Art. 12 {slot}", position=1))
    session.flush()
    flag = CodebookFlag(
        indicator_id=codebook.indicator_ids[0],
        codebook_version=codebook.version,
        country_round_id=country_round_x.id,
        note=f"Unclear {HOSTILE}",
        flagged_by_id=users["supervisor"].id,
    )
    session.add(flag)
    session.flush()
    session.commit()
    release = publish_release(
        session=session,
        codebook=codebook,
        exports_dir=exports_dir,
        version=RELEASE_VERSION,
        release_date=date(2026, 3, 1),
        synthetic=True,
        title="Release 1.0.0",
    )
    session.commit()
    files = release_files(exports_dir=exports_dir, release=release)
    return World(
        users=users,
        target=target,
        round_=round_,
        country_round_x=country_round_x,
        assignment_a=a,
        assignment_b=b,
        assignment_y=y,
        source_x=source_x,
        source_a=private["a"],
        source_b=private["b"],
        citation_x=citation_x,
        flag=flag,
        release_file=files[0][0],
    )


def table_snapshot(engine: sa.engine.Engine) -> dict[str, tuple[int, int]]:
    """Return table -> (row count, hash of every row ordered by primary key): cheap on both engines."""
    snapshot = {}
    with engine.connect() as connection:
        for table in SQLModel.metadata.sorted_tables:
            order = list(table.primary_key.columns) or list(table.columns)
            rows = connection.execute(sa.select(table).order_by(*order)).all()
            snapshot[table.name] = (len(rows), hash(tuple(tuple(repr(v) for v in row) for row in rows)))
    return snapshot


def changed_tables(before: dict, after: dict, *, ignore: tuple[str, ...] = ()) -> list[str]:
    """Return the tables whose rows differ between two snapshots (except `ignore`)."""
    return sorted(t for t in before if t not in ignore and before[t] != after.get(t))


@pytest.fixture
def world_app(db_url, tmp_path):
    """The tiny-codebook application with the world added: (app, world)."""
    app = make_app(db_url, tmp_path, CODEBOOK_PATH=str(TINY_CODEBOOK))
    with Session(app.extensions["rightsdb.engine"], expire_on_commit=False) as session:
        world = build_world(session, app.extensions["rightsdb.codebook"], app.config["EXPORTS_DIR"])
    yield app, world
    app.extensions["rightsdb.engine"].dispose()


def client_as(app: Flask, world: World, persona: str) -> FlaskClient:
    """Return a fresh client signed in as the persona (its current session nonce read again)."""
    client = app.test_client()
    if persona == "anonymous":
        return client
    with Session(app.extensions["rightsdb.engine"]) as session:
        user = session.get(User, world.users[persona].id)
        return login(client, user)
