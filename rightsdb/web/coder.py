"""Coder pages: the assignment dashboard, the coding form, legal sources and carry-forward.

Every route that touches an assignment loads it through `_own_assignment`, the one object-level
check: another coder's assignment answers 404, exactly as if it did not exist (blind double coding).
Legal sources follow the same rule through `rightsdb.coding.citations.list_sources`: a page of an
assignment shows and accepts only the country's register and the sources private to that assignment.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from coding_forms import build_coding_form, coding_view, read_answer_inputs, read_source, show_stored, source_form_class
from rightsdb.coding import answers, citations, submission
from rightsdb.coding.carry_forward import carry_forward as fill_from_previous_round
from rightsdb.coding.carry_forward import find_previous_final
from rightsdb.errors import DomainError, Forbidden, InvalidInput, NotFound
from rightsdb.web.access import gate
from rightsdb.web.loaders import get_codebook
from rightsdb.web.session import get_session

bp = Blueprint("coder", __name__, url_prefix="/coder")
gate(bp, "coder")

READ_ONLY = "This assignment has been submitted and is read-only; a supervisor can reopen it."


def _own_assignment(assignment_id: int):
    """Load the signed-in coder's own assignment, or answer 404."""
    try:
        return answers.load_assignment(session=get_session(), assignment_id=assignment_id, coder_id=current_user.id)
    except NotFound:
        abort(404)


@bp.route("/")
def dashboard():
    """List the signed-in coder's assignments with their progress."""
    codebook = get_codebook()
    assignments = answers.list_assignments(session=get_session(), coder_id=current_user.id)
    rows = [(a, submission.measure_progress(codebook=codebook, assignment=a)) for a in assignments]
    return render_template("coder/dashboard.html", rows=rows, any_synthetic=any(a.country_round.country.synthetic for a in assignments))


def _render_page(assignment, form, *, status: int = 200, conflicts=None, unsaved=None, problems=None):
    """Render the coding page for an assignment and a (possibly posted) form."""
    codebook = get_codebook()
    session = get_session()
    category = request.values.get("category") or ""
    if category and category not in codebook.categories_by_id:
        if request.method != "POST":
            abort(404)
        category = ""  # a posted page re-rendered: the whole form, never a 404 that loses the typed text
    categories = [codebook.categories_by_id[category]] if category else codebook.categories
    editable = assignment.status != "submitted"
    previous = find_previous_final(session=session, assignment=assignment) if editable else None
    problems_by_indicator: dict[str, list[str]] = {}
    for indicator_id, message in problems or []:
        problems_by_indicator.setdefault(indicator_id, []).append(message)
    html = render_template(
        "coder/assignment.html",
        assignment=assignment,
        country_round=assignment.country_round,
        form=form,
        answers={a.indicator_id: a for a in assignment.answers},
        progress=submission.measure_progress(codebook=codebook, assignment=assignment),
        categories=categories,
        category=category,
        editable=editable,
        previous=previous,
        conflicts=conflicts or [],
        unsaved=unsaved or {},
        problems_by_indicator=problems_by_indicator,
    )
    return html, status


@bp.route("/assignments/<int:assignment_id>")
def assignment(assignment_id: int):
    """Show the coding page of one assignment (all categories, or `?category=ID`).

    Shown fresh, the page needs no bound form (`coding_view` gives the same fields' names, labels and
    data); a save re-renders with the bound, validated form.
    """
    record = _own_assignment(assignment_id)
    sources = citations.list_sources(session=get_session(), assignment=record)
    form = coding_view(get_codebook(), {a.indicator_id: a for a in record.answers}, sources)
    return _render_page(record, form)


def _known_category(raw: str | None) -> str:
    """Return `raw` if it names a category of the codebook, else "" (posted values reach a Location header)."""
    return raw if raw and raw in get_codebook().categories_by_id else ""


def _posted_indicators() -> list[str]:
    """Return the indicators whose fields were on the posted page, in codebook order."""
    return [i for i in get_codebook().indicator_ids if f"{i}-version" in request.form]


def _payload() -> dict:
    return {key: values for key, values in request.form.to_dict(flat=False).items() if key != "csrf_token"}


@bp.route("/assignments/<int:assignment_id>/save", methods=["POST"])
def save(assignment_id: int):
    """Save every posted indicator (and submit when asked); refuse the whole save on a version conflict."""
    codebook = get_codebook()
    session = get_session()
    record = _own_assignment(assignment_id)
    # Both values come back into the redirect: only a category of the codebook is taken.
    category = _known_category(request.form.get("category"))
    anchor = _known_category(request.form.get("save"))
    back = url_for(".assignment", assignment_id=record.id, category=category or None, _anchor=f"cat-{anchor}" if anchor else None)
    if record.status == "submitted":
        flash(READ_ONLY, "error")
        return redirect(back, 303)
    sources = citations.list_sources(session=session, assignment=record)
    form = build_coding_form(codebook, {}, sources, formdata=request.form)
    indicator_ids = _posted_indicators()
    if not form.validate():
        flash("Nothing was saved: correct the fields marked below.", "error")
        return _render_page(record, form, status=422)
    inputs = read_answer_inputs(form, indicator_ids)
    try:
        outcome = answers.save_answers(
            session=session,
            codebook=codebook,
            assignment=record,
            user_id=current_user.id,
            inputs=inputs,
            payload=_payload(),
            submit="submit_assignment" in request.form,
        )
        session.commit()
    except InvalidInput as exc:
        session.rollback()
        flash(str(exc), "error")
        return _render_page(_own_assignment(assignment_id), form, status=422, problems=exc.problems)
    except Forbidden as exc:
        session.rollback()
        flash(str(exc), "error")
        return redirect(back, 303)
    except (StaleDataError, IntegrityError):
        # Another request saved (or created the same answer) between our check and our write: keep the
        # typed text, write nothing else.
        session.rollback()
        record = _own_assignment(assignment_id)
        conflicts = answers.keep_lost_race(session=session, assignment=record, user_id=current_user.id, payload=_payload(), inputs=inputs)
        session.commit()
        return _conflict_page(record, form, inputs, conflicts)
    if outcome.conflicts:
        return _conflict_page(record, form, inputs, outcome.conflicts)
    if outcome.submitted:
        flash("Saved and submitted. Thank you: the assignment is now read-only.", "success")
        return redirect(url_for(".dashboard"), 303)
    if outcome.submission_problems:
        flash(f"Saved, but not submitted: {len(outcome.submission_problems)} problem(s) remain (listed at the top).", "warning")
        return redirect(url_for(".assignment", assignment_id=record.id, category=category or None, _anchor="blockers"), 303)
    flash(f"Saved ({len(outcome.changed)} indicator(s) changed)." if outcome.changed else "Saved (no changes).", "success")
    return redirect(back, 303)


def _conflict_page(record, form, inputs, conflict_ids):
    """Re-render with status 409: stored values in the form, the coder's unsaved text beside them."""
    codebook = get_codebook()
    session = get_session()
    session.expire_all()
    record = _own_assignment(record.id)
    stored = {a.indicator_id: a for a in record.answers}
    posted = {i.indicator_id: i for i in inputs}
    for indicator_id in conflict_ids:
        show_stored(form, indicator_id, stored.get(indicator_id))
    names = ", ".join(codebook.label(i) for i in conflict_ids)
    flash(
        f"Not saved: {names} changed since you opened this page (another tab or session saved first). "
        "Nothing was written. The saved values are shown, with your unsaved text beside each; merge and save again.",
        "error",
    )
    unsaved = {i: posted[i] for i in conflict_ids if i in posted}
    return _render_page(record, form, status=409, conflicts=conflict_ids, unsaved=unsaved)


@bp.route("/assignments/<int:assignment_id>/submit", methods=["POST"])
def submit(assignment_id: int):
    """Submit the assignment as saved, if every submission rule holds."""
    session = get_session()
    record = _own_assignment(assignment_id)
    if record.status == "submitted":
        flash(READ_ONLY, "error")
        return redirect(url_for(".assignment", assignment_id=record.id), 303)
    try:
        submission.submit_assignment(session=session, codebook=get_codebook(), assignment=record, user_id=current_user.id)
        session.commit()
    except InvalidInput as exc:
        session.rollback()
        flash(f"{exc} See the list at the top of the page.", "error")
        return redirect(url_for(".assignment", assignment_id=record.id, _anchor="blockers"), 303)
    flash("Submitted. The assignment is now read-only.", "success")
    return redirect(url_for(".dashboard"), 303)


@bp.route("/assignments/<int:assignment_id>/carry-forward", methods=["POST"])
def carry_forward(assignment_id: int):
    """Fill unanswered indicators from the country's previous final values."""
    session = get_session()
    record = _own_assignment(assignment_id)
    try:
        filled = fill_from_previous_round(session=session, codebook=get_codebook(), assignment=record, user_id=current_user.id)
        session.commit()
    except DomainError as exc:
        session.rollback()
        flash(str(exc), "error")
    else:
        flash(f"{filled} answer(s) carried forward. Confirm or change each one before submitting.", "success")
    return redirect(url_for(".assignment", assignment_id=record.id), 303)


def _save_source(record, form, save, message):
    """Run one legal-source save for the coder's assignment; return the redirect, or None to re-show the form.

    Shared by adding and editing a source: a submitted assignment is read-only, a refusal by the domain
    (a register source, a source behind final values) is flashed, field problems go next to their field,
    and the view commits once.
    """
    session = get_session()
    if record.status == "submitted":
        flash(READ_ONLY, "error")
        return redirect(url_for(".sources", assignment_id=record.id), 303)
    if not form.validate():
        return None
    try:
        source = save(session=session, codebook=get_codebook(), assignment=record, source=read_source(form), user_id=current_user.id)
        session.commit()
    except Forbidden as exc:
        session.rollback()
        flash(str(exc), "error")
        return redirect(url_for(".sources", assignment_id=record.id), 303)
    except InvalidInput as exc:
        session.rollback()
        for name, message_text in exc.problems:
            if name in form:
                getattr(form, name).errors.append(message_text)
            else:
                flash(message_text, "error")
        return None
    flash(message(source), "success")
    return redirect(url_for(".sources", assignment_id=record.id), 303)


@bp.route("/assignments/<int:assignment_id>/sources", methods=["GET", "POST"])
def sources(assignment_id: int):
    """List the assignment's own (private) sources and the country's register, and add a source (private to the assignment)."""
    codebook = get_codebook()
    session = get_session()
    record = _own_assignment(assignment_id)
    form = source_form_class(codebook)()
    status = 200
    if request.method == "POST":
        done = _save_source(record, form, citations.create_source, lambda source: f"Legal source added: {source.title}")
        if done is not None:
            return done
        status = 422
    rows = citations.list_sources(session=session, assignment=record)
    return render_template(
        "coder/sources.html",
        assignment=record,
        country_round=record.country_round,
        own=[s for s in rows if s.assignment_id is not None],
        register=[s for s in rows if s.assignment_id is None],
        cited=citations.citation_counts(session=session, assignment=record),
        form=form,
    ), status


@bp.route("/assignments/<int:assignment_id>/sources/<int:source_id>", methods=["GET", "POST"])
def edit_source(assignment_id: int, source_id: int):
    """Correct one of the assignment's own legal sources; show a register source read-only.

    A source this assignment may not see (another assignment's private one, another country's, a
    replaced one) answers 404, as if it did not exist.
    """
    codebook = get_codebook()
    session = get_session()
    record = _own_assignment(assignment_id)
    try:
        source = citations.visible_source(session=session, assignment=record, source_id=source_id)
    except NotFound:
        abort(404)
    own = source.assignment_id is not None
    form = source_form_class(codebook)(obj=source)
    status = 200
    if request.method == "POST":
        if not own:
            flash(citations.IN_REGISTER, "error")
            return redirect(url_for(".edit_source", assignment_id=record.id, source_id=source.id), 303)
        done = _save_source(
            record, form, lambda **kw: citations.edit_source(source_id=source_id, **kw), lambda _source: "Legal source saved."
        )
        if done is not None:
            return done
        status = 422
    return render_template(
        "coder/source_edit.html",
        assignment=record,
        country_round=record.country_round,
        source=source,
        own=own,
        cited=citations.citation_counts(session=session, assignment=record).get(source.id, 0),
        form=form,
    ), status
