"""Reconciliation pages (supervisor blueprint): the disagreement queue, one indicator side by side,
decisions, corrections, codebook flags and a country-round's audit trail."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user

from rightsdb.errors import Conflict, DomainError, InvalidInput
from rightsdb.models import Country, Round, parse_row_id
from rightsdb.review import assignments, flags, reconciliation
from rightsdb.web.errors import fail
from rightsdb.web.loaders import get_codebook
from rightsdb.web.session import get_session
from rightsdb.web.supervisor import bp


def _context(country_round_id: int) -> dict:
    """Load a country-round with its round, country and assignments (with coders) for a page."""
    session = get_session()
    country_round = reconciliation.get_country_round(session=session, country_round_id=country_round_id)
    slots = assignments.assignment_slots(session=session, country_round_id=country_round_id)
    return {
        "country_round": country_round,
        "round": session.get(Round, country_round.round_id),
        "country": session.get(Country, country_round.country_iso3),
        "slots": slots,
    }


@bp.route("/country-rounds/<int:country_round_id>")
def country_round(country_round_id: int):
    """Show a country-round: its coders, the disagreement queue and the decided values for review."""
    context = _context(country_round_id)
    session, codebook = get_session(), get_codebook()
    queue = reconciliation.disagreement_queue(session=session, codebook=codebook, country_round=context["country_round"])
    decisions = reconciliation.decisions_for(session=session, country_round=context["country_round"])
    return render_template("supervisor/country_round.html", queue=queue, decisions=decisions, **context)


def _indicator_page(country_round_id: int, indicator_id: str, *, problems=None, form=None, status: int = 200):
    """Render one indicator's page, with the form's errors and typed values if any."""
    context = _context(country_round_id)
    review = reconciliation.review_indicator(
        session=get_session(), codebook=get_codebook(), country_round=context["country_round"], indicator_id=indicator_id
    )
    errors: dict[str, list[str]] = {}
    for name, message in problems or []:
        errors.setdefault(name, []).append(message)
    indicator = get_codebook().indicators_by_id[indicator_id]
    return render_template(
        "supervisor/indicator.html", review=review, indicator=indicator, errors=errors, form=form or {}, **context
    ), status


def _posted_choice() -> reconciliation.SupervisorChoice:
    """Read the reconciliation form fields (shared by deciding and correcting)."""
    citations = []
    for raw in request.form.getlist("citations"):
        if parse_row_id(raw) is not None:
            citations.append(parse_row_id(raw))
    return {
        "choice": request.form.get("choice", ""),
        "value": request.form.get("value") or None,
        "groups": request.form.getlist("groups"),
        "citation_ids": citations,
        "reason": request.form.get("reason", ""),
    }


def _form_echo(posted: reconciliation.SupervisorChoice) -> dict:
    """Keep what the supervisor typed when the form is shown again with errors."""
    return {**posted, "citation_ids": set(posted["citation_ids"]), "groups": set(posted["groups"])}


@bp.route("/country-rounds/<int:country_round_id>/indicators/<indicator_id>")
def indicator(country_round_id: int, indicator_id: str):
    """Show one indicator: both coders' answers side by side, the codebook's guidance and the decision."""
    return _indicator_page(country_round_id, indicator_id)


def _settle(country_round_id: int, indicator_id: str, settle, target: dict):
    """Decide or correct (`settle`, on `target`) with the posted choice and commit; return the page to show instead when refused.

    A refused choice shows the form again with its problems and what was typed; a conflict (someone
    decided first, or changed the value meanwhile) goes back to the indicator's page.
    """
    session = get_session()
    posted = _posted_choice()
    try:
        settle(session=session, codebook=get_codebook(), actor_id=current_user.id, **target, **posted)
    except InvalidInput as exc:
        session.rollback()
        flash(str(exc), "error")
        return _indicator_page(country_round_id, indicator_id, problems=exc.problems, form=_form_echo(posted), status=400)
    except Conflict as exc:
        session.rollback()
        flash(str(exc), "error")
        return redirect(url_for("supervisor.indicator", country_round_id=country_round_id, indicator_id=indicator_id))
    session.commit()
    return None


@bp.route("/country-rounds/<int:country_round_id>/indicators/<indicator_id>/decide", methods=["POST"])
def decide(country_round_id: int, indicator_id: str):
    """Settle one disagreement with a reason."""
    target = {"country_round_id": country_round_id, "indicator_id": indicator_id}
    refused = _settle(country_round_id, indicator_id, reconciliation.resolve, target)
    if refused is not None:
        return refused
    return _after_decision(country_round_id, f"{indicator_id} is decided.")


def _after_decision(country_round_id: int, message: str):
    """Go to the next disagreement, or back to the country once none is left."""
    session = get_session()
    country_round = reconciliation.get_country_round(session=session, country_round_id=country_round_id)
    queue = reconciliation.disagreement_queue(session=session, codebook=get_codebook(), country_round=country_round)
    if country_round.finalized_at is not None:
        flash(f"{message} No disagreement is left: this country is final.", "success")
    else:
        flash(f"{message} {len(queue)} disagreement{'s' if len(queue) != 1 else ''} left.", "success")
    if queue:
        return redirect(url_for("supervisor.indicator", country_round_id=country_round_id, indicator_id=queue[0]))
    return redirect(url_for("supervisor.country_round", country_round_id=country_round_id))


@bp.route("/country-rounds/<int:country_round_id>/indicators/<indicator_id>/correct", methods=["POST"])
def correct(country_round_id: int, indicator_id: str):
    """Change a decided value (a correction, with a reason; the version guards against a concurrent change)."""
    session = get_session()
    review = reconciliation.review_indicator(
        session=session,
        codebook=get_codebook(),
        indicator_id=indicator_id,
        country_round=reconciliation.get_country_round(session=session, country_round_id=country_round_id),
    )
    if review.decision is None:
        flash("There is no decided value to correct yet.", "error")
        return redirect(url_for("supervisor.indicator", country_round_id=country_round_id, indicator_id=indicator_id))
    version = parse_row_id(request.form.get("version", ""))
    target = {"decision_id": review.decision.id, "expected_version": -1 if version is None else version}
    refused = _settle(country_round_id, indicator_id, reconciliation.correct, target)
    if refused is not None:
        return refused
    flash(f"{indicator_id} is corrected; the old value is kept in the audit trail.", "success")
    return redirect(url_for("supervisor.indicator", country_round_id=country_round_id, indicator_id=indicator_id))


@bp.route("/country-rounds/<int:country_round_id>/indicators/<indicator_id>/flag", methods=["POST"])
def flag(country_round_id: int, indicator_id: str):
    """Flag the indicator as unclear in the codebook."""
    session = get_session()
    reconciliation.get_country_round(session=session, country_round_id=country_round_id)
    try:
        flags.flag_indicator(
            session=session,
            codebook=get_codebook(),
            indicator_id=indicator_id,
            note=request.form.get("note", ""),
            actor_id=current_user.id,
            country_round_id=country_round_id,
        )
    except DomainError as exc:
        fail(exc)
        return redirect(url_for("supervisor.indicator", country_round_id=country_round_id, indicator_id=indicator_id))
    session.commit()
    flash(f"{indicator_id} is flagged for the next codebook revision.", "success")
    return redirect(url_for("supervisor.indicator", country_round_id=country_round_id, indicator_id=indicator_id))


@bp.route("/country-rounds/<int:country_round_id>/audit")
def audit(country_round_id: int):
    """Show the audit trail of a country-round: every event, who, when, old and new value."""
    context = _context(country_round_id)
    events = flags.audit_trail(session=get_session(), country_round_id=country_round_id)
    return render_template("supervisor/audit.html", events=events, **context)
