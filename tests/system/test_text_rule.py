"""One rule for text entering the database, and release files that cope with any text the database holds.

Word processors put vertical tabs and form feeds into pasted legal text; once such a value was final,
the workbook writer refused it and every release failed. Now the session normalises text as it is
written (rightsdb.text), and the workbook shows U+FFFD for what XML cannot carry in older rows.
"""

from __future__ import annotations

import csv
import io
from datetime import date

import openpyxl
import pandas as pd
import pyarrow.parquet as pq
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st
from sqlmodel import select

from rightsdb.models import Citation, LegalSource
from rightsdb.publishing.publish import publish_release
from rightsdb.text import clean_text
from tests.factories.countries import make_country
from tests.factories.querycount import count_queries
from tests.factories.releases import make_final

PASTED = "Art. 3\x0b(1) Everyone\x0cpage 2\r\nline\rend\x00\x07\u2028next\u2029para\x85nel\ttab ‫عربى‬ Русский"


def test_line_breaks_become_newlines_and_other_controls_go():
    assert clean_text(PASTED) == "Art. 3\n(1) Everyone\npage 2\nline\nend\nnext\npara\nnel\ttab ‫عربى‬ Русский"
    assert clean_text("plain text, any script: 中文, हिन्दी, ελληνικά") == "plain text, any script: 中文, हिन्दी, ελληνικά"


@given(st.text())
def test_the_rule_keeps_no_control_but_tab_and_newline_and_is_stable(text):
    cleaned = clean_text(text)
    assert clean_text(cleaned) == cleaned
    assert not any((ord(c) < 32 and c not in "\t\n") or c in "\x7f\x85\u2028\u2029" for c in cleaned)
    assert cleaned.count("\t") == text.count("\t")


def test_every_writer_of_the_session_stores_clean_text(tiny_session, book):
    country = make_country(tiny_session, 0)
    make_final(tiny_session, book, country, excerpt=PASTED, source_title="Aliens\x0bAct")
    tiny_session.commit()
    excerpts = tiny_session.exec(select(Citation.excerpt)).all()
    assert excerpts and all(e.startswith("Art. 3\n(1) Everyone\npage 2") for e in excerpts)
    assert tiny_session.exec(select(LegalSource.title)).all() == ["Aliens\nAct"]


def test_a_release_is_built_from_text_written_before_the_rule(tiny_session, book, exports_dir):
    country = make_country(tiny_session, 0)
    make_final(tiny_session, book, country)
    tiny_session.commit()
    legacy = "old\x0bvertical tab, form\x0cfeed and bell\x07"
    # Written past the session's rule, as older rows or raw SQL may hold it.
    tiny_session.connection().execute(sa.update(Citation.__table__).values(excerpt=legacy))
    tiny_session.commit()
    release = publish_release(
        session=tiny_session, codebook=book, exports_dir=exports_dir, version="1.0.0", release_date=date(2026, 3, 1), synthetic=True
    )
    tiny_session.commit()
    folder = exports_dir / release.version / "data"
    rows = list(csv.DictReader(io.StringIO((folder / "citations.csv").read_text(encoding="utf-8"))))
    assert rows and {r["excerpt"] for r in rows} == {legacy}  # the CSV keeps the text as it is
    sheet = openpyxl.load_workbook(folder / "release.xlsx", read_only=True)["citations"]
    header, *cells = list(sheet.values)
    excerpts = {row[header.index("excerpt")] for row in cells}
    assert excerpts == {"old\ufffdvertical tab, form\ufffdfeed and bell\ufffd"}
    assert set(pq.read_table(folder / "citations.parquet").column("excerpt").to_pylist()) == {legacy}
    assert len(pd.read_stata(folder / "long.dta")) == len(book.indicators)


def test_the_rule_loads_nothing_to_check_a_changed_row(tiny_session, book):
    make_final(tiny_session, book, make_country(tiny_session, 0))
    tiny_session.commit()
    citation = tiny_session.exec(select(Citation)).first()
    tiny_session.expire(citation, ["pinpoint", "url", "translation"])  # text attributes not loaded (expired, deferred)
    citation.excerpt = "new\x0bexcerpt"
    with count_queries(tiny_session.get_bind()) as queries:
        tiny_session.flush()
    assert queries.count == 1 and queries.statements[0].lstrip().upper().startswith("UPDATE"), queries.statements
    tiny_session.commit()
    assert tiny_session.exec(select(Citation.excerpt).where(Citation.id == citation.id)).one() == "new\nexcerpt"
