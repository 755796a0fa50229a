"""Text made only of control characters is no reason, message, note or title: refused, never stored empty (#14 item 1).

The text rule (rightsdb.text) removes control characters when a row is written; these inputs are
checked in that form, so a reason of "\\x01" is refused like a blank one instead of being stored as "".
"""

from __future__ import annotations

from datetime import date

import pytest
from sqlmodel import select

from rightsdb.errors import InvalidInput
from rightsdb.models import CodebookFlag, Decision, Release
from rightsdb.publishing.publish import TITLE_MAX, publish_release
from rightsdb.review import assignments, flags
from rightsdb.review.reconciliation import compare_country_round, resolve
from tests.factories.people import make_user
from tests.factories.rounds import make_round
from tests.factories.supervision import make_double_coding

CONTROLS_ONLY = ["\x01\x02", " \x0b\x0c ", "\x7f\x1f"]


@pytest.fixture
def compared(session, codebook):
    first = codebook.indicator_ids[0]
    cr, a, b = make_double_coding(session, codebook, make_round(session, codebook), values_b={first: "not_provided"})
    compare_country_round(session=session, codebook=codebook, country_round=cr)
    session.commit()
    return cr, a, b, make_user(session, "supervisor")


@pytest.mark.parametrize("text", CONTROLS_ONLY)
def test_a_reason_of_control_characters_is_refused(session, codebook, compared, text):
    cr, a, _b, supervisor = compared
    first = codebook.indicator_ids[0]
    with pytest.raises(InvalidInput) as info:
        resolve(
            session=session,
            codebook=codebook,
            country_round_id=cr.id,
            indicator_id=first,
            choice="A",
            citation_ids=[],
            reason=text,
            actor_id=supervisor.id,
        )
    assert ("reason", "Write the reason for this decision.") in info.value.problems
    session.rollback()
    assert session.exec(select(Decision).where(Decision.indicator_id == first)).first() is None


@pytest.mark.parametrize("text", CONTROLS_ONLY)
def test_a_send_back_message_of_control_characters_is_refused(session, codebook, compared, text):
    _cr, _a, b, supervisor = compared
    with pytest.raises(InvalidInput) as info:
        assignments.send_back(session=session, assignment_id=b.id, message=text, actor_id=supervisor.id)
    assert info.value.problems == [("message", "required")]


@pytest.mark.parametrize("text", CONTROLS_ONLY)
def test_a_flag_note_of_control_characters_is_refused(session, codebook, compared, text):
    _cr, _a, _b, supervisor = compared
    with pytest.raises(InvalidInput):
        flags.flag_indicator(session=session, codebook=codebook, indicator_id=codebook.indicator_ids[0], note=text, actor_id=supervisor.id)
    session.rollback()
    assert session.exec(select(CodebookFlag)).first() is None


def test_a_release_title_is_cleaned_and_a_too_long_one_refused_before_anything_is_written(session, codebook, app, compared):
    """A title over the column's length gave a database error on PostgreSQL; now a message naming the limit."""
    exports = app.config["EXPORTS_DIR"]
    with pytest.raises(InvalidInput, match=f"at most {TITLE_MAX}"):
        publish_release(
            session=session,
            codebook=codebook,
            exports_dir=exports,
            version="1.0.0",
            title="T" * (TITLE_MAX + 1),
            release_date=date(2026, 3, 1),
            synthetic=True,
        )
    session.rollback()
    assert session.exec(select(Release)).first() is None
    # Control characters do not count towards the limit, and alone they leave the default title.
    with pytest.raises(InvalidInput, match="no final") as info:
        publish_release(
            session=session,
            codebook=codebook,
            exports_dir=exports,
            version="1.0.0",
            title="\x01" * 400,
            release_date=date(2026, 3, 1),
            synthetic=True,
        )
    assert "at most" not in str(info.value)
