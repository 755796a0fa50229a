"""Every table of the database, as SQLModel classes.

The database stores indicator ids and the codebook version, never copies of question text: the
codebook file is the source of truth for wording. Each coder's independent answers live in `Answer`
and are never overwritten by reconciliation, which writes `Decision` rows instead. Published releases
are snapshotted into `ReleaseAnswer`, so corrections made later never change a published release.
"""

from datetime import UTC, date, datetime
from typing import Any, Optional

import sqlalchemy as sa
from sqlalchemy import event
from sqlmodel import Field, Relationship, Session, SQLModel

from rightsdb.text import clean_pending_text

ROLES = ("admin", "supervisor", "coder")
SLOTS = ("A", "B")
ASSIGNMENT_STATUSES = ("in_progress", "submitted")
DECISION_OUTCOMES = ("agreed", "reconciled")


#: The largest id a row can have: the id columns are INTEGER, signed 32-bit on PostgreSQL (64-bit on
#: SQLite). A larger number names nothing; passed to PostgreSQL it would be "integer out of range".
MAX_ROW_ID = 2**31 - 1


def parse_row_id(raw: str | None) -> int | None:
    """Return the id an ASCII decimal string names (0..MAX_ROW_ID), or None ('²', '١', '9' * 5000, '-1').

    The one parser of ids from forms and query strings; URL parts go through `RowIdConverter`, which
    has the same bound.
    """
    raw = (raw or "").strip()
    if not raw.isascii() or not raw.isdecimal() or len(raw) > len(str(MAX_ROW_ID)):
        return None
    value = int(raw)
    return value if value <= MAX_ROW_ID else None


def utcnow() -> datetime:
    """Return the current time, timezone-aware in UTC (SQLModel stores and returns UTC)."""
    return datetime.now(UTC)


class User(SQLModel, table=True):
    __tablename__ = "users"
    id: Optional[int] = Field(default=None, primary_key=True)
    email: str = Field(max_length=254, sa_column_kwargs={"unique": True}, index=False)
    name: str = Field(max_length=200)
    role: str = Field(max_length=20)
    password_hash: str = Field(max_length=300)
    active: bool = Field(default=True)
    # Part of the id Flask-Login stores in the session cookie; rotated on logout, password change and
    # deactivation so that an old cookie stops working at once.
    session_nonce: str = Field(max_length=64)
    device_secret: Optional[str] = Field(default=None, max_length=64)  # in device cookies (web/auth.py); kept at logout
    created_at: datetime = Field(default_factory=utcnow)
    last_login_at: Optional[datetime] = None

    __table_args__ = (sa.CheckConstraint("role IN ('admin', 'supervisor', 'coder')", name="ck_users_role"),)

    # Flask-Login protocol (kept here so the user loader can return the row itself).
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return f"{self.id}:{self.session_nonce}"


class LoginFailure(SQLModel, table=True):
    """One failed login (or one being checked), in the database so the limit holds across worker processes."""

    __tablename__ = "login_failures"
    id: Optional[int] = Field(default=None, primary_key=True)
    key: str = Field(max_length=300, index=True)
    at: datetime = Field(default_factory=utcnow, index=True)


class Country(SQLModel, table=True):
    __tablename__ = "countries"
    iso3: str = Field(primary_key=True, max_length=3)
    iso2: str = Field(max_length=2, sa_column_kwargs={"unique": True})
    numeric: Optional[str] = Field(default=None, max_length=3)
    name: str = Field(max_length=200)
    region: str = Field(default="", max_length=100)
    # True for fictional jurisdictions with ISO 3166 user-assigned codes (synthetic demonstration data).
    synthetic: bool = Field(default=False)


class Round(SQLModel, table=True):
    """A coding round: the law in force on `reference_date` is coded for each country in it."""

    __tablename__ = "rounds"
    id: Optional[int] = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, sa_column_kwargs={"unique": True})
    reference_date: date
    codebook_version: str = Field(max_length=20)
    notes: str = Field(default="")
    created_at: datetime = Field(default_factory=utcnow)
    created_by_id: Optional[int] = Field(default=None, foreign_key="users.id")


class CountryRound(SQLModel, table=True):
    __tablename__ = "country_rounds"
    id: Optional[int] = Field(default=None, primary_key=True)
    round_id: int = Field(foreign_key="rounds.id", index=True)
    country_iso3: str = Field(foreign_key="countries.iso3", max_length=3, index=True)
    compared_at: Optional[datetime] = None  # when both submissions were compared
    finalized_at: Optional[datetime] = None  # when no disagreement was left

    __table_args__ = (sa.UniqueConstraint("round_id", "country_iso3", name="uq_country_round"),)

    round: Round = Relationship()
    country: Country = Relationship()
    assignments: list["Assignment"] = Relationship(back_populates="country_round")


class Assignment(SQLModel, table=True):
    """One of the two independent codings (slot A or B) of a country in a round."""

    __tablename__ = "assignments"
    id: Optional[int] = Field(default=None, primary_key=True)
    country_round_id: int = Field(foreign_key="country_rounds.id", index=True)
    slot: str = Field(max_length=1)
    coder_id: int = Field(foreign_key="users.id", index=True)
    status: str = Field(default="in_progress", max_length=20)
    submitted_at: Optional[datetime] = None
    # A supervisor's message when reopening or sending back the assignment; shown to the coder.
    message: str = Field(default="")
    created_at: datetime = Field(default_factory=utcnow)

    __table_args__ = (
        sa.UniqueConstraint("country_round_id", "slot", name="uq_assignment_slot"),
        sa.CheckConstraint("slot IN ('A', 'B')", name="ck_assignments_slot"),
        sa.CheckConstraint("status IN ('in_progress', 'submitted')", name="ck_assignments_status"),
    )

    country_round: CountryRound = Relationship(back_populates="assignments")
    coder: User = Relationship()
    answers: list["Answer"] = Relationship(back_populates="assignment")


answer_version = sa.Column("version", sa.Integer, nullable=False, server_default="1")


class Answer(SQLModel, table=True):
    """A coder's answer to one indicator in one assignment (independent; never overwritten by others)."""

    __tablename__ = "answers"
    id: Optional[int] = Field(default=None, primary_key=True)
    assignment_id: int = Field(foreign_key="assignments.id", index=True)
    indicator_id: str = Field(max_length=20)
    value: Optional[str] = Field(default=None, max_length=20)  # None until answered
    groups: list[str] = Field(default_factory=list, sa_column=sa.Column(sa.JSON, nullable=False))
    notes: str = Field(default="")
    codebook_version: str = Field(max_length=20)
    # Copied from the previous round's final value; must be confirmed or changed before submission.
    carried_forward: bool = Field(default=False)
    version: int = Field(default=1, sa_column=answer_version)
    updated_at: datetime = Field(default_factory=utcnow)
    updated_by_id: Optional[int] = Field(default=None, foreign_key="users.id")

    __table_args__ = (sa.UniqueConstraint("assignment_id", "indicator_id", name="uq_answer_indicator"),)
    __mapper_args__ = {"version_id_col": answer_version}

    assignment: Assignment = Relationship(back_populates="answers")
    citations: list["Citation"] = Relationship(  # current versions only: a corrected citation's old row stays, hidden
        back_populates="answer",
        sa_relationship_kwargs={
            "order_by": "Citation.position, Citation.id",
            "primaryjoin": "and_(Answer.id == Citation.answer_id, Citation.replaced_by_id == None)",
        },
    )


class LegalSource(SQLModel, table=True):
    """A legal instrument (constitution, act, judgment...) entered once per country and cited often.

    While `assignment_id` is set the source is private to that assignment (blind coding); it joins the
    country's register (None) when both codings are submitted. A source behind a final value is never
    changed in place: a correction writes version + 1 and points the old row's `replaced_by_id` at it.
    """

    __tablename__ = "legal_sources"
    id: Optional[int] = Field(default=None, primary_key=True)
    country_iso3: str = Field(foreign_key="countries.iso3", max_length=3, index=True)
    instrument_type: str = Field(max_length=40)
    title: str = Field(max_length=500)
    url: str = Field(default="", max_length=2000)
    date_in_force: Optional[date] = None
    language: str = Field(default="", max_length=20)  # BCP 47 / ISO 639 code of the original text
    created_at: datetime = Field(default_factory=utcnow)
    created_by_id: Optional[int] = Field(default=None, foreign_key="users.id")
    assignment_id: Optional[int] = Field(default=None, foreign_key="assignments.id", index=True)  # private to it while set
    version: int = Field(default=1)
    replaced_by_id: Optional[int] = Field(default=None, foreign_key="legal_sources.id")  # the next version, or the merge target


class Citation(SQLModel, table=True):
    """A pinpoint citation supporting one answer: which provision of which instrument, with an excerpt."""

    __tablename__ = "citations"
    id: Optional[int] = Field(default=None, primary_key=True)
    answer_id: int = Field(foreign_key="answers.id", index=True)
    source_id: int = Field(foreign_key="legal_sources.id", index=True)
    pinpoint: str = Field(default="", max_length=300)  # article, section, paragraph
    url: str = Field(default="", max_length=2000)  # deep link to the provision, if any
    excerpt: str = Field(default="")  # in the original language
    translation: str = Field(default="")  # optional English translation
    position: int = Field(default=0)
    created_at: datetime = Field(default_factory=utcnow)
    replaced_by_id: Optional[int] = Field(default=None, foreign_key="citations.id")  # set by a correction: the new version

    answer: Answer = Relationship(back_populates="citations")
    source: LegalSource = Relationship()


decision_version = sa.Column("version", sa.Integer, nullable=False, server_default="1")


class Decision(SQLModel, table=True):
    """The final value of one indicator for a country-round: agreed automatically or reconciled.

    One row per (country-round, indicator): the unique constraint makes two supervisors deciding the
    same disagreement at once collide, so exactly one wins.
    """

    __tablename__ = "decisions"
    id: Optional[int] = Field(default=None, primary_key=True)
    country_round_id: int = Field(foreign_key="country_rounds.id", index=True)
    indicator_id: str = Field(max_length=20)
    value: str = Field(max_length=20)
    groups: list[str] = Field(default_factory=list, sa_column=sa.Column(sa.JSON, nullable=False))
    outcome: str = Field(max_length=20)  # agreed | reconciled
    chosen: Optional[str] = Field(default=None, max_length=10)  # A | B | other (reconciled only)
    reason: str = Field(default="")
    decided_by_id: Optional[int] = Field(default=None, foreign_key="users.id")  # None when agreed automatically
    decided_at: datetime = Field(default_factory=utcnow)
    corrected: bool = Field(default=False)  # changed after the country-round became final
    version: int = Field(default=1, sa_column=decision_version)

    __table_args__ = (
        sa.UniqueConstraint("country_round_id", "indicator_id", name="uq_decision_indicator"),
        sa.CheckConstraint("outcome IN ('agreed', 'reconciled')", name="ck_decisions_outcome"),
    )
    __mapper_args__ = {"version_id_col": decision_version}


class DecisionCitation(SQLModel, table=True):
    """A coder's citation that stands behind a final value."""

    __tablename__ = "decision_citations"
    decision_id: int = Field(foreign_key="decisions.id", primary_key=True)
    citation_id: int = Field(foreign_key="citations.id", primary_key=True)


class EvidenceCorrection(SQLModel, table=True):
    """A supervisor's correction of the evidence behind one final value: a source or citation replaced, with the reason.

    One row per decision whose evidence changed (a source cited in ten final values gives ten rows), so
    the next release's changes.csv can give each changed cell its reason.
    """

    __tablename__ = "evidence_corrections"
    id: Optional[int] = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, index=True)
    user_id: Optional[int] = Field(default=None, foreign_key="users.id")
    kind: str = Field(max_length=20)  # source | citation | merge
    old_id: int  # legal_sources.id or citations.id, by kind
    new_id: int
    reason: str
    country_round_id: int = Field(foreign_key="country_rounds.id", index=True)
    indicator_id: str = Field(max_length=20)
    decision_id: int = Field(foreign_key="decisions.id", index=True)

    __table_args__ = (sa.CheckConstraint("kind IN ('source', 'citation', 'merge')", name="ck_evidence_corrections_kind"),)


class CodebookFlag(SQLModel, table=True):
    """A supervisor's note that an indicator's wording or guidance is unclear, for the next revision."""

    __tablename__ = "codebook_flags"
    id: Optional[int] = Field(default=None, primary_key=True)
    indicator_id: str = Field(max_length=20, index=True)
    codebook_version: str = Field(max_length=20)
    country_round_id: Optional[int] = Field(default=None, foreign_key="country_rounds.id")
    note: str
    flagged_by_id: int = Field(foreign_key="users.id")
    flagged_at: datetime = Field(default_factory=utcnow)
    resolved: bool = Field(default=False)


class ConflictCopy(SQLModel, table=True):
    """A save refused because someone saved first: the text typed is kept so nothing is lost."""

    __tablename__ = "conflict_copies"
    id: Optional[int] = Field(default=None, primary_key=True)
    assignment_id: int = Field(foreign_key="assignments.id", index=True)
    user_id: int = Field(foreign_key="users.id")
    created_at: datetime = Field(default_factory=utcnow)
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=sa.Column(sa.JSON, nullable=False))


class AuditEvent(SQLModel, table=True):
    """Append-only trail: who changed what, when, with the old and new values.

    Database triggers refuse UPDATE and DELETE on this table (see AUDIT_TRIGGERS).
    """

    __tablename__ = "audit_events"
    id: Optional[int] = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, index=True)
    user_id: Optional[int] = Field(default=None, foreign_key="users.id", index=True)
    action: str = Field(max_length=60)
    entity: str = Field(max_length=40)
    entity_id: str = Field(default="", max_length=60)
    country_round_id: Optional[int] = Field(default=None, index=True)
    old: Optional[Any] = Field(default=None, sa_column=sa.Column(sa.JSON, nullable=True))
    new: Optional[Any] = Field(default=None, sa_column=sa.Column(sa.JSON, nullable=True))


# Append-only audit trail, enforced by the database itself on both supported engines.
AUDIT_TRIGGERS = {
    "sqlite": [
        "CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END",
        "CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END",
    ],
    "postgresql": [
        "CREATE OR REPLACE FUNCTION audit_events_append_only() RETURNS trigger AS $$ "
        "BEGIN RAISE EXCEPTION 'audit_events is append-only'; END; $$ LANGUAGE plpgsql",
        "CREATE TRIGGER audit_events_no_change BEFORE UPDATE OR DELETE ON audit_events "
        "FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()",
    ],
}


def create_audit_triggers(connection: sa.engine.Connection) -> None:
    """Install the append-only triggers for the connection's dialect."""
    for statement in AUDIT_TRIGGERS.get(connection.dialect.name, []):
        connection.exec_driver_sql(statement)


@event.listens_for(AuditEvent.__table__, "after_create")
def _audit_triggers_after_create(target, connection, **kw) -> None:
    create_audit_triggers(connection)


# The release tables live in their own module (this one would pass the layout's size limit); named here too.
from rightsdb.models_release import Release, ReleaseAnswer, ReleaseCitation  # noqa: E402, F401

# Every session applies the one rule for text (rightsdb.text) to the rows it writes.
event.listen(Session, "before_flush", clean_pending_text)
