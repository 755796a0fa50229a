"""Legal sources (coding.citations): the URL rule, validation, the audit, and the country a source belongs to."""

from __future__ import annotations

from datetime import date

import pytest
from sqlmodel import select

from rightsdb.codebook.rules import url_problem
from rightsdb.coding.citations import SourceInput, create_source, edit_source
from rightsdb.errors import InvalidInput, NotFound
from rightsdb.models import AuditEvent, LegalSource
from tests.factories.countries import make_country
from tests.factories.rounds import make_assignments, make_pair


@pytest.mark.parametrize(
    "url, ok",
    [
        ("", True),
        ("https://example.org/a?b=1", True),
        ("http://x.test", True),
        ("ftp://example.org", False),
        ("javascript:alert(1)", False),
        ("example.org", False),
        ("https://exa mple.org", False),
    ],
)
def test_url_rule(url, ok):
    assert (url_problem(url) is None) is ok


def test_sources_are_validated_audited_and_scoped_to_the_country(session, codebook):
    user_a, _b_user, cr, a, _b = make_pair(session, codebook)
    other_country = make_country(session, 1)
    _cr_other, other_a, _other_b = make_assignments(session, cr.round, other_country, user_a, _b_user)
    with pytest.raises(InvalidInput) as raised:
        create_source(
            session=session,
            codebook=codebook,
            assignment=a,
            user_id=user_a.id,
            source=SourceInput(instrument_type="poem", title="", url="ftp://x"),
        )
    assert {field for field, _ in raised.value.problems} == {"instrument_type", "title", "url"}
    source = create_source(
        session=session,
        codebook=codebook,
        assignment=a,
        user_id=user_a.id,
        source=SourceInput("statute", "Aufenthaltsgesetz", "https://www.gesetze-im-internet.de/aufenthg_2004/", date(2005, 1, 1), "de"),
    )
    edit_source(
        session=session,
        codebook=codebook,
        assignment=a,
        source_id=source.id,
        user_id=user_a.id,
        source=SourceInput("statute", "Aufenthaltsgesetz (AufenthG)", source.url, date(2005, 1, 1), "de"),
    )
    with pytest.raises(NotFound):
        edit_source(
            session=session,
            codebook=codebook,
            assignment=other_a,
            source_id=source.id,
            user_id=user_a.id,
            source=SourceInput("statute", "Hijacked", ""),
        )
    session.commit()
    assert session.get(LegalSource, source.id).title == "Aufenthaltsgesetz (AufenthG)"
    events = session.exec(select(AuditEvent).where(AuditEvent.entity == "legal_source").order_by(AuditEvent.id)).all()
    assert [e.action for e in events] == ["source.created", "source.edited"]
    assert events[1].old["title"] == "Aufenthaltsgesetz" and events[1].new["title"] == "Aufenthaltsgesetz (AufenthG)"
