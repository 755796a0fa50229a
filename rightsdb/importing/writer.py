"""Write a checked import: answers into a coder's assignment, or final values for new country-rounds.

Called by `rightsdb.importing.importer.import_codings` only after every line of the file passed validation. It
adds and flushes, never commits: the command commits once, so a crash leaves nothing behind.
"""

from __future__ import annotations

from collections.abc import Iterator

from sqlmodel import Session, select

from rightsdb.accounts.audit import record_added, record_added_all, record_changed, record_row_event
from rightsdb.codebook import Codebook
from rightsdb.importing.rows import AnswerRow, Progress
from rightsdb.models import Answer, Assignment, Citation, CountryRound, Decision, DecisionCitation, LegalSource, Round, User, utcnow

IMPORT_SLOT = "A"  # the slot an imported final coding occupies (see rightsdb.importing.importer)


def _answer_state(answer: Answer) -> dict:
    return {"value": answer.value, "groups": list(answer.groups), "notes": answer.notes}


def _line_count(answer: AnswerRow) -> int:
    return max(1, len(answer.citations))


def _ordered(rows: list[AnswerRow], codebook: Codebook) -> list[AnswerRow]:
    """Put a country's answers in codebook order, so ids and audit events follow the instrument."""
    order = {indicator_id: n for n, indicator_id in enumerate(codebook.indicator_ids)}
    return sorted(rows, key=lambda a: order[a.indicator_id])


def _countries(by_country: dict[str, list[AnswerRow]], progress: Progress | None) -> Iterator[str]:
    """Yield the countries in order; once each is written, report the lines written so far."""
    total = sum(_line_count(r) for rows in by_country.values() for r in rows)
    done = 0
    for iso3 in sorted(by_country):
        yield iso3
        done += sum(_line_count(r) for r in by_country[iso3])
        if progress:
            progress("written", done, total)


def _write_answers(
    session: Session, codebook: Codebook, assignment: Assignment, rows: list[AnswerRow], current: dict[str, Answer], user: User, now
) -> list[tuple[Answer, AnswerRow]]:
    """Write the rows as the assignment's answers, replacing its `current` ones (by indicator id); audit each."""
    pairs, olds = [], []
    for row in _ordered(rows, codebook):
        answer = current.get(row.indicator_id)
        olds.append(_answer_state(answer) if answer is not None else None)
        if answer is None:
            answer = Answer(assignment_id=assignment.id, indicator_id=row.indicator_id, codebook_version=codebook.version)
        answer.value, answer.groups, answer.notes = row.value, list(row.groups), row.notes
        answer.codebook_version = codebook.version
        answer.carried_forward = False
        answer.updated_at, answer.updated_by_id = now, user.id
        pairs.append((answer, row))
    answers = [answer for answer, _row in pairs]
    record_added_all(
        session,
        answers,
        new=_answer_state,
        olds=olds,
        user_id=user.id,
        action="answer.import",
        country_round_id=assignment.country_round_id,
    )
    return pairs


def _add_citations(
    session: Session,
    pairs: list[tuple[Answer, AnswerRow]],
    sources: dict[tuple[str, str, str], LegalSource],
    user: User,
    country_round_id: int,
    existing: dict[int, list[tuple[int, str]]],
) -> dict[int, list[Citation]]:
    """Add each row's citations to its answer, skipping ones the answer already has; return them by answer id."""
    added: dict[int, list[Citation]] = {}
    for answer, row in pairs:
        have = list(existing.get(answer.id, []))
        for citation in row.citations:
            source = sources[(row.country_iso3, citation.instrument_type, citation.source_title)]
            if (source.id, citation.pinpoint) in have:
                continue
            have.append((source.id, citation.pinpoint))
            item = Citation(answer_id=answer.id, source_id=source.id, position=len(have) - 1, **citation.citation_fields())
            added.setdefault(answer.id, []).append(item)
    items = [item for items in added.values() for item in items]
    record_added_all(session, items, new=_citation_state, user_id=user.id, action="citation.create", country_round_id=country_round_id)
    return added


def _citation_state(item: Citation) -> dict:
    return {"answer_id": item.answer_id, "source_id": item.source_id, "pinpoint": item.pinpoint, "via": "import"}


def _decision_state(decision: Decision) -> dict:
    return {
        "indicator_id": decision.indicator_id,
        "value": decision.value,
        "groups": list(decision.groups),
        "outcome": decision.outcome,
        "chosen": decision.chosen,
        "reason": decision.reason,
    }


def write_submission(
    *,
    session: Session,
    codebook: Codebook,
    by_country: dict[str, list[AnswerRow]],
    assignments: dict[str, Assignment],
    sources: dict[tuple[str, str, str], LegalSource],
    user: User,
    file_name: str,
    progress: Progress | None = None,
) -> dict[str, int]:
    """Record the rows as the coder's answers in their in-progress assignments; return citations added per country."""
    assignment_ids = [assignments[iso3].id for iso3 in by_country]
    current = session.exec(select(Answer).where(Answer.assignment_id.in_(assignment_ids))).all()
    by_assignment: dict[int, dict[str, Answer]] = {}
    for answer in current:
        by_assignment.setdefault(answer.assignment_id, {})[answer.indicator_id] = answer
    existing: dict[int, list[tuple[int, str]]] = {}
    if current:
        for answer_id, source_id, pinpoint in session.exec(
            select(Citation.answer_id, Citation.source_id, Citation.pinpoint)
            .where(Citation.answer_id.in_([a.id for a in current]))
            .order_by(Citation.position, Citation.id)
        ).all():
            existing.setdefault(answer_id, []).append((source_id, pinpoint))
    cited: dict[str, int] = {}
    for iso3 in _countries(by_country, progress):
        assignment = assignments[iso3]
        pairs = _write_answers(session, codebook, assignment, by_country[iso3], by_assignment.get(assignment.id, {}), user, utcnow())
        added = _add_citations(session, pairs, sources, user, assignment.country_round_id, existing)
        cited[iso3] = sum(len(v) for v in added.values())
        new = {"file": file_name, "country": iso3, "answers": len(pairs), "citations": cited[iso3]}
        record_row_event(
            session, assignment, user_id=user.id, action="import.submission", country_round_id=assignment.country_round_id, new=new
        )
        session.flush()
    return cited


def write_final(
    *,
    session: Session,
    codebook: Codebook,
    by_country: dict[str, list[AnswerRow]],
    round_: Round,
    country_rounds: dict[str, CountryRound],
    sources: dict[tuple[str, str, str], LegalSource],
    user: User,
    reason: str,
    file_name: str,
    progress: Progress | None = None,
) -> dict[str, int]:
    """Record the rows as the final values of new country-rounds, decided by `user`; return citations per country."""
    cited: dict[str, int] = {}
    for iso3 in _countries(by_country, progress):
        now = utcnow()
        country_round = country_rounds.get(iso3)
        if country_round is None:
            country_round = CountryRound(round_id=round_.id, country_iso3=iso3)
            session.add(country_round)
            session.flush()
            new = {"round": round_.name, "country": iso3, "via": "import"}
            record_row_event(
                session, country_round, user_id=user.id, action="country_round.create", country_round_id=country_round.id, new=new
            )
        assignment = Assignment(
            country_round_id=country_round.id,
            slot=IMPORT_SLOT,
            coder_id=user.id,
            status="submitted",
            submitted_at=now,
            message=f"Imported final coding from {file_name}: {reason}",
        )
        new = {"slot": IMPORT_SLOT, "coder_id": user.id, "status": "submitted", "file": file_name}
        record_added(session, assignment, user_id=user.id, action="assignment.import", country_round_id=country_round.id, new=new)
        pairs = _write_answers(session, codebook, assignment, by_country[iso3], {}, user, now)
        added = _add_citations(session, pairs, sources, user, country_round.id, {})
        cited[iso3] = sum(len(v) for v in added.values())
        decisions = [
            Decision(
                country_round_id=country_round.id,
                indicator_id=row.indicator_id,
                value=row.value,
                groups=list(row.groups),
                outcome="reconciled",
                chosen="other",
                reason=reason,
                decided_by_id=user.id,
                decided_at=now,
            )
            for _answer, row in pairs
        ]
        record_added_all(
            session, decisions, new=_decision_state, user_id=user.id, action="decision.create", country_round_id=country_round.id
        )
        for decision, (answer, _row) in zip(decisions, pairs):
            for citation in added.get(answer.id, []):
                session.add(DecisionCitation(decision_id=decision.id, citation_id=citation.id))
        country_round.finalized_at = now
        new = {
            "file": file_name,
            "round": round_.name,
            "country": iso3,
            "decisions": len(decisions),
            "citations": cited[iso3],
            "finalized_at": now.isoformat(),
        }
        record_changed(session, country_round, user_id=user.id, action="import.final", country_round_id=country_round.id, new=new)
        session.flush()
    return cited
