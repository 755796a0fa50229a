"""The release tables: a published release and its immutable snapshot (values and citations).

Part of `rightsdb.models` (which names them too); kept apart only for size. Nothing here has a
foreign key into the coding tables but users and releases: a snapshot must outlive any correction.
"""

from datetime import UTC, date, datetime
from typing import Optional

import sqlalchemy as sa
from sqlmodel import Field, SQLModel


def _now() -> datetime:
    return datetime.now(UTC)


class Release(SQLModel, table=True):
    """A published, immutable release of all final country-rounds."""

    __tablename__ = "releases"
    id: Optional[int] = Field(default=None, primary_key=True)
    version: str = Field(max_length=40, sa_column_kwargs={"unique": True})
    title: str = Field(default="", max_length=300)
    notes: str = Field(default="")
    release_date: date
    published_at: datetime = Field(default_factory=_now)
    published_by_id: Optional[int] = Field(default=None, foreign_key="users.id")
    codebook_version: str = Field(max_length=20)
    scheme: str = Field(max_length=40)
    aggregation: str = Field(max_length=40)
    synthetic: bool = Field(default=False)  # synthetic demonstration data, never mixed with real data
    changelog: str = Field(default="")
    sha256: str = Field(default="", max_length=64)  # of the release's SHA256SUMS file


class ReleaseAnswer(SQLModel, table=True):
    """One row of a release's canonical long table, frozen at publication."""

    __tablename__ = "release_answers"
    id: Optional[int] = Field(default=None, primary_key=True)
    release_id: int = Field(foreign_key="releases.id")
    country_iso3: str = Field(max_length=3)
    round_name: str = Field(max_length=100)
    reference_date: date
    indicator_id: str = Field(max_length=20)
    category_id: str = Field(max_length=20)
    answer: str = Field(max_length=20)
    groups: list[str] = Field(default_factory=list, sa_column=sa.Column(sa.JSON, nullable=False))
    binary: Optional[int] = None
    score: Optional[float] = None
    coder_a_answer: Optional[str] = Field(default=None, max_length=20)
    coder_b_answer: Optional[str] = Field(default=None, max_length=20)
    outcome: str = Field(max_length=20)
    reason: str = Field(default="")
    # What each coder wrote (what was searched, why not applicable, the other condition): published with the value.
    coder_a_notes: str = Field(default="")
    coder_b_notes: str = Field(default="")
    # The decision that settled the value when the release was published. Not a foreign key: a later
    # correction may replace that decision, and the snapshot must stay as it was.
    decision_id: Optional[int] = None

    __table_args__ = (
        sa.Index("ix_release_answers_country", "release_id", "country_iso3"),
        sa.Index("ix_release_answers_indicator", "release_id", "indicator_id"),
    )


class ReleaseCitation(SQLModel, table=True):
    """One legal citation standing behind a release's final value, frozen at publication (a row of citations.csv).

    Written only by `publishing.snapshot.freeze_citations`, from the release_answers rows of the same release in
    one INSERT ... SELECT, and never changed: no foreign-key constraints, whose per-row checks were a
    large share of a world-scale publication on PostgreSQL (bench/README.md). `verify_release` rebuilds the files from
    these rows, so a lost or stray row shows as a checksum that differs.
    """

    __tablename__ = "release_citations"
    id: Optional[int] = Field(default=None, primary_key=True)
    release_id: int  # releases.id
    release_answer_id: int  # release_answers.id
    position: int  # 1, 2, ... within the answer, in the order the citations were entered
    instrument_type: str = Field(max_length=40)
    title: str = Field(max_length=500)
    pinpoint: str = Field(default="", max_length=300)
    url: str = Field(default="", max_length=2000)  # the citation's deep link, else the source's
    date_in_force: Optional[date] = None
    language: str = Field(default="", max_length=20)
    excerpt: str = Field(default="")
    translation: str = Field(default="")
    cited_by: str = Field(default="", max_length=10)  # "A", "B" or "A;B": identical citations of both coders are one row

    __table_args__ = (sa.Index("ix_release_citations_answer", "release_id", "release_answer_id", "position"),)
