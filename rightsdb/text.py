"""What text may enter the database: one rule for every writer (forms, import, command line, demo).

Legal text is pasted from word processors, PDFs and web pages, in many scripts. Tab and newline are
kept. Every other line break becomes a newline: carriage return (and CR LF), vertical tab and form
feed (a word processor's Shift+Enter and page break), next line (U+0085), and the Unicode line and
paragraph separators. The remaining C0 control characters and DEL carry no text and are removed, NUL
among them, which PostgreSQL cannot store. Every other character, in any script, is stored as typed.

`clean_pending_text` applies the rule to every text column of the rows a session is about to write,
so that no writer can forget it. What a user types is checked in its normal form too: the web forms run
`clean_typed` as a filter before their validators, so that text of control characters alone is refused
as blank (never stored empty), lengths and uniqueness are checked on the text as it will be stored, and
stripping a one-line field sees the text the rule leaves.

Text written before the rule (or by raw SQL) may still hold such characters: every file writer copes
with any text the database holds (the workbook, which XML limits, shows U+FFFD for what it cannot carry).
"""

from __future__ import annotations

import functools
import re

import sqlalchemy as sa

#: Any character the rule changes: C0 controls but tab and newline, DEL, NEL, LS and PS.
_SPECIAL = re.compile("[\x00-\x08\x0b-\x1f\x7f\x85\u2028\u2029]")
_LINE_BREAKS = re.compile("\r\n|[\r\x0b\x0c\x85\u2028\u2029]")
_CONTROLS = re.compile("[\x00-\x08\x0e-\x1f\x7f]")


def clean_text(value: str) -> str:
    """Return `value` as the database stores it (see the module notes); most text is returned as it is."""
    if _SPECIAL.search(value) is None:
        return value
    return _CONTROLS.sub("", _LINE_BREAKS.sub("\n", value))


def clean_typed(value):
    """Return a typed value (a form field's data, a cell of an imported file) as `clean_text` stores it; a non-text value as it is."""
    return clean_text(value) if isinstance(value, str) else value


@functools.cache
def _text_attributes(mapper: sa.orm.Mapper) -> list[str]:
    """Return the mapper's text attributes (SQLModel's AutoString and every other String type)."""
    return [column.key for column in mapper.column_attrs if _holds_text(column.columns[0].type)]


def _holds_text(kind: sa.types.TypeEngine) -> bool:
    """Tell whether a column type stores text (a String, or a type decorating one, as SQLModel's AutoString)."""
    return isinstance(getattr(kind, "impl_instance", kind), sa.String)


def clean_pending_text(session: sa.orm.Session, _context, _instances) -> None:
    """Apply `clean_text` to the text columns of every new and changed row of `session` (a before_flush hook)."""
    for row in (*session.new, *session.dirty):
        state = sa.inspect(row)
        loaded = state.dict  # what the row holds now: an expired attribute is not loaded again here
        for key in _text_attributes(state.mapper):
            value = loaded.get(key)
            if isinstance(value, str) and _SPECIAL.search(value) is not None:
                setattr(row, key, clean_text(value))
