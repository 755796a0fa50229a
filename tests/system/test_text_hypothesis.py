"""Any text, through every way into the database and out through a release (issue #14, item 1), on both engines.

Hypothesis drives arbitrary Unicode (every category but the surrogates, which UTF-8 cannot encode:
control characters and NUL, noncharacters, direction marks, combining marks, astral emoji, text at and
past the field limits) through:

1. the web forms that save it (the coder's notes, pinpoint, excerpt, translation and a new source's
   title, the sources page; a supervisor's round name and notes; an admin's user name): every page that
   shows it answers 200 and the stored text is the text rule's normal form of what was typed
   (`rightsdb.text.clean_text`, then stripped for the fields the application strips), or the save is
   refused with the message of the rule it breaks (never a 500);
2. `rightsdb import` from CSV and Excel files written here: imported as the rule says, or refused with
   the lines and columns at fault;
3. release builds holding such text in every text column: each file, read back by an independent reader
   (csv, openpyxl, pyreadstat, pyarrow, json, frictionless, yaml), gives the stored text, except the
   documented replacement (U+FFFD in the workbook for what XML cannot carry, OWASP's apostrophe in the
   CSV files), and verify rebuilds it byte for byte.

One world per test and engine; hypothesis loops over its examples inside it, derandomized so that CI sees
the same examples every time. The @example cases are failures this test found, each kept as it failed:
text of control characters alone stored as an empty title, round or user name (the forms validated the
text before the rule cleaned it), a round name that differs from an existing one only by a control
character answered with a 500 (the unique name checked before cleaning), a pinpoint stored with the
space the rule's removed character had guarded; an imported title or not-applicable reason of control
characters alone stored empty; U+FFFE or U+FFFF in any text made the workbook unreadable (no XML parser
accepts them), CITATION.cff unreadable by YAML (a C1 control in the title) and a chart a 500 (a character
its font lacks).
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import re
from datetime import UTC, date, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from markupsafe import escape
from sqlmodel import Session, func, select

from rightsdb.models import Answer, Assignment, Citation, Country, CountryRound, Decision, DecisionCitation, LegalSource, Round, User
from rightsdb.text import clean_text
from tests.conftest import TINY_CODEBOOK, login, make_app
from tests.factories.coding import make_source
from tests.factories.people import PASSWORD, make_user
from tests.factories.rounds import make_pair

pytestmark = [
    pytest.mark.filterwarnings("ignore:Generating overly large repr:hypothesis.errors.HypothesisWarning"),
    # A chart draws a character its font (DejaVu Sans) lacks as a box, and matplotlib warns: the page is still drawn.
    pytest.mark.filterwarnings("ignore:Glyph .* missing from font:UserWarning"),
]

#: Pieces hypothesis mixes into its text: every kind of character the rule, the files and the pages treat apart
#: (NUL, which the web refuses whole, comes from the explicit examples and the long text).
PIECES = [
    *"\x01\x07\x08\x0b\x0c\x0e\x1b\x1f\x7f\x80\x9f\x85\u2028\u2029\r\n\t \u00a0\u3000",
    "\r\n",
    "\ufffe",
    "\uffff",
    "\ufeff",
    "\ufffd",
    "\U0010ffff",
    "\u200e",
    "\u200f",
    "\u202e",
    "\u0301",
    "e\u0301",
    "🙂",
    "👩\u200d👩\u200d👧",
    "عربى",
    "中文",
    "_x0041_",
    "x005F_",
    "=1+1",
    "-",
    "@",
    "'",
    '"',
    ",",
    ";",
    "$x^2$",
    "%s{0}",
    "<b>&amp;",
]
FRAGMENT = st.one_of(st.sampled_from(PIECES), st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=12))
SHORT = st.lists(FRAGMENT, max_size=8).map("".join)
#: Characters long text is made of (control characters among them: the rule shortens such text).
LONG_PIECES = ["a", "é", "ل", "🙂", "\x0b", "\r\n", " a", "\u0301", "x\x01", "\x00"]


def long_text(low: int, high: int) -> st.SearchStrategy[str]:
    """Text of low..high characters, made of one repeated piece."""
    return st.builds(lambda piece, n: (piece * n)[:n], st.sampled_from(LONG_PIECES), st.integers(low, high))


def text_for(limit: int | None) -> st.SearchStrategy[str]:
    """Short text in any script, or long text around the field's limit (up to 20,000 characters without one)."""
    return st.one_of(SHORT, SHORT, long_text(limit - 3, limit + 3) if limit else long_text(2_000, 20_000))


def normal(text: str) -> str:
    """The oracle: the text rule's normal form of `text`."""
    return clean_text(text)


def normal_line(text: str) -> str:
    """The oracle for the one-line fields the application strips (titles, names, pinpoints)."""
    return clean_text(text).strip()


NUL_REFUSED = "contains a NUL character"
TOO_LONG = "Field cannot be longer than {} characters."
REQUIRED = "This field is required."
NO_TITLE = "Enter the title of the instrument."
IND = "AAA-01"
#: Hypothesis settings for examples that share one world built per test (the fixture), on each engine.
SHARED_WORLD = dict(
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)


class World(SimpleNamespace):
    """The rows and clients one test's examples share."""

    def __repr__(self) -> str:
        return "World()"  # keeps hypothesis' reports of failing examples short


# ---- 1. Saving through the web ----------------------------------------------------------------------


@pytest.fixture
def web(db_url, tmp_path):
    """A coder's assignment with one legal source, a supervisor and an admin, each with a signed-in client."""
    app = make_app(db_url, tmp_path, CODEBOOK_PATH=str(TINY_CODEBOOK))
    engine = app.extensions["rightsdb.engine"]
    with Session(engine, expire_on_commit=False) as session:
        coder, _other, country_round, assignment, _b = make_pair(session, app.extensions["rightsdb.codebook"])
        source = make_source(session, country_round.country)
        source.assignment_id = assignment.id  # the coder's own source (blind until both submit), so the coder may correct it
        people = {"coder": coder, "supervisor": make_user(session, "supervisor"), "admin": make_user(session, "admin")}
        session.commit()
    clients = {role: login(app.test_client(), user) for role, user in people.items()}
    base = f"/coder/assignments/{assignment.id}"
    yield World(
        engine=engine,
        clients=clients,
        base=base,
        assignment_id=assignment.id,
        round_id=country_round.round_id,
        source_id=source.id,
        emails=itertools.count(1),
    )
    engine.dispose()


def one(engine, statement):
    with Session(engine) as session:
        return session.exec(statement).first()


def expect(response, refusal: tuple[int, list[str]] | None, success: int) -> bool:
    """Assert the response is the predicted refusal (status and every message) or `success`; return whether it saved."""
    body = response.get_data(as_text=True)
    event(f"{response.request.path.split('/')[-1] or 'page'}: {response.status_code}")  # --hypothesis-show-statistics
    if refusal is None:
        assert response.status_code == success, body[-2000:]
        return True
    status, messages = refusal
    assert response.status_code == status, body[-2000:]
    for message in messages:
        assert message in body, (message, body[-2000:])
    return False


def form_refusal(texts: list[str], limits: list[tuple[str, int, bool]], status: int) -> tuple[int, list[str]] | None:
    """Predict a form's refusal: a NUL anywhere (refused before any form), else each blank required or too long field."""
    if any("\x00" in t for t in texts):
        return 400, [NUL_REFUSED]
    messages = []
    for text, limit, required in limits:
        if required and not normal_line(text):
            messages.append(REQUIRED)
        elif len(normal(text)) > limit:
            messages.append(TOO_LONG.format(limit))
    return (status, messages) if messages else None


def save_coding(web, t: dict) -> None:
    """Save one answer with a citation to a new source (the old citations removed); check what was stored and shown."""
    answer = one(web.engine, select(Answer).where(Answer.assignment_id == web.assignment_id, Answer.indicator_id == IND))
    version = answer.version if answer else 0
    with Session(web.engine) as session:
        old = session.exec(select(Citation.id).join(Answer).where(Answer.assignment_id == web.assignment_id)).all()
    fields = {
        "notes": t["notes"],
        "pinpoint": t["pinpoint"],
        "excerpt": t["excerpt"],
        "translation": t["translation"],
        "new_source_title": t["title"],
    }
    data = {
        "category": "",
        f"{IND}-version": str(version),
        f"{IND}-value": "provided",
        f"{IND}-source": "new",
        f"{IND}-new_source_type": "statute",
        f"{IND}-remove": [str(i) for i in old],
        **{f"{IND}-{k}": v for k, v in fields.items()},
    }
    refusal = form_refusal(list(fields.values()), [(t["title"], 500, False), (t["pinpoint"], 300, False)], 422)
    if refusal is None and not normal_line(t["title"]):
        refusal = (422, [NO_TITLE])
    response = web.clients["coder"].post(web.base + "/save", data=data)
    if not expect(response, refusal, 303):
        after = one(web.engine, select(Answer).where(Answer.assignment_id == web.assignment_id, Answer.indicator_id == IND))
        assert (after.version if after else 0) == version
        return
    with Session(web.engine) as session:
        stored = session.exec(select(Answer).where(Answer.assignment_id == web.assignment_id, Answer.indicator_id == IND)).one()
        [citation] = stored.citations
        title = session.get(LegalSource, citation.source_id).title
        assert stored.notes == normal(t["notes"])
        assert (citation.pinpoint, citation.excerpt, citation.translation) == (
            normal_line(t["pinpoint"]),
            normal(t["excerpt"]),
            normal(t["translation"]),
        )
        assert title == normal_line(t["title"])
        source_id = citation.source_id
    page = web.clients["coder"].get(web.base)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for shown in (stored.notes, citation.pinpoint, citation.excerpt, title):
        assert str(escape(shown)) in html, shown[:200]
    for url in (web.base + "/sources", f"{web.base}/sources/{source_id}"):
        assert web.clients["coder"].get(url).status_code == 200


def save_source(web, title: str, source_id: int | None) -> None:
    """Add a legal source (or correct one) on the sources page; check the stored title and the pages."""
    url = web.base + "/sources" + (f"/{source_id}" if source_id else "")
    before = one(web.engine, select(func.count()).select_from(LegalSource))
    old_title = one(web.engine, select(LegalSource.title).where(LegalSource.id == source_id)) if source_id else None
    refusal = form_refusal([title], [(title, 500, False)], 422)
    if refusal is None and not normal_line(title):
        refusal = (422, [NO_TITLE])
    response = web.clients["coder"].post(url, data={"instrument_type": "statute", "title": title})
    saved = expect(response, refusal, 303)
    newest = source_id or one(web.engine, select(func.max(LegalSource.id)))
    stored = one(web.engine, select(LegalSource.title).where(LegalSource.id == newest))
    if saved:
        assert stored == normal_line(title)
    else:
        assert one(web.engine, select(func.count()).select_from(LegalSource)) == before
        assert source_id is None or stored == old_title
    for page in (web.base + "/sources", f"{web.base}/sources/{newest}"):
        assert web.clients["coder"].get(page).status_code == 200


def open_round(web, name: str, notes: str) -> None:
    """Open a round (supervisor); check the stored name and notes, the round's page and the board."""
    with Session(web.engine) as session:
        names = set(session.exec(select(Round.name)).all())
    refusal = form_refusal([name, notes], [(name, 100, True), (notes, 5000, False)], 400)
    if refusal is None and normal_line(name) in names:
        refusal = (400, ["already exists"])
    response = web.clients["supervisor"].post("/supervisor/rounds/new", data={"name": name, "reference_date": "2026-01-01", "notes": notes})
    if expect(response, refusal, 302):
        stored = one(web.engine, select(Round).order_by(Round.id.desc()))
        assert (stored.name, stored.notes) == (normal_line(name), normal_line(notes))
        assert web.clients["supervisor"].get(f"/supervisor/rounds/{stored.id}").status_code == 200
    else:
        assert one(web.engine, select(func.count()).select_from(Round)) == len(names)
    assert web.clients["supervisor"].get("/supervisor/").status_code == 200


def add_user(web, name: str) -> None:
    """Add a coder (admin); check the stored name, the team page and the page that lists coders by name."""
    email = f"text{next(web.emails)}@example.org"
    data = {"name": name, "email": email, "role": "coder", "password": PASSWORD}
    refusal = form_refusal([name], [(name, 200, True)], 400)
    saved = expect(web.clients["admin"].post("/admin/users", data=data), refusal, 302)
    stored = one(web.engine, select(User.name).where(User.email == email))
    assert stored == (normal_line(name) if saved else None)
    assert web.clients["admin"].get("/admin/users").status_code == 200
    assert web.clients["supervisor"].get(f"/supervisor/rounds/{web.round_id}").status_code == 200


SAVED_TEXTS = st.fixed_dictionaries(
    {
        "notes": text_for(None),
        "pinpoint": text_for(300),
        "excerpt": text_for(None),
        "translation": text_for(None),
        "title": text_for(500),
        "source_title": text_for(500),
        "corrected_title": text_for(500),
        "round_name": text_for(100),
        "round_notes": text_for(5000),
        "user_name": text_for(200),
    }
)
PLAIN = {
    "notes": "n",
    "pinpoint": "p",
    "excerpt": "e",
    "translation": "t",
    "title": "T",
    "source_title": "S",
    "corrected_title": "C",
    "round_name": "R",
    "round_notes": "",
    "user_name": "U",
}


@settings(max_examples=15, **SHARED_WORLD)
@given(texts=SAVED_TEXTS)
@example(texts={**PLAIN, "title": " \x01", "source_title": "\x01", "round_name": "\x02 ", "user_name": "\x1f"})
@example(texts={**PLAIN, "round_name": "2026\x01", "pinpoint": "\x01 Art. 3", "user_name": " \x0bAda\x7f"})
@example(texts={**PLAIN, "pinpoint": "p\x01" * 151, "title": "\x01" * 501, "round_name": "\x0b" + "r" * 100})
@example(texts={**PLAIN, "excerpt": "a\x00b", "round_notes": "\x00", "user_name": "\x00"})
def test_any_text_saved_through_the_web_is_stored_as_the_rule_says_or_refused_with_a_message(web, texts):
    save_coding(web, texts)
    save_source(web, texts["source_title"], None)
    save_source(web, texts["corrected_title"], web.source_id)
    open_round(web, texts["round_name"], texts["round_notes"])
    add_user(web, texts["user_name"])


# ---- 2. Import -----------------------------------------------------------------------------------------

IMPORT_COLUMNS = [
    "country_iso3",
    "indicator_id",
    "answer",
    "notes",
    "instrument_type",
    "source_title",
    "pinpoint",
    "excerpt",
    "translation",
]
#: What a line break is to the CSV reader (and to an editor): the line numbers of the import's messages count them.
CSV_LINE_BREAK = re.compile("\r\n|\r|\n")


@pytest.fixture
def importing(db_url, tmp_path):
    """A coder's in-progress assignment for XAA in round 2026, to import into."""
    app = make_app(db_url, tmp_path, CODEBOOK_PATH=str(TINY_CODEBOOK))
    engine = app.extensions["rightsdb.engine"]
    with Session(engine, expire_on_commit=False) as session:
        coder, _other, _country_round, assignment, _b = make_pair(session, app.extensions["rightsdb.codebook"])
        session.commit()
    yield World(
        engine=engine, codebook=app.extensions["rightsdb.codebook"], email=coder.email, assignment_id=assignment.id, folder=tmp_path
    )
    engine.dispose()


def import_rows(t: dict) -> list[list[str]]:
    """A provided answer with a citation, then a not-applicable answer whose notes give the reason."""
    return [
        IMPORT_COLUMNS,
        ["XAA", IND, "provided", t["notes"], "statute", t["title"], t["pinpoint"], t["excerpt"], t["translation"]],
        ["XAA", "AAA-02", "not_applicable", t["reason"], "", "", "", "", ""],
    ]


def import_faults(t: dict, second_line: int) -> set[tuple[int, str]]:
    """Predict the faulty (line, column) pairs: the reader strips every cell, so each is checked as `normal_line` leaves it."""
    cell = {name: normal_line(text) for name, text in t.items()}
    faults = set()
    if not cell["title"] or len(cell["title"]) > 500:
        faults.add((2, "source_title"))
    if len(cell["pinpoint"]) > 300:
        faults.add((2, "pinpoint"))
    if not cell["reason"]:
        faults.add((second_line, "notes"))
    return faults


def run_import(importing, path, t: dict, second_line: int, *, damaged: bool = False) -> None:
    """Import the file; check it was stored as the rule says, or refused naming exactly the faulty lines and columns.

    `damaged`: the file is not well-formed XML (openpyxl writes U+FFFE and U+FFFF, which XML cannot hold, and
    then cannot read them): refused as such, with the file and sheet named.
    """
    from rightsdb.errors import InvalidInput
    from rightsdb.importing.importer import ImportRefused, import_codings

    faults = import_faults(t, second_line)
    with Session(importing.engine) as session:
        try:
            import_codings(
                session=session, codebook=importing.codebook, path=path, round_name="2026", mode="submission", user_email=importing.email
            )
        except ImportRefused as refused:
            event(f"{path.suffix}: refused")
            assert not damaged and {(p.line, p.column) for p in refused.rows} == faults, refused.rows
            assert "nothing was imported" in str(refused) and all(p.message for p in refused.rows)
            return
        except InvalidInput as refused:
            assert damaged and "its XML is damaged" in str(refused) and path.name in str(refused), str(refused)
            return
        finally:
            stored_notes = dict(
                session.exec(select(Answer.indicator_id, Answer.notes).where(Answer.assignment_id == importing.assignment_id)).all()
            )
            cited = session.exec(
                select(Citation.pinpoint, Citation.excerpt, Citation.translation, LegalSource.title)
                .join(LegalSource, LegalSource.id == Citation.source_id)
                .join(Answer, Answer.id == Citation.answer_id)
                .where(Answer.assignment_id == importing.assignment_id)
            ).all()
            session.rollback()  # every example imports into the same, empty assignment
        assert not damaged and faults == set(), "imported a file that breaks a rule"
        event(f"{path.suffix}: imported")
    cell = {name: normal_line(text) for name, text in t.items()}
    assert stored_notes == {IND: cell["notes"], "AAA-02": cell["reason"]}
    assert [tuple(row) for row in cited] == [(cell["pinpoint"], cell["excerpt"], cell["translation"], cell["title"])]


def xlsx_text(text: str) -> str:
    """The text a workbook written by openpyxl can hold: without the control characters it refuses to write, and
    without "x005F_", which its shared strings reader deletes (its reading of Excel's escape)."""
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    return ILLEGAL_CHARACTERS_RE.sub("", text).replace("x005F_", "x005F")


def write_workbook(path, rows: list[list[str]]) -> None:
    """Write rows with openpyxl, every value a text cell (never a formula, even "=1+1")."""
    import openpyxl

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    for r, values in enumerate(rows, start=1):
        for c, value in enumerate(values, start=1):
            sheet.cell(row=r, column=c, value=value).data_type = "s"
    workbook.save(path)


IMPORTED_TEXTS = st.fixed_dictionaries(
    {
        "notes": text_for(None),
        "title": text_for(500),
        "pinpoint": text_for(300),
        "excerpt": text_for(None),
        "translation": text_for(None),
        "reason": text_for(None),
    }
)
PLAIN_IMPORT = {"notes": "n", "title": "T", "pinpoint": "p", "excerpt": "e", "translation": "t", "reason": "r"}


@settings(max_examples=20, **SHARED_WORLD)
@given(texts=IMPORTED_TEXTS)
@example(texts={**PLAIN_IMPORT, "title": " \x01", "reason": "\x0e"})
@example(texts={**PLAIN_IMPORT, "pinpoint": "\x01 Art. 3", "title": "\x01" * 501, "notes": "\r\n\x00"})
@example(texts={**PLAIN_IMPORT, "title": "Act \ufffe", "excerpt": "\uffff"})
def test_any_text_imported_from_csv_and_excel_is_stored_as_the_rule_says_or_refused_per_line(importing, texts):
    rows = import_rows(texts)
    path = importing.folder / "import.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows(rows)  # Excel's dialect: a field holding "\r" or "\n" is quoted
    run_import(importing, path, texts, 3 + sum(len(CSV_LINE_BREAK.findall(cell)) for cell in rows[1]))
    in_workbook = {name: xlsx_text(text) for name, text in texts.items()}
    path = importing.folder / "import.xlsx"
    write_workbook(path, import_rows(in_workbook))
    run_import(importing, path, in_workbook, 3, damaged=any(c in "".join(in_workbook.values()) for c in "\ufffe\uffff"))


# ---- 3. A release build and every file read back ---------------------------------------------------------

#: What the workbook cannot carry (XML 1.0: C0 controls but tab, newline and carriage return; U+FFFE, U+FFFF), shown as U+FFFD.
NOT_IN_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
FIXED = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def within(limit: int | None) -> st.SearchStrategy[str]:
    """Text the column holds (at most `limit` characters); long text around 2,000 UTF-8 bytes, where Stata's
    text columns become strL, when there is no limit."""
    if limit is None:
        boundary = st.sampled_from(["a", "é", "€", "🙂"]).flatmap(
            lambda p: st.integers(1990 // len(p.encode()), 2050 // len(p.encode())).map(lambda n: p * n)
        )
        return st.one_of(SHORT, SHORT, boundary)
    return st.one_of(SHORT.map(lambda t: t[:limit]), SHORT.map(lambda t: t[:limit]), long_text(limit - 3, limit))


RELEASED_TEXTS = st.fixed_dictionaries(
    {
        "country": within(200),
        "region": within(100),
        "round": within(100),
        "reason": within(None),
        "language": within(20),
        "release_title": within(300),
        "release_notes": within(None),
        "titles": st.lists(within(500), min_size=6, max_size=6),
        "pinpoints": st.lists(within(300), min_size=6, max_size=6),
        "urls": st.lists(within(2000), min_size=6, max_size=6),
        "excerpts": st.lists(within(None), min_size=6, max_size=6),
        "translations": st.lists(within(None), min_size=6, max_size=6),
    }
)


@pytest.fixture
def releasing(db_url, tmp_path):
    """An application with two coders, to add final country-rounds and publish releases in."""
    app = make_app(db_url, tmp_path, CODEBOOK_PATH=str(TINY_CODEBOOK))
    engine = app.extensions["rightsdb.engine"]
    with Session(engine, expire_on_commit=False) as session:
        coders = (make_user(session, "coder"), make_user(session, "coder"))
        session.commit()
    yield World(
        app=app,
        engine=engine,
        codebook=app.extensions["rightsdb.codebook"],
        coders=coders,
        exports=Path(app.config["EXPORTS_DIR"]),
        db_url=db_url,
        numbers=itertools.count(),
    )
    engine.dispose()


def add_final_country(session: Session, world, t: dict, n: int) -> None:
    """Add a synthetic country with a final country-round holding the texts: the country's name and region, the
    round's name, each indicator's reason and two citations (each to its own source)."""
    letters = chr(65 + n // 26 % 26) + chr(65 + n % 26)
    session.add(Country(iso3="Q" + letters, iso2=letters, name=t["country"], region=t["region"], synthetic=True))
    taken = set(session.exec(select(Round.name)).all())
    name = t["round"] if clean_text(t["round"]) not in taken else f"{t['round'][:90]} #{n}"
    round_ = Round(name=name, reference_date=date(2026, 1, 1), codebook_version=world.codebook.version)
    session.add(round_)
    session.flush()
    country_round = CountryRound(round_id=round_.id, country_iso3="Q" + letters, compared_at=FIXED, finalized_at=FIXED)
    session.add(country_round)
    session.flush()
    slots = [
        Assignment(country_round_id=country_round.id, slot=s, coder_id=c.id, status="submitted", submitted_at=FIXED)
        for s, c in zip("AB", world.coders)
    ]
    session.add_all(slots)
    session.flush()
    for k, indicator in enumerate(world.codebook.indicators):
        answers = [
            Answer(assignment_id=s.id, indicator_id=indicator.id, value=v, codebook_version=world.codebook.version)
            for s, v in zip(slots, ("provided", "not_provided"))
        ]
        session.add_all(answers)
        decision = Decision(
            country_round_id=country_round.id,
            indicator_id=indicator.id,
            value="provided",
            outcome="reconciled",
            chosen="A",
            reason=t["reason"],
            decided_at=FIXED,
        )
        session.add(decision)
        session.flush()
        for j in range(2):
            m = (2 * k + j) % 6
            source = LegalSource(
                country_iso3="Q" + letters,
                instrument_type="statute",
                title=t["titles"][m],
                url=t["urls"][5 - m],
                language=t["language"],
                date_in_force=date(2020, 1, 1) if j else None,
            )
            session.add(source)
            session.flush()
            citation = Citation(
                answer_id=answers[0].id,
                source_id=source.id,
                pinpoint=t["pinpoints"][m],
                url=t["urls"][m] if j else "",
                excerpt=t["excerpts"][m],
                translation=t["translations"][m],
                position=j,
            )
            session.add(citation)
            session.flush()
            session.add(DecisionCitation(decision_id=decision.id, citation_id=citation.id))
    session.flush()
    stored = session.exec(select(Country.name, Country.region).where(Country.iso3 == "Q" + letters)).one()
    assert tuple(stored) == (clean_text(t["country"]), clean_text(t["region"]))  # the ORM's writes follow the rule too


def stored_release(session: Session) -> dict[str, dict]:
    """Read what the release must hold from the database itself: long rows, citation rows and countries, keyed."""
    countries = {c.iso3: c for c in session.exec(select(Country)).all()}
    rounds = {r.id: r for r in session.exec(select(Round)).all()}
    long, cited = {}, {}
    for decision in session.exec(select(Decision)).all():
        country_round = session.get(CountryRound, decision.country_round_id)
        key = (country_round.country_iso3, rounds[country_round.round_id].name, decision.indicator_id)
        rows = session.exec(
            select(Citation, LegalSource)
            .join(DecisionCitation, DecisionCitation.citation_id == Citation.id)
            .join(LegalSource, LegalSource.id == Citation.source_id)
            .where(DecisionCitation.decision_id == decision.id)
            .order_by(Citation.position, Citation.id)
        ).all()
        summary = " | ".join(s.title + (", " if s.title and c.pinpoint else "") + c.pinpoint for c, s in rows)
        long[key] = {"country": countries[key[0]].name, "reason": decision.reason, "citations": summary}
        for position, (c, s) in enumerate(rows, start=1):
            cited[(*key, position)] = {
                "instrument_type": s.instrument_type,
                "title": s.title,
                "pinpoint": c.pinpoint,
                "url": c.url or s.url,
                "date_in_force": s.date_in_force.isoformat() if s.date_in_force else "",
                "language": s.language,
                "excerpt": c.excerpt,
                "translation": c.translation,
            }
    places = {iso3: {"name": c.name, "region": c.region} for iso3, c in countries.items() if c.synthetic}
    return {"long": long, "citations": cited, "countries": places}


LONG_KEY, CITATION_KEY = ("iso3", "round", "indicator"), ("iso3", "round", "indicator", "position")


def keyed(records: list[dict], table: str, expected: dict[str, dict], shown=lambda v: v) -> dict:
    """Key records read from a file as `expected` is keyed, keeping the expected columns (None read as "")."""
    key = {"long": LONG_KEY, "citations": CITATION_KEY, "countries": ("iso3",)}[table]
    columns = next(iter(expected[table].values())).keys()
    found = {}
    for r in records:
        k = tuple(int(r[c]) if c == "position" else shown("" if r[c] is None else r[c]) for c in key)
        found[k if len(k) > 1 else k[0]] = {c: shown("" if r[c] is None else r[c]) for c in columns}
    return found


def expected_as(expected: dict[str, dict], table: str, shown) -> dict:
    """The expected rows of a table (keys too) as a format shows them."""
    return {
        (tuple(shown(v) for v in k) if isinstance(k, tuple) else shown(k)): {c: shown(v) for c, v in row.items()}
        for k, row in expected[table].items()
    }


def assert_same(found: dict, wanted: dict, what: str) -> None:
    """Assert two keyed tables hold the same rows (as sorted lists: two keys could show alike once U+FFFD stands for
    what XML cannot carry); on a difference, name the first row and field that differ."""
    got, want = sorted(found.items(), key=repr), sorted(wanted.items(), key=repr)
    if got == want:
        return
    for (key, row), (key_wanted, row_wanted) in zip(got, want):
        if key != key_wanted:
            raise AssertionError(f"{what}: row {key!r} where {key_wanted!r} was expected")
        for column in row_wanted:
            assert row[column] == row_wanted[column], f"{what}, row {key!r}, column {column}: {row[column]!r} != {row_wanted[column]!r}"
    raise AssertionError(f"{what}: {len(got)} rows, {len(want)} expected")


def read_files(folder: Path) -> tuple[dict[str, dict[str, list[dict]]], dict[str, tuple[dict, dict]]]:
    """Read every table of a release with readers independent of the writers: format -> table -> records, and
    each Stata file's storage widths and variable types."""
    import openpyxl
    import pyarrow.parquet as pq
    import pyreadstat

    tables: dict[str, dict[str, list[dict]]] = {"csv": {}, "xlsx": {}, "parquet": {}, "dta": {}}
    stata = {}
    for path in sorted((folder / "data").glob("*.csv")):
        with path.open(encoding="utf-8", newline="") as handle:
            tables["csv"][path.stem] = list(csv.DictReader(handle))
    workbook = openpyxl.load_workbook(folder / "data" / "release.xlsx", read_only=True)
    for sheet in workbook.worksheets:
        sheet.reset_dimensions()
        header, *rows = [list(r) for r in sheet.iter_rows(values_only=True)]
        tables["xlsx"][sheet.title] = [dict(zip(header, r + [None] * (len(header) - len(r)))) for r in rows]
    workbook.close()
    for path in sorted((folder / "data").glob("*.parquet")):
        tables["parquet"][path.stem] = pq.read_table(path).to_pylist()
    for path in sorted((folder / "data").glob("*.dta")):
        frame, meta = pyreadstat.read_dta(str(path))
        tables["dta"][path.stem] = frame.to_dict("records")
        stata[path.stem] = (meta.variable_storage_width, meta.readstat_variable_types)
    return tables, stata


def check_stata(records: list[dict], meta: tuple[dict, dict]) -> None:
    """Stata's documented rule (formats/stata.py): text as typed, in str# up to 2,000 UTF-8 bytes, strL past that."""
    widths, kinds = meta
    for column, kind in kinds.items():
        if kind != "string":
            continue
        longest = max((len(str(r[column]).encode()) for r in records), default=0)
        if longest > 2000:
            assert widths[column] == 0, (column, widths[column])  # strL (pyreadstat gives it no fixed width)
        else:
            assert longest < widths[column] <= 2001, (column, widths[column], longest)  # str#, never cut


def undo_formula(value: str) -> str:
    """Remove the apostrophe OWASP's rule puts before CSV text that a spreadsheet would run (documented in the release README)."""
    from rightsdb.publishing.formats.csv import UNDO_PATTERN

    return re.sub(UNDO_PATTERN, "", value)


def in_xml(value):
    return NOT_IN_XML.sub("\ufffd", value) if isinstance(value, str) else value


def check_files(folder: Path, expected: dict[str, dict], release) -> None:
    """Every table in every format gives the stored text back; the documents hold the release's title and notes."""
    import frictionless
    import yaml

    files, stata = read_files(folder)
    for table in ("long", "citations", "countries"):
        csv_rows = keyed(files["csv"][table], table, expected, undo_formula)
        assert_same(csv_rows, expected_as(expected, table, lambda v: v), f"{table}.csv")
        assert_same(keyed(files["xlsx"][table], table, expected), expected_as(expected, table, in_xml), f"release.xlsx, sheet {table}")
    for table in ("long", "citations"):
        assert_same(keyed(files["parquet"][table], table, expected), expected[table], f"{table}.parquet")
    assert_same(keyed(files["dta"]["long"], "long", expected), expected["long"], "long.dta")
    for name in ("long", "scores"):
        check_stata(files["dta"][name], stata[name])
    rounds = {k[1] for k in expected["long"]}
    for kind, tables in files.items():
        for table, records in tables.items():
            if records and "round" in records[0]:
                shown = {"csv": undo_formula, "xlsx": in_xml}.get(kind, lambda v: v)
                if table == "changes":  # also names the previous release's rounds (country_round_removed)
                    added = {shown(r["round"] or "") for r in records if r["change"] == "country_round_added"}
                    assert added <= {shown(r) for r in rounds}, (kind, table)
                    continue
                assert {shown(r["round"] or "") for r in records} == {shown(r) for r in rounds}, (kind, table)
    package = json.loads((folder / "datapackage.json").read_text(encoding="utf-8"))
    assert package["title"] == release.title
    report = frictionless.validate(str(folder / "datapackage.json"))
    assert report.valid, report.flatten(["rowNumber", "fieldName", "type", "note"])[:5]
    assert yaml.safe_load((folder / "CITATION.cff").read_text(encoding="utf-8"))["title"] == release.title
    readme = (folder / "README.md").read_text(encoding="utf-8")
    assert readme.startswith(f"# {release.title} (rightsdb release {release.version})") and release.notes in readme


def check_public_pages(world, iso3: str, expected: dict[str, dict]) -> None:
    """The public pages and the API that show the release answer 200; the API gives the stored excerpts back."""
    import openpyxl

    client = world.app.test_client()
    for url in (
        "/",
        f"/countries/{iso3}",
        f"/indicators/{IND}",
        f"/table?country={iso3}",
        "/downloads",
        "/chart/world.svg",
        "/chart/aggregates.svg",
        f"/chart/countries/{iso3}.svg",
        "/api/v1/countries",
    ):
        assert client.get(url).status_code == 200, url
    table = client.get("/table.xlsx?country=" + iso3)
    assert table.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(table.data), read_only=True).worksheets[0]
    sheet.reset_dimensions()
    header, *rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    shown = {(r[header.index("iso3")], in_xml(r[header.index("round")] or ""), r[header.index("indicator")]) for r in rows}
    assert shown == {tuple(in_xml(v) for v in k) for k in expected["long"] if k[0] == iso3}
    answers = client.get(f"/api/v1/answers?country={iso3}&per_page=100")
    assert answers.status_code == 200
    got = {(a["iso3"], a["round"], a["indicator"]): [c["excerpt"] for c in a["citations"]] for a in answers.get_json()["answers"]}
    want = {}
    for (country, round_name, indicator, _position), row in sorted(expected["citations"].items()):
        if country == iso3:
            want.setdefault((country, round_name, indicator), []).append(row["excerpt"])
    assert got == want


BUILT = {
    "country": "C",
    "region": "R",
    "round": "r",
    "reason": "x",
    "language": "en",
    "release_title": "T",
    "release_notes": "N",
    "titles": ["t"] * 6,
    "pinpoints": ["p"] * 6,
    "urls": [""] * 6,
    "excerpts": ["e"] * 6,
    "translations": [""] * 6,
}


@settings(max_examples=3, **SHARED_WORLD)
@given(texts=RELEASED_TEXTS)
@example(
    texts={
        **BUILT,
        "excerpts": ["\ufffe", "a\uffff", "x005F_y", "_x0041_", "=1+1", "é" * 1023],
        "round": "=r\ufffe",
        "titles": ["Act \ufffe"] * 6,
    }
)
@example(
    texts={
        **BUILT,
        "release_title": "Release \x85 \x9f \ufffe",
        "reason": "🙂" * 512,
        "country": "\u202eab$x^2$",
        "pinpoints": ["a" * 300] * 6,
        "titles": ["🙂" * 500] * 6,
    }
)
def test_a_release_of_any_text_reads_back_in_every_format_and_verifies(releasing, texts):
    from click.testing import CliRunner

    from rightsdb.ops.cli import main
    from rightsdb.publishing.publish import publish_release

    n = next(releasing.numbers)
    with Session(releasing.engine, expire_on_commit=False) as session:
        add_final_country(session, releasing, texts, n)
        session.commit()
        release = publish_release(
            session=session,
            codebook=releasing.codebook,
            exports_dir=releasing.exports,
            version=f"1.{n}.0",
            release_date=date(2026, 3, 1),
            synthetic=True,
            title=texts["release_title"],
            notes=texts["release_notes"],
        )
        session.commit()
        expected = stored_release(session)
        check_files(releasing.exports / release.version, expected, release)
    env = {
        "RIGHTSDB_DATABASE_URL": releasing.db_url,
        "RIGHTSDB_EXPORTS_DIR": str(releasing.exports),
        "RIGHTSDB_CODEBOOK_PATH": str(TINY_CODEBOOK),
    }
    verified = CliRunner().invoke(main, ["release", "verify", release.version], env=env)
    assert verified.exit_code == 0 and "verified" in verified.output, verified.output
    check_public_pages(releasing, "Q" + chr(65 + n // 26 % 26) + chr(65 + n % 26), expected)
