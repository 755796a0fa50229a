"""Synthetic demonstration data: fictional jurisdictions, demo accounts, codings in every state.

Everything here is SYNTHETIC DEMONSTRATION DATA. The jurisdictions are fictional, use ISO 3166
user-assigned codes (XA-XZ / XAA-XZZ, numeric 900-999) and are flagged `synthetic`; their "laws" and
excerpts are invented and say so. No finding about any real country's law is made here.

`load_demo` is idempotent: each step checks whether it was already done, so running `rightsdb demo`
again changes nothing.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

from sqlmodel import Session, func, select

from rightsdb.accounts.users import create_user
from rightsdb.codebook import Codebook
from rightsdb.codebook.rules import CONDITIONAL, NOT_APPLICABLE, NOT_PROVIDED, PROVIDED
from rightsdb.errors import DomainError
from rightsdb.models import Answer, Assignment, Citation, CountryRound, LegalSource, Round, User, utcnow
from rightsdb.ops.countries import add_synthetic_country, load_iso_countries

DEMO_PASSWORD = "demo-password-2026"
SYNTHETIC = "synthetic demonstration data"

# (email, role, name)
DEMO_USERS = [
    ("admin@demo.rightsdb.org", "admin", "Ada Admin"),
    ("supervisor@demo.rightsdb.org", "supervisor", "Sam Supervisor"),
    ("coder.ana@demo.rightsdb.org", "coder", "Ana Coder"),
    ("coder.ben@demo.rightsdb.org", "coder", "Ben Coder"),
    ("coder.chen@demo.rightsdb.org", "coder", "Chen Coder"),
    ("coder.dana@demo.rightsdb.org", "coder", "Dana Coder"),
]

# (iso3, iso2, numeric, name, region): fictional, ISO 3166 user-assigned codes.
DEMO_COUNTRIES = [
    ("XAA", "XA", "901", "Arvenia", "Europe"),
    ("XBB", "XB", "902", "Borovia", "Asia"),
    ("XCC", "XC", "903", "Caldera", "Africa"),
    ("XDD", "XD", "904", "Dunmark", "Europe"),
    ("XEE", "XE", "905", "Estrova", "Americas"),
    ("XFF", "XF", "906", "Fenwick Islands", "Oceania"),
]

# Invented instruments, each with an excerpt language, to show multilingual citations round-trip.
DEMO_SOURCES = [
    (
        "constitution",
        "Constitution of {name} (synthetic)",
        "de",
        "Artikel 3: Alle Menschen sind vor dem Gesetz gleich, unabhängig von ihrer Staatsangehörigkeit. [synthetisch]",
    ),
    (
        "statute",
        "Aliens Act of {name} (synthetic)",
        "ru",
        "Статья 12. Иностранные граждане пользуются правами наравне с гражданами. [синтетический текст]",
    ),
    (
        "regulation",
        "Residence Regulation of {name} (synthetic)",
        "tr",
        "Madde 5: Yabancılar, çalışma izni ile işçi sağlığı güvencesinden yararlanır. [sentetik]",
    ),
    (
        "case_law",
        "Supreme Court of {name}, judgment 14/2024 (synthetic)",
        "ar",
        "المادة ٧: لكل شخص الحق في اللجوء إلى القضاء دون تمييز بسبب الجنسية. [بيانات تجريبية]",
    ),
]

# The instrument each coder of a blind-phase assignment entered, private to the assignment (slot -> kind, title).
PRIVATE_SOURCES = {
    "A": ("statute", "Aliens Act Amendment 2025 of {name} (synthetic)"),
    "B": ("regulation", "Residence Order 3/2025 of {name} (synthetic)"),
}
PRIVATE_EXCERPT = "Section 4: the amendment extends the provision to holders of a residence permit. [synthetic]"

ROUNDS = [("2025", date(2025, 1, 1)), ("2026", date(2026, 1, 1))]

# The state each country-round is left in, so every role sees a realistic board.
PLAN = {
    ("2025", "XAA"): "final",
    ("2025", "XBB"): "final",
    ("2025", "XCC"): "final",
    ("2026", "XAA"): "not_started",
    ("2026", "XBB"): "coding",
    ("2026", "XCC"): "one_submitted",
    ("2026", "XDD"): "reconciliation",
    ("2026", "XEE"): "reconciliation_partly",
    ("2026", "XFF"): "final",
}


@dataclass
class DemoReport:
    created: list[str] = field(default_factory=list)
    logins: list[tuple[str, str, str]] = field(default_factory=list)

    def summary(self) -> str:
        if not self.created:
            return f"Demo data ({SYNTHETIC}) was already loaded; nothing changed."
        return f"Loaded {SYNTHETIC}: " + "; ".join(self.created) + "."


def _users(session: Session, report: DemoReport) -> dict[str, User]:
    users = {}
    for email, role, name in DEMO_USERS:
        user = session.exec(select(User).where(User.email == email)).first()
        if user is None:
            user = create_user(session=session, email=email, name=name, role=role, password=DEMO_PASSWORD)
            report.created.append(f"user {email}")
        users[email] = user
        report.logins.append((email, role, name))
    return users


def _sources(session: Session, iso3: str, name: str) -> list[LegalSource]:
    """Return the country's register, adding the demonstration instruments to it the first time."""
    register = (LegalSource.country_iso3 == iso3, LegalSource.assignment_id.is_(None), LegalSource.replaced_by_id.is_(None))  # type: ignore[union-attr]
    existing = session.exec(select(LegalSource).where(*register).order_by(LegalSource.id)).all()
    if existing:
        return list(existing)
    sources = []
    for kind, title, language, _excerpt in DEMO_SOURCES:
        source = LegalSource(
            country_iso3=iso3,
            instrument_type=kind,
            title=title.format(name=name),
            url=f"https://example.org/synthetic/{iso3.lower()}/{kind}",
            date_in_force=date(2020, 1, 1),
            language=language,
        )
        session.add(source)
        sources.append(source)
    session.flush()
    return sources


def _enter_private_source(session: Session, assignment: Assignment, iso3: str, name: str) -> None:
    """Add the coder's own instrument, private to the blind-phase assignment (`_sources` fills the register), and cite it once."""
    kind, title = PRIVATE_SOURCES[assignment.slot]
    url = f"https://example.org/synthetic/{iso3.lower()}/{kind}-2025-{assignment.slot.lower()}"
    source = LegalSource(country_iso3=iso3, instrument_type=kind, title=title.format(name=name), url=url, date_in_force=date(2025, 7, 1))
    source.language, source.created_by_id, source.assignment_id = "en", assignment.coder_id, assignment.id
    session.add(source)
    answer = next((x for x in sorted(assignment.answers, key=lambda x: x.id) if x.value != NOT_APPLICABLE), None)
    if answer is not None:  # a small codebook may leave the assignment without an answer to cite it in
        session.add(Citation(answer_id=answer.id, source=source, pinpoint="§ 4", url=f"{url}#s4", excerpt=PRIVATE_EXCERPT, position=1))
    session.flush()


def _coding(codebook: Codebook, seed: str) -> dict[str, tuple[str, list[str], str]]:
    """Return a deterministic synthetic coding: indicator id -> (value, groups, notes)."""
    rng = random.Random(seed)
    groups = [g.code for g in codebook.migrant_groups]
    coding = {}
    for indicator in codebook.indicators:
        roll = rng.random()
        if roll < 0.55:
            coding[indicator.id] = (PROVIDED, [], "")
        elif roll < 0.75:
            coding[indicator.id] = (CONDITIONAL, sorted(rng.sample(groups[:4], 2)), "Limited to the groups named (synthetic).")
        elif roll < 0.97:
            coding[indicator.id] = (
                NOT_PROVIDED,
                [],
                "Searched the constitution, the Aliens Act and case law; no provision found (synthetic).",
            )
        else:
            coding[indicator.id] = (NOT_APPLICABLE, [], "The procedure does not exist in this fictional legal system (synthetic).")
    return coding


def _disagree(codebook: Codebook, base: dict, seed: str, share: float) -> dict:
    """Return a second coder's coding that differs from `base` on about `share` of the indicators."""
    rng = random.Random(seed)
    other = dict(base)
    for indicator in codebook.indicators:
        if rng.random() < share:
            value, groups, _notes = base[indicator.id]
            if value == PROVIDED:
                other[indicator.id] = (CONDITIONAL, ["permanent_residents"], "Only for permanent residents (synthetic).")
            else:
                other[indicator.id] = (PROVIDED, [], "")
    return other


def _write_answers(
    session: Session,
    codebook: Codebook,
    assignment: Assignment,
    coding: dict,
    sources: list[LegalSource],
    coder: User,
    *,
    limit: int | None = None,
) -> None:
    """Store a coder's answers with citations; `limit` leaves the rest unanswered (work in progress)."""
    answers = []
    for index, indicator in enumerate(codebook.indicators):
        if limit is not None and index >= limit:
            break
        value, groups, notes = coding[indicator.id]
        answers.append(
            Answer(
                assignment_id=assignment.id,
                indicator_id=indicator.id,
                value=value,
                groups=groups,
                notes=notes,
                codebook_version=codebook.version,
                updated_by_id=coder.id,
            )
        )
    session.add_all(answers)
    session.flush()
    for index, answer in enumerate(answers):
        if answer.value == NOT_APPLICABLE:
            continue
        kind, _title, _language, excerpt = DEMO_SOURCES[index % len(DEMO_SOURCES)]
        source = sources[index % len(sources)]
        session.add(
            Citation(
                answer_id=answer.id,
                source_id=source.id,
                pinpoint=f"Art. {index + 1}",
                url=f"{source.url}#art{index + 1}",
                excerpt=excerpt,
                translation="Synthetic excerpt written for the demonstration; not a real law.",
                position=0,
            )
        )
    session.flush()


def _country_round(
    session: Session, round_: Round, iso3: str, coders: tuple[User, User]
) -> tuple[CountryRound, Assignment, Assignment, bool]:
    country_round = session.exec(select(CountryRound).where(CountryRound.round_id == round_.id, CountryRound.country_iso3 == iso3)).first()
    if country_round is not None:
        a, b = sorted(country_round.assignments, key=lambda x: x.slot)
        return country_round, a, b, False
    country_round = CountryRound(round_id=round_.id, country_iso3=iso3)
    session.add(country_round)
    session.flush()
    a = Assignment(country_round_id=country_round.id, slot="A", coder_id=coders[0].id)
    b = Assignment(country_round_id=country_round.id, slot="B", coder_id=coders[1].id)
    session.add_all([a, b])
    session.flush()
    return country_round, a, b, True


def refuse_unsafe_target(*, session: Session, env: str, force: bool) -> None:
    """Refuse to load the demo where its published passwords would open real work.

    The demo accounts' password is in the README, so the demo loads only in development (or when
    forced, for a throw-away server), and never into a database that holds any other account.
    """
    demo_emails = [email for email, _role, _name in DEMO_USERS]
    others = session.exec(select(func.count()).select_from(User).where(User.email.not_in(demo_emails))).one()  # type: ignore[attr-defined]
    if others:
        raise DomainError(
            f"This database has {others} user(s) who are not demo accounts: the synthetic demonstration data, "
            "whose logins are published, is never loaded beside real work (not even with --force)."
        )
    if env != "development" and not force:
        raise DomainError(
            f"RIGHTSDB_ENV is {env!r}: the demo loads only with RIGHTSDB_ENV=development, because its passwords are "
            "published. Use --force for a throw-away database."
        )


def load_demo(
    *, session: Session, codebook: Codebook, app_config: dict | None = None, progress: Callable[[str], None] = lambda _m: None
) -> DemoReport:
    """Load the synthetic demonstration data; safe to run again (idempotent)."""
    report = DemoReport()
    progress("[1/5] ISO country list")
    load_iso_countries(session=session)
    progress("[2/5] demo accounts and fictional jurisdictions")
    users = _users(session, report)
    coders = [u for u in users.values() if u.role == "coder"]
    supervisor = users["supervisor@demo.rightsdb.org"]
    names = {}
    for iso3, iso2, numeric, name, region in DEMO_COUNTRIES:
        add_synthetic_country(session=session, iso3=iso3, iso2=iso2, numeric=numeric, name=name, region=region)
        names[iso3] = name
    session.flush()
    progress("[3/5] coding rounds and coders' answers")
    rounds = {}
    for round_name, reference in ROUNDS:
        round_ = session.exec(select(Round).where(Round.name == round_name)).first()
        if round_ is None:
            round_ = Round(
                name=round_name,
                reference_date=reference,
                codebook_version=codebook.version,
                notes=f"Demonstration round ({SYNTHETIC}).",
                created_by_id=supervisor.id,
            )
            session.add(round_)
            session.flush()
            report.created.append(f"round {round_name}")
        rounds[round_name] = round_
    to_settle = []
    for position, ((round_name, iso3), state) in enumerate(sorted(PLAN.items())):
        pair = (coders[position % len(coders)], coders[(position + 1) % len(coders)])
        country_round, a, b, created = _country_round(session, rounds[round_name], iso3, pair)
        if not created:
            continue
        report.created.append(f"{iso3} {round_name} ({state.replace('_', ' ')})")
        if state == "not_started":
            continue
        sources = _sources(session, iso3, names[iso3])
        coding_a = _coding(codebook, f"{round_name}-{iso3}")
        coding_b = _disagree(codebook, coding_a, f"{round_name}-{iso3}-b", 0.08)
        if state == "coding":
            _write_answers(session, codebook, a, coding_a, sources, a.coder, limit=len(codebook.indicators) // 2)
            _enter_private_source(session, a, iso3, names[iso3])  # blind phase: the coder's own instrument
            continue
        _write_answers(session, codebook, a, coding_a, sources, a.coder)
        a.status, a.submitted_at = "submitted", utcnow()
        if state == "one_submitted":
            _write_answers(session, codebook, b, coding_b, sources, b.coder, limit=len(codebook.indicators) - 5)
            for blind in (a, b):  # still blind: each coder's own instrument stays private to their assignment
                _enter_private_source(session, blind, iso3, names[iso3])
            continue
        _write_answers(session, codebook, b, coding_b, sources, b.coder)
        b.status, b.submitted_at = "submitted", utcnow()
        session.add_all([a, b])
        session.flush()
        to_settle.append((country_round, state, coding_a))
    progress("[4/5] comparison and reconciliation")
    _settle(session=session, codebook=codebook, supervisor=supervisor, to_settle=to_settle)
    progress("[5/5] demonstration release")
    _release(session=session, codebook=codebook, supervisor=supervisor, app_config=app_config or {}, report=report)
    return report


DEMO_RELEASE_VERSION = "0.1.0-demo"


def _settle(*, session: Session, codebook: Codebook, supervisor: User, to_settle: list) -> None:
    """Compare both codings, then reconcile all (final) or some (in reconciliation) disagreements."""
    from rightsdb.review.reconciliation import compare_country_round, disagreement_queue, resolve, review_indicator

    for country_round, state, _coding in to_settle:
        compare_country_round(session=session, codebook=codebook, country_round=country_round)
        if state == "reconciliation":
            continue
        queue = disagreement_queue(session=session, codebook=codebook, country_round=country_round)
        if state == "reconciliation_partly":
            queue = queue[: len(queue) // 2]
        for position, indicator_id in enumerate(queue):
            review = review_indicator(session=session, codebook=codebook, country_round=country_round, indicator_id=indicator_id)
            slot = "A" if position % 2 == 0 else "B"
            citation_ids = [c.id for s, c in review.citations() if s == slot]
            resolve(
                session=session,
                codebook=codebook,
                country_round_id=country_round.id,
                indicator_id=indicator_id,
                choice=slot,
                citation_ids=citation_ids,
                actor_id=supervisor.id,
                reason=f"Coder {slot}'s reading of the cited provision is the better one (synthetic demonstration reason).",
            )


def _release(*, session: Session, codebook: Codebook, supervisor: User, app_config: dict, report: DemoReport) -> None:
    """Publish the demonstration release once, from the final synthetic country-rounds."""
    from rightsdb.models import Release
    from rightsdb.publishing.publish import discard_release_files, publish_release

    if session.exec(select(Release).where(Release.version == DEMO_RELEASE_VERSION)).first() is not None:
        return
    exports_dir = app_config.get("EXPORTS_DIR", "exports")
    # Files left by an earlier demo database that was deleted: they are ours to replace.
    discard_release_files(exports_dir=exports_dir, version=DEMO_RELEASE_VERSION)
    session.flush()
    publish_release(
        session=session,
        codebook=codebook,
        exports_dir=exports_dir,
        version=DEMO_RELEASE_VERSION,
        title="Demonstration release (synthetic demonstration data)",
        notes="Synthetic demonstration data: fictional jurisdictions with ISO 3166 user-assigned codes. "
        "Not a finding about any real country's law.",
        release_date=date(2026, 1, 31),
        synthetic=True,
        user_id=supervisor.id,
    )
    report.created.append(f"release {DEMO_RELEASE_VERSION}")
