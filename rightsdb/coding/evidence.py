"""Which evidence is frozen: the legal sources and citations that stand behind a final value.

A citation linked to a decision (decision_citations) stands behind a final value; so does every source
such a citation points to. Neither may be changed in place by anyone: changing one is a correction
(`rightsdb.review.evidence`), which writes a new version and keeps the old row. A row that a correction
or a merge already replaced (`replaced_by_id` set) is history and frozen too.
"""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa
from sqlmodel import Session, select

from rightsdb.errors import InvalidInput
from rightsdb.models import Citation, DecisionCitation, LegalSource

FROZEN_SOURCE = (
    "This legal source stands behind final values and cannot be changed in place: a supervisor corrects it,"
    " with a reason, from the country's source register."
)
FROZEN_CITATION = "This citation stands behind a final value and cannot be changed in place: a supervisor corrects it, with a reason."


def frozen_citation_ids(session: Session, citation_ids: Iterable[int]) -> set[int]:
    """Return those of `citation_ids` that stand behind a final value or were already replaced (one query)."""
    ids = sorted(set(citation_ids))
    if not ids:
        return set()
    behind = select(DecisionCitation.citation_id).where(DecisionCitation.citation_id == Citation.id).exists()
    rows = session.exec(
        select(Citation.id).where(Citation.id.in_(ids), sa.or_(Citation.replaced_by_id.is_not(None), behind))  # type: ignore[union-attr]
    ).all()
    return set(rows)


def frozen_source_ids(session: Session, source_ids: Iterable[int]) -> set[int]:
    """Return those of `source_ids` cited behind a final value or already replaced (one query)."""
    ids = sorted(set(source_ids))
    if not ids:
        return set()
    behind = (
        select(Citation.id)
        .join(DecisionCitation, DecisionCitation.citation_id == Citation.id)
        .where(Citation.source_id == LegalSource.id)
        .exists()
    )
    rows = session.exec(
        select(LegalSource.id).where(LegalSource.id.in_(ids), sa.or_(LegalSource.replaced_by_id.is_not(None), behind))  # type: ignore[union-attr]
    ).all()
    return set(rows)


def refuse_frozen_source(session: Session, source_id: int) -> None:
    """Raise InvalidInput (FROZEN_SOURCE) when the source may not be changed in place."""
    if frozen_source_ids(session, [source_id]):
        raise InvalidInput(FROZEN_SOURCE, [("source", FROZEN_SOURCE)])


def refuse_frozen_citation(session: Session, citation_id: int) -> None:
    """Raise InvalidInput (FROZEN_CITATION) when the citation may not be changed or removed in place."""
    if frozen_citation_ids(session, [citation_id]):
        raise InvalidInput(FROZEN_CITATION, [("citation", FROZEN_CITATION)])
