"""Supervisor pages: rounds, assignments, the progress board, codebook flags and reliability.

Reconciliation pages live in `reconcile`, on the same blueprint and behind the same gate.
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import DateField, SelectChoice, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from rightsdb.errors import DomainError, InvalidInput, NotFound
from rightsdb.models import parse_row_id
from rightsdb.public import charts
from rightsdb.review import assignments, progress, reliability_report
from rightsdb.review import flags as codebook_flags
from rightsdb.review.reliability import Thresholds
from rightsdb.text import clean_typed
from rightsdb.web.access import gate
from rightsdb.web.errors import fail
from rightsdb.web.loaders import get_codebook
from rightsdb.web.session import get_session

bp = Blueprint("supervisor", __name__, url_prefix="/supervisor")
gate(bp, "supervisor", "admin")


class RoundForm(FlaskForm):
    name = StringField("Round name", validators=[DataRequired(), Length(max=100)], filters=[clean_typed])
    reference_date = DateField("Law in force on", validators=[DataRequired()])
    notes = TextAreaField("Notes", validators=[Optional(), Length(max=5000)], filters=[clean_typed])


class AssignForm(FlaskForm):
    countries = SelectMultipleField(
        "Countries", choices=[], widget=ListWidget(prefix_label=False), option_widget=CheckboxInput(), validate_choice=False
    )
    coder_a = SelectField("Coder A", coerce=int, choices=[], validators=[DataRequired()])
    coder_b = SelectField("Coder B", coerce=int, choices=[], validators=[DataRequired()])


def _coder_choices() -> list[tuple[int, str]]:
    """Return (id, label) for every coder who can be assigned."""
    return [(c.id, f"{c.name} ({c.email})") for c in assignments.active_coders(session=get_session())]


def _board_round(summaries: list[progress.RoundSummary]) -> progress.RoundSummary | None:
    """Return the round whose countries the board lists: `?round=ID`, else the default; 404 for an unknown id."""
    raw = request.args.get("round", "").strip()
    if not raw:
        return progress.default_summary(summaries)
    round_id = parse_row_id(raw)
    chosen = next((s for s in summaries if s.round.id == round_id), None)
    if chosen is None:
        raise NotFound("No such round.")
    return chosen


def _board_status() -> str:
    """Read `?status=` (empty: every status); 400 for a status that does not exist."""
    status = request.args.get("status", "").strip()
    if status and status not in progress.STATUS_LABELS:
        abort(400, f"Unknown status {status[:100]!r}: choose one of {', '.join(progress.STATUS_LABELS)}.")
    return status


@bp.route("/")
def board():
    """Show every round's figures, and the countries of one round (`?round=ID`, `?status=` to filter them)."""
    session = get_session()
    codebook = get_codebook()
    summaries = progress.round_summaries(session=session, codebook=codebook)
    selected = _board_round(summaries)
    status = _board_status()
    countries = []
    if selected is not None:
        countries = progress.progress_board(session=session, codebook=codebook, round_id=selected.round.id)[0].countries
    shown = [c for c in countries if c.status == status] if status else countries
    return render_template(
        "supervisor/board.html", summaries=summaries, selected=selected, status=status, countries=shown, labels=progress.STATUS_LABELS
    )


@bp.route("/rounds/new", methods=["GET", "POST"])
def open_round():
    """Open a coding round on the current codebook version."""
    form = RoundForm()
    if form.validate_on_submit():
        session = get_session()
        try:
            round_ = assignments.open_round(
                session=session,
                codebook=get_codebook(),
                name=form.name.data,
                reference_date=form.reference_date.data,
                notes=form.notes.data or "",
                actor_id=current_user.id,
            )
        except DomainError as exc:
            fail(exc, form)
            return render_template("supervisor/round_new.html", form=form), 400
        session.commit()
        flash(f"Round {round_.name} is open. Now pick its countries and coders.", "success")
        return redirect(url_for("supervisor.round_detail", round_id=round_.id))
    return render_template("supervisor/round_new.html", form=form), (400 if form.is_submitted() else 200)


def _round_page(round_id: int, form: AssignForm, status: int = 200):
    """Render a round's page with the assign form (fresh, or with its errors)."""
    session = get_session()
    round_ = assignments.get_round(session=session, round_id=round_id)
    query = request.args.get("q", "")
    countries = assignments.unassigned_countries(session=session, round_id=round_id, query=query)
    form.countries.choices = [SelectChoice(c.iso3, f"{c.name} ({c.iso3}){' · synthetic' if c.synthetic else ''}") for c in countries]
    coders = _coder_choices()
    form.coder_a.choices = [SelectChoice(id_, label) for id_, label in coders]
    form.coder_b.choices = [SelectChoice(id_, label) for id_, label in coders]
    board = progress.progress_board(session=session, codebook=get_codebook(), round_id=round_id)
    return render_template(
        "supervisor/round.html",
        round=round_,
        rp=board[0],
        form=form,
        query=query,
        coders=coders,
        any_synthetic=any(c.synthetic for c in countries),
    ), status


@bp.route("/rounds/<int:round_id>")
def round_detail(round_id: int):
    """Show one round: its countries, their coders and progress, and the form to add countries."""
    return _round_page(round_id, AssignForm(formdata=None))


@bp.route("/rounds/<int:round_id>/assign", methods=["POST"])
def assign(round_id: int):
    """Add the picked countries to the round with coder A and coder B."""
    form = AssignForm()
    session = get_session()
    try:
        created = assignments.assign_countries(
            session=session,
            round_id=round_id,
            country_iso3s=request.form.getlist("countries"),
            coder_a_id=_int(request.form.get("coder_a")),
            coder_b_id=_int(request.form.get("coder_b")),
            actor_id=current_user.id,
        )
    except DomainError as exc:
        session.rollback()
        fail(exc, form)
        return _round_page(round_id, form, 400)
    session.commit()
    flash(f"{len(created)} countr{'y' if len(created) == 1 else 'ies'} assigned.", "success")
    return redirect(url_for("supervisor.round_detail", round_id=round_id))


def _int(raw: str | None) -> int:
    """Parse a coder id from the form, or raise InvalidInput."""
    value = parse_row_id(raw)
    if value is None:
        raise InvalidInput("Choose a coder.", [("coder", "required")])
    return value


@bp.route("/assignments/<int:assignment_id>/reassign", methods=["GET"])
def reassign_form(assignment_id: int):
    """Show the form that gives one assignment's slot to another coder (linked from the round's page)."""
    session = get_session()
    assignment = assignments.get_assignment(session=session, assignment_id=assignment_id)
    country_round = assignment.country_round
    return render_template(
        "supervisor/reassign.html",
        assignment=assignment,
        country_round=country_round,
        round=country_round.round,
        country=country_round.country,
        coder=assignment.coder,
        coders=_coder_choices(),
    )


@bp.route("/assignments/<int:assignment_id>/reassign", methods=["POST"])
def reassign(assignment_id: int):
    """Give an assignment's slot to another coder; the answers stay."""
    session = get_session()
    assignment = assignments.get_assignment(session=session, assignment_id=assignment_id)
    round_id = assignment.country_round.round_id
    try:
        assignments.reassign(
            session=session, assignment_id=assignment_id, coder_id=_int(request.form.get("coder")), actor_id=current_user.id
        )
    except DomainError as exc:
        fail(exc)  # back to the form, which shows the message
        return redirect(url_for("supervisor.reassign_form", assignment_id=assignment_id))
    session.commit()
    flash("The slot is reassigned; the answers already given stay.", "success")
    return redirect(url_for("supervisor.round_detail", round_id=round_id))


@bp.route("/assignments/<int:assignment_id>/send-back", methods=["POST"])
def send_back(assignment_id: int):
    """Send a submitted assignment back to its coder with a message."""
    session = get_session()
    assignment = assignments.get_assignment(session=session, assignment_id=assignment_id)
    country_round_id = assignment.country_round_id
    try:
        assignments.send_back(
            session=session, assignment_id=assignment_id, message=request.form.get("message", ""), actor_id=current_user.id
        )
    except DomainError as exc:
        session.rollback()
        fail(exc)
        return redirect(url_for("supervisor.country_round", country_round_id=country_round_id))
    session.commit()
    flash(f"Slot {assignment.slot} is sent back to its coder with your message.", "success")
    return redirect(url_for("supervisor.country_round", country_round_id=country_round_id))


@bp.route("/flags")
def flags():
    """List the open codebook flags, for the next codebook revision."""
    return render_template("supervisor/flags.html", flags=codebook_flags.open_flags(session=get_session()))


@bp.route("/flags/<int:flag_id>/close", methods=["POST"])
def close_flag(flag_id: int):
    """Mark a codebook flag as dealt with."""
    session = get_session()
    codebook_flags.close_flag(session=session, flag_id=flag_id, actor_id=current_user.id)
    session.commit()
    flash("The flag is closed.", "success")
    return redirect(url_for("supervisor.flags"))


def _report(round_id: int | None):
    """Build the reliability rows with the app's alpha thresholds."""
    thresholds = Thresholds(red=current_app.config["ALPHA_RED"], amber=current_app.config["ALPHA_AMBER"])
    return reliability_report.build_report(
        session=get_session(), codebook=get_codebook(), thresholds=thresholds, round_id=round_id
    ), thresholds


def _round_filter() -> int | None:
    """Read `?round=ID` (empty: every round); 400 when it names no round (a huge number included)."""
    raw = request.args.get("round", "").strip()
    if not raw:
        return None
    round_id = parse_row_id(raw)
    if round_id is None or round_id not in {r.id for r in assignments.list_rounds(session=get_session())}:
        abort(400, f"Unknown round {raw[:100]!r}.")
    return round_id


@bp.route("/reliability")
def reliability():
    """Show inter-coder reliability per round, category, indicator and coder pair."""
    round_id = _round_filter()
    rows, thresholds = _report(round_id)
    rounds = assignments.list_rounds(session=get_session())
    synthetic = reliability_report.includes_synthetic(session=get_session(), round_id=round_id)
    return render_template(
        "supervisor/reliability.html", rows=rows, thresholds=thresholds, rounds=rounds, round_id=round_id, synthetic=synthetic
    )


@bp.route("/reliability.csv")
def reliability_csv():
    """Download the reliability report as CSV."""
    round_id = _round_filter()
    rows, _thresholds = _report(round_id)
    filename = f"rightsdb-reliability-round-{round_id}.csv" if round_id else "rightsdb-reliability.csv"
    return Response(
        reliability_report.report_csv(rows), mimetype="text/csv", headers={"Content-Disposition": f'attachment; filename="{filename}"'}
    )


@bp.route("/reliability/<int:round_id>/indicators.svg")
def reliability_chart(round_id: int):
    """Draw Krippendorff's alpha per indicator of one round as an SVG bar chart with the cut-offs."""
    round_ = assignments.get_round(session=get_session(), round_id=round_id)
    rows, thresholds = _report(round_id)
    rows = [r for r in rows if r.level == "indicator"]
    if not rows:
        return render_template("error.html", code=404, message="No country of this round has two submitted codings yet."), 404
    note = "Two independent submitted codings per country; undefined = no variation to measure, not perfect agreement."
    if reliability_report.includes_synthetic(session=get_session(), round_id=round_id):
        note += " Synthetic demonstration data."
    svg = charts.reliability_chart(
        [_short(f"{r.key} {r.label}") for r in rows],
        [r.krippendorff_alpha for r in rows],
        [r.rating for r in rows],
        red=thresholds.red,
        amber=thresholds.amber,
        title=f"Round {round_.name}: Krippendorff's alpha per indicator",
        note=note,
    )
    response = Response(svg, mimetype="image/svg+xml")
    response.headers["Content-Security-Policy"] = charts.SVG_CONTENT_SECURITY_POLICY
    return response


def _short(label: str, limit: int = 48) -> str:
    """Shorten a chart label to `limit` characters, marking the cut."""
    return label if len(label) <= limit else label[: limit - 1].rstrip() + "…"
