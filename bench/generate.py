"""Fill a database with world-scale SYNTHETIC DEMONSTRATION DATA for benchmarks.

    python bench/generate.py --database-url URL [--countries 200 --rounds 4 --citations 1-3 --seed 1]

Every jurisdiction is fictional ("Synthetic Country XAB"), flagged synthetic, with an ISO 3166
user-assigned alpha-3 code (XAA-XZZ, then QMA-QZZ, never XKX). ISO 3166 has only 41 usable user-assigned
alpha-2 codes but `countries.iso2` is unique, so past those the alpha-2 code contains a digit: ISO
never assigns such codes, so they cannot collide with a real country either.

Rows are written with Core bulk inserts in chunks and explicit ids (PostgreSQL sequences are moved
past them afterwards), so the world scale takes seconds, not minutes. Only `rightsdb.models` is used,
never the domain functions, so the generator does not depend on code still being written.
"""

from __future__ import annotations

import argparse
import random
import secrets
import string
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from rightsdb.codebook import Codebook, load_codebook  # noqa: E402
from rightsdb.codebook.rules import ANSWER_CODES  # noqa: E402
from rightsdb.models import Answer, Assignment, Citation, Country, CountryRound, Decision, DecisionCitation, LegalSource, Round, User  # noqa: E402

CHUNK = 5000
DISAGREEMENT = 0.08
REGIONS = ("Africa", "Americas", "Asia", "Europe", "Oceania")
SYNTHETIC = "[synthetic demonstration data]"
# Share of each answer code in slot A's answers (codes come from the codebook's closed scale).
VALUE_WEIGHTS = dict(zip(ANSWER_CODES, (0.45, 0.2, 0.3, 0.05)))
ID_TABLES = (User, Round, CountryRound, Assignment, Answer, LegalSource, Citation, Decision)

# Invented excerpts in several scripts, so the benchmark carries right-to-left and Cyrillic text too.
EXCERPTS = {
    "en": "Article {n}. Every person present on the territory, whatever their nationality or residence status, "
    "enjoys the protection set out in this Part on the same terms as citizens. ",
    "ar": "المادة {n}: يتمتع كل شخص موجود في الإقليم، أياً كانت جنسيته أو وضع إقامته، بالحماية المنصوص عليها "
    "في هذا الباب على قدم المساواة مع المواطنين. ",
    "ru": "Статья {n}. Каждый, кто находится на территории, независимо от гражданства или статуса пребывания, "
    "пользуется защитой, предусмотренной настоящей главой, наравне с гражданами. ",
    "fr": "Article {n}. Toute personne présente sur le territoire, quelle que soit sa nationalité ou son statut "
    "de séjour, bénéficie de la protection prévue au présent titre. ",
    "es": "Artículo {n}. Toda persona presente en el territorio, cualquiera que sea su nacionalidad o situación "
    "migratoria, goza de la protección prevista en este título. ",
}
SOURCE_KINDS = (
    ("constitution", "Constitution", "en"),
    ("statute", "Aliens and Residence Act", "ar"),
    ("regulation", "Labour Migration Regulation", "ru"),
    ("case_law", "Supreme Court judgment 14/2024", "fr"),
    ("statute", "Asylum and Protection Act", "es"),
)


def writer_now() -> datetime:
    """Return the current time in UTC."""
    return datetime.now(UTC)


def synthetic_codes() -> list[tuple[str, str]]:
    """Return every usable (iso3, iso2) pair: user-assigned alpha-3 codes in a fixed order."""
    letters = string.ascii_uppercase
    iso3s = [f"X{a}{b}" for a in letters for b in letters if f"X{a}{b}" != "XKX"]
    iso3s += [f"Q{a}{b}" for a in letters[letters.index("M") :] for b in letters]
    alpha2 = [f"X{a}" for a in letters if a != "K"] + [f"Q{a}" for a in letters[letters.index("M") :]] + ["AA", "ZZ"]
    alnum = string.ascii_uppercase + string.digits
    alpha2 += [a + b for a in alnum for b in alnum if not (a.isalpha() and b.isalpha())]
    return list(zip(iso3s, alpha2))


def parse_range(text: str) -> tuple[int, int]:
    """Parse "1-3" (or "2") into an inclusive (low, high) pair."""
    low, _, high = text.partition("-")
    low_n, high_n = int(low), int(high or low)
    if not 0 <= low_n <= high_n:
        raise argparse.ArgumentTypeError(f"{text!r} is not a range such as 1-3")
    return low_n, high_n


@dataclass
class Counts:
    """How many rows of each table were written."""

    rows: dict[str, int] = field(default_factory=dict)

    def add(self, table: str, n: int) -> None:
        """Count `n` more rows written to `table`."""
        self.rows[table] = self.rows.get(table, 0) + n


class _Writer:
    """Buffer rows per table and insert them in chunks, handing out ids as it goes."""

    def __init__(self, connection: sa.Connection, counts: Counts) -> None:
        self.connection = connection
        self.counts = counts
        self.buffers: dict[sa.Table, list[dict]] = {}
        self.next_ids: dict[str, int] = {}
        for model in ID_TABLES:
            table = model.__table__
            top = connection.execute(sa.select(sa.func.max(table.c.id))).scalar()
            self.next_ids[table.name] = (top or 0) + 1
        # Parents before children, so foreign keys hold at every flush.
        self.order = [
            m.__table__ for m in (User, Country, Round, LegalSource, CountryRound, Assignment, Answer, Citation, Decision, DecisionCitation)
        ]

    def new_id(self, model) -> int:
        """Hand out the next id of a table (ids are explicit so children can point at parents at once)."""
        name = model.__table__.name
        ident = self.next_ids[name]
        self.next_ids[name] = ident + 1
        return ident

    def add(self, model, row: dict) -> None:
        """Queue a row; write every queue once one is full."""
        table = model.__table__
        buffer = self.buffers.setdefault(table, [])
        buffer.append(row)
        if len(buffer) >= CHUNK:
            self.flush()

    def flush(self) -> None:
        """Insert every queued row, parents first."""
        for table in self.order:
            rows = self.buffers.pop(table, None)
            if rows:
                self.connection.execute(sa.insert(table), rows)
                self.counts.add(table.name, len(rows))

    def fix_sequences(self) -> None:
        """Move PostgreSQL's id sequences past the explicit ids, so later inserts do not collide."""
        if self.connection.dialect.name != "postgresql":
            return
        for model in ID_TABLES:
            name = model.__table__.name
            self.connection.exec_driver_sql(
                f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), (SELECT COALESCE(MAX(id), 1) FROM {name}))"
            )


@dataclass
class World:
    """What `populate` created (ids the benchmark and the tests need)."""

    counts: Counts
    countries: list[str]
    rounds: list[int]
    coder_ids: list[int]
    supervisor_ids: list[int]
    admin_id: int


class _Coder:
    """Draw one country-round's rows: two codings, citations, and (when final) decisions."""

    def __init__(self, writer: _Writer, codebook: Codebook, rng: random.Random, citations: tuple[int, int]) -> None:
        self.writer = writer
        self.codebook = codebook
        self.rng = rng
        self.citations = citations
        self.groups = [g.code for g in codebook.migrant_groups]
        self.now = datetime.now(UTC)

    def _value(self) -> tuple[str, list[str]]:
        """Draw slot A's answer and, when conditional, its migrant groups."""
        value = self.rng.choices(list(VALUE_WEIGHTS), weights=list(VALUE_WEIGHTS.values()))[0]
        groups = sorted(self.rng.sample(self.groups, self.rng.randint(1, 2))) if value == "conditional" else []
        return value, groups

    def _disagree(self, value: str, groups: list[str]) -> tuple[str, list[str]]:
        """Draw slot B's answer when it differs from A's: always another value, so the two never agree."""
        other = self.rng.choice([c for c in ANSWER_CODES if c != value])
        return other, (sorted(self.rng.sample(self.groups, 1)) if other == "conditional" else [])

    def _answer(
        self, assignment_id: int, coder_id: int, indicator_id: str, value: str, groups: list[str], sources: list[tuple[int, str]]
    ) -> tuple[int, list[int]]:
        """Write one answer with its citations; return the answer id and the citation ids."""
        answer_id = self.writer.new_id(Answer)
        self.writer.add(
            Answer,
            {
                "id": answer_id,
                "assignment_id": assignment_id,
                "indicator_id": indicator_id,
                "value": value,
                "groups": groups,
                "notes": "Not applicable: no such procedure exists. " + SYNTHETIC if value == "not_applicable" else "",
                "codebook_version": self.codebook.version,
                "carried_forward": False,
                "version": 1,
                "updated_at": self.now,
                "updated_by_id": coder_id,
            },
        )
        citation_ids = []
        if value != "not_applicable":
            for position in range(self.rng.randint(*self.citations)):
                source_id, language = self.rng.choice(sources)
                n = self.rng.randint(1, 120)
                citation_id = self.writer.new_id(Citation)
                self.writer.add(
                    Citation,
                    {
                        "id": citation_id,
                        "answer_id": answer_id,
                        "source_id": source_id,
                        "pinpoint": f"Art. {n}",
                        "url": "",
                        "excerpt": (EXCERPTS[language].format(n=n) + SYNTHETIC)[:220],
                        "translation": "" if language == "en" else EXCERPTS["en"].format(n=n).strip(),
                        "position": position,
                        "created_at": self.now,
                    },
                )
                citation_ids.append(citation_id)
        return answer_id, citation_ids

    def country_round(
        self, *, round_id: int, iso3: str, coders: tuple[int, int], sources: list[tuple[int, str]], state: str, supervisor_id: int
    ) -> dict:
        """Write a country-round in `state`: "coding", "reconciliation" (compared, some left) or "final"."""
        cr_id = self.writer.new_id(CountryRound)
        compared = self.now if state in ("reconciliation", "final") else None
        self.writer.add(
            CountryRound,
            {
                "id": cr_id,
                "round_id": round_id,
                "country_iso3": iso3,
                "compared_at": compared,
                "finalized_at": self.now if state == "final" else None,
            },
        )
        submitted = state != "coding"
        slots = {}
        for slot, coder_id in zip("AB", coders):
            slots[slot] = self.writer.new_id(Assignment)
            self.writer.add(
                Assignment,
                {
                    "id": slots[slot],
                    "country_round_id": cr_id,
                    "slot": slot,
                    "coder_id": coder_id,
                    "status": "submitted" if submitted else "in_progress",
                    "submitted_at": self.now if submitted else None,
                    "message": "",
                    "created_at": self.now,
                },
            )
        disagreements = []
        for n, indicator_id in enumerate(self.codebook.indicator_ids):
            value, groups = self._value()
            # In the reconciliation state the first indicator always disagrees, so the queue is never empty.
            differs = self.rng.random() < DISAGREEMENT or (state == "reconciliation" and n == 0)
            b_value, b_groups = self._disagree(value, groups) if differs else (value, groups)
            _a, a_cites = self._answer(slots["A"], coders[0], indicator_id, value, groups, sources)
            _b, b_cites = self._answer(slots["B"], coders[1], indicator_id, b_value, b_groups, sources)
            if state == "coding":
                continue
            if differs:
                disagreements.append(indicator_id)
                if state == "reconciliation":
                    continue
                chosen = self.rng.choice("AB")
                final_value, final_groups, cites = (value, groups, a_cites) if chosen == "A" else (b_value, b_groups, b_cites)
                row = {
                    "value": final_value,
                    "groups": final_groups,
                    "outcome": "reconciled",
                    "chosen": chosen,
                    "reason": f"Coder {chosen} cited the provision in force on the reference date. {SYNTHETIC}",
                    "decided_by_id": supervisor_id,
                }
            else:
                cites = a_cites + b_cites
                row = {"value": value, "groups": groups, "outcome": "agreed", "chosen": None, "reason": "", "decided_by_id": None}
            decision_id = self.writer.new_id(Decision)
            self.writer.add(
                Decision,
                {
                    "id": decision_id,
                    "country_round_id": cr_id,
                    "indicator_id": indicator_id,
                    **row,
                    "decided_at": self.now,
                    "corrected": False,
                    "version": 1,
                },
            )
            for citation_id in cites:
                self.writer.add(DecisionCitation, {"decision_id": decision_id, "citation_id": citation_id})
        return {"country_round_id": cr_id, "assignments": slots, "coders": coders, "disagreements": disagreements}


def _users(writer: _Writer, connection: sa.Connection, coders: int) -> tuple[int, list[int], list[int]]:
    """Reuse the users already there (appending) or create 1 admin, 2 supervisors and the coders."""
    existing = connection.execute(sa.select(User.__table__.c.id, User.__table__.c.role).order_by(User.__table__.c.id)).all()
    if existing:
        by_role = {role: [i for i, r in existing if r == role] for role in ("admin", "supervisor", "coder")}
        if by_role["admin"] and by_role["supervisor"] and len(by_role["coder"]) >= 2:
            return by_role["admin"][0], by_role["supervisor"], by_role["coder"]
    from werkzeug.security import generate_password_hash

    password_hash = generate_password_hash(secrets.token_urlsafe(24))  # nobody can sign in with it
    ids: dict[str, list[int]] = {"admin": [], "supervisor": [], "coder": []}
    plan = [("admin", 1), ("supervisor", 2), ("coder", coders)]
    for role, n in plan:
        for _ in range(n):
            ident = writer.new_id(User)
            ids[role].append(ident)
            writer.add(
                User,
                {
                    "id": ident,
                    "email": f"{role}{ident}@bench.synthetic.example",
                    "name": f"Synthetic {role.title()} {ident}",
                    "role": role,
                    "password_hash": password_hash,
                    "active": True,
                    "session_nonce": secrets.token_hex(16),
                    "created_at": writer_now(),
                },
            )
    return ids["admin"][0], ids["supervisor"], ids["coder"]


def _new_rounds(connection: sa.Connection, writer: _Writer, codebook: Codebook, n: int, admin_id: int, *, prefix: str = "") -> list[int]:
    """Add `n` rounds named by year, going back from 2026 past any round already there (oldest first)."""
    table = Round.__table__
    names = set(connection.execute(sa.select(table.c.name)).scalars())
    years = [y for y in range(2026, 1900, -1) if f"{prefix}{y}" not in names][:n]
    ids = []
    for year in sorted(years):
        ident = writer.new_id(Round)
        writer.add(
            Round,
            {
                "id": ident,
                "name": f"{prefix}{year}",
                "reference_date": date(year, 1, 1),
                "codebook_version": codebook.version,
                "notes": f"Benchmark round {SYNTHETIC}",
                "created_at": writer_now(),
                "created_by_id": admin_id,
            },
        )
        ids.append(ident)
    return ids


def _new_countries(connection: sa.Connection, writer: _Writer, n: int) -> list[str]:
    """Add `n` synthetic countries with the next unused user-assigned codes."""
    table = Country.__table__
    taken = set(connection.execute(sa.select(table.c.iso3)).scalars()) | set(connection.execute(sa.select(table.c.iso2)).scalars())
    free = [(iso3, iso2) for iso3, iso2 in synthetic_codes() if iso3 not in taken and iso2 not in taken]
    if len(free) < n:
        raise ValueError(f"only {len(free)} synthetic codes are left; asked for {n} countries")
    chosen = free[:n]
    for k, (iso3, iso2) in enumerate(chosen):
        writer.add(
            Country,
            {
                "iso3": iso3,
                "iso2": iso2,
                "numeric": None,
                "name": f"Synthetic Country {iso3}",
                "region": REGIONS[k % len(REGIONS)],
                "synthetic": True,
            },
        )
    return [iso3 for iso3, _ in chosen]


def _sources(writer: _Writer, iso3: str, admin_id: int) -> list[tuple[int, str]]:
    """Add the ~5 legal instruments of a country; return (id, language) pairs."""
    out = []
    for k, (kind, title, language) in enumerate(SOURCE_KINDS):
        ident = writer.new_id(LegalSource)
        writer.add(
            LegalSource,
            {
                "id": ident,
                "country_iso3": iso3,
                "instrument_type": kind,
                "title": f"{title} of Synthetic Country {iso3} (synthetic)",
                "url": f"https://law.synthetic.example/{iso3.lower()}/{k + 1}",
                "date_in_force": date(2000 + k, 1, 1),
                "language": language,
                "created_at": writer_now(),
                "created_by_id": admin_id,
            },
        )
        out.append((ident, language))
    return out


def _sources_of(connection: sa.Connection, iso3: str) -> list[tuple[int, str]]:
    """Return the (id, language) pairs of a country's legal sources already in the database."""
    table = LegalSource.__table__
    return [
        (i, lang)
        for i, lang in connection.execute(
            sa.select(table.c.id, table.c.language).where(table.c.country_iso3 == iso3).order_by(table.c.id)
        ).all()
    ]


def populate(
    engine: sa.Engine,
    codebook: Codebook,
    *,
    countries: int = 200,
    rounds: int = 4,
    citations: tuple[int, int] = (1, 3),
    coders: int = 40,
    seed: int = 1,
    progress: Callable[[str], None] = lambda _line: None,
) -> World:
    """Add `countries` new synthetic countries, each coded and final in `rounds` new rounds.

    The tables must exist. Adding to a database that already has data is allowed (new countries and
    rounds take unused codes and names; existing users are reused), which lets tests compare two sizes.
    """
    rng = random.Random(seed)
    counts = Counts()
    with engine.begin() as connection:
        writer = _Writer(connection, counts)
        admin_id, supervisor_ids, coder_ids = _users(writer, connection, coders)
        round_ids = _new_rounds(connection, writer, codebook, rounds, admin_id)
        isos = _new_countries(connection, writer, countries)
        progress(f"users, {len(round_ids)} rounds and {len(isos)} countries queued")
        coder = _Coder(writer, codebook, rng, citations)
        started = time.perf_counter()
        for n, iso3 in enumerate(isos, 1):
            sources = _sources(writer, iso3, admin_id)
            for round_id in round_ids:
                pair = tuple(rng.sample(coder_ids, 2))
                coder.country_round(
                    round_id=round_id, iso3=iso3, coders=pair, sources=sources, state="final", supervisor_id=rng.choice(supervisor_ids)
                )
            if n % 20 == 0 or n == len(isos):
                progress(f"  {n}/{len(isos)} countries coded ({time.perf_counter() - started:.1f} s)")
        writer.flush()
        writer.fix_sequences()
    return World(counts=counts, countries=isos, rounds=round_ids, coder_ids=coder_ids, supervisor_ids=supervisor_ids, admin_id=admin_id)


def open_round(
    engine: sa.Engine,
    codebook: Codebook,
    *,
    coding: list[str] = (),
    reconciliation: list[str] = (),
    citations: tuple[int, int] = (1, 3),
    seed: int = 2,
    name_prefix: str = "open-",
) -> dict[str, dict]:
    """Add a newer round in which some existing countries are being coded and others reconciled.

    Coding country-rounds have two fully answered, unsubmitted assignments; reconciliation ones are
    compared, with agreed decisions written and the disagreements (at least one) left to decide.
    Returns {iso3: {"country_round_id", "assignments": {slot: id}, "coders": (a, b), "disagreements"}}.
    """
    rng = random.Random(seed)
    counts = Counts()
    with engine.begin() as connection:
        writer = _Writer(connection, counts)
        admin_id, supervisor_ids, coder_ids = _users(writer, connection, 2)
        table = Round.__table__
        latest = connection.execute(sa.select(sa.func.max(table.c.reference_date))).scalar() or date(2026, 1, 1)
        ident = writer.new_id(Round)
        writer.add(
            Round,
            {
                "id": ident,
                "name": f"{name_prefix}{ident}",
                "reference_date": latest + timedelta(days=365),
                "codebook_version": codebook.version,
                "notes": f"Benchmark open round {SYNTHETIC}",
                "created_at": writer_now(),
                "created_by_id": admin_id,
            },
        )
        coder = _Coder(writer, codebook, rng, citations)
        made = {}
        for state, isos in (("coding", coding), ("reconciliation", reconciliation)):
            for iso3 in isos:
                sources = _sources_of(connection, iso3) or _sources(writer, iso3, admin_id)
                pair = tuple(rng.sample(coder_ids, 2))
                made[iso3] = coder.country_round(
                    round_id=ident, iso3=iso3, coders=pair, sources=sources, state=state, supervisor_id=supervisor_ids[0]
                )
        writer.flush()
        writer.fix_sequences()
    return made


def analyze(engine: sa.Engine) -> None:
    """Refresh the planner's statistics after a bulk load, as autovacuum (or a DBA) would on a live server.

    Without them PostgreSQL planned the coder form's citation query as a parallel scan of all
    ~200,000 citations (50 ms instead of 1 ms); a server with autovacuum off never gets them.
    """
    with engine.begin() as connection:
        connection.exec_driver_sql("ANALYZE")


def generate(
    database_url: str,
    *,
    countries: int,
    rounds: int,
    citations: tuple[int, int],
    seed: int,
    coders: int = 40,
    codebook: Codebook | None = None,
    progress: Callable[[str], None] = print,
) -> World:
    """Create the schema with Alembic on an empty database and fill it at the requested scale."""
    from rightsdb.config import Settings
    from rightsdb.db import make_engine
    from rightsdb.ops.migrate import upgrade

    codebook = codebook or load_codebook(Settings().CODEBOOK_PATH)
    engine = make_engine(database_url)
    try:
        inspector = sa.inspect(engine)
        if inspector.has_table("countries"):
            with engine.connect() as connection:
                if connection.execute(sa.select(sa.func.count()).select_from(Country.__table__)).scalar():
                    raise SystemExit(f"{database_url} already holds countries: the generator fills an EMPTY database")
        started = time.perf_counter()
        upgrade(database_url)
        progress(f"schema ready (Alembic) in {time.perf_counter() - started:.1f} s")
        world = populate(
            engine, codebook, countries=countries, rounds=rounds, citations=citations, coders=coders, seed=seed, progress=progress
        )
        analyze(engine)
        progress(
            f"generated in {time.perf_counter() - started:.1f} s: " + ", ".join(f"{k} {v}" for k, v in sorted(world.counts.rows.items()))
        )
        return world
    finally:
        engine.dispose()


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and generate."""
    parser = argparse.ArgumentParser(description="Fill an empty database with world-scale synthetic demonstration data.")
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--countries", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--citations", type=parse_range, default=(1, 3), help="citations per answer, e.g. 1-3")
    parser.add_argument("--coders", type=int, default=40)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    generate(args.database_url, countries=args.countries, rounds=args.rounds, citations=args.citations, seed=args.seed, coders=args.coders)
    return 0


if __name__ == "__main__":
    sys.exit(main())
