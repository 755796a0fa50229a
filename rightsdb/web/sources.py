"""The supervisor's source register of a country: edit, correct (with a reason), merge duplicates, history;
and the correction of one citation behind a final value, from the indicator's review page.

Every change goes through `rightsdb.review.evidence`, which refuses to change evidence behind a final
value in place; the view commits once, and a refusal re-shows the form with its problems, linked.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField, TextAreaField, URLField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length

from coding_forms import http_url, read_source, source_form_class
from rightsdb.errors import Conflict, DomainError, InvalidInput, NotFound
from rightsdb.models import Country, parse_row_id
from rightsdb.review import evidence, reconciliation, source_register
from rightsdb.text import clean_typed
from rightsdb.web.access import gate
from rightsdb.web.loaders import get_codebook
from rightsdb.web.session import get_session

bp = Blueprint("sources", __name__, url_prefix="/supervisor")
gate(bp, "supervisor", "admin")

TYPED = [clean_typed]
REASON_HINT = "Required: this source stands behind final values. The old version stays; the reason goes into the audit trail and the next release's changelog."


def _country(iso3: str) -> Country:
    """Return the country, or answer 404."""
    country = get_session().get(Country, iso3.upper()) if len(iso3) == 3 else None
    if country is None:
        abort(404)
    return country


def _source_form(*, frozen: bool, **kwargs) -> FlaskForm:
    """Build the source form of the codebook, with a reason field when the source is frozen."""
    base = source_form_class(get_codebook())

    class SourceCorrectionForm(base):  # type: ignore[misc, valid-type]
        reason = TextAreaField(
            "Reason for the correction", validators=[InputRequired(message="Write the reason for this correction.")], filters=TYPED
        )

    return (SourceCorrectionForm if frozen else base)(**kwargs)


class MergeForm(FlaskForm):
    source = SelectField("Duplicate to merge away", coerce=int, choices=[], validate_choice=False)
    into = SelectField("Source it duplicates (kept)", coerce=int, choices=[], validate_choice=False)
    reason = TextAreaField("Reason (required when the duplicate stands behind final values)", filters=TYPED)


class CitationForm(FlaskForm):
    source_id = SelectField("Legal source", coerce=int, choices=[], validate_choice=False)
    pinpoint = StringField("Article, section or paragraph", validators=[Length(max=300)], filters=TYPED)
    url = URLField("Web address of the provision", validators=[http_url, Length(max=2000)], filters=TYPED)
    excerpt = TextAreaField("Excerpt (original language)", filters=TYPED)
    translation = TextAreaField("English translation", filters=TYPED)
    reason = TextAreaField(
        "Reason for the correction", validators=[InputRequired(message="Write the reason for this correction.")], filters=TYPED
    )


def _place_problems(form: FlaskForm, exc: DomainError) -> None:
    """Put each problem of a refusal next to the field it names, once (the form's first field when it names none)."""
    if not isinstance(exc, InvalidInput):
        return
    first = next(name for name in form._fields if name != "csrf_token")
    for name, message in exc.problems:
        field = form._fields.get(name) or form._fields[first]
        if message not in field.errors:
            field.errors = [*field.errors, message]


def _show_problems(form: FlaskForm, exc: DomainError) -> None:
    """Flash a refusal and place its problems on the form."""
    flash(str(exc), "error")
    _place_problems(form, exc)


def _choices(iso3: str) -> list[SelectChoice]:
    return [
        SelectChoice(e.source.id, f"{e.source.title} (v{e.source.version}, #{e.source.id})")
        for e in source_register.list_register(session=get_session(), country_iso3=iso3)
    ]


def _register_page(country: Country, merge: MergeForm, status: int = 200):
    entries = source_register.list_register(session=get_session(), country_iso3=country.iso3)
    merge.source.choices = merge.into.choices = _choices(country.iso3)
    return render_template("supervisor/sources.html", country=country, entries=entries, merge=merge), status


@bp.route("/countries/<iso3>/sources")
def register(iso3: str):
    """List the country's register: each current source, what stands on it, and the forms to change it."""
    return _register_page(_country(iso3), MergeForm(formdata=None))


@bp.route("/countries/<iso3>/sources/merge", methods=["POST"])
def merge(iso3: str):
    """Merge a duplicate source into the one it duplicates."""
    country = _country(iso3)
    form = MergeForm()
    session = get_session()
    try:
        kept = evidence.merge_sources(
            session=session,
            country_iso3=country.iso3,
            source_id=parse_row_id(request.form.get("source")) or 0,
            into_id=parse_row_id(request.form.get("into")) or 0,
            reason=form.reason.data or "",
            actor_id=current_user.id,
        )
    except DomainError as exc:
        session.rollback()
        _show_problems(form, exc)
        return _register_page(country, form, 400)
    session.commit()
    flash(f"Merged into {kept.title}; the duplicate's row is kept in the source's history.", "success")
    return redirect(url_for(".register", iso3=country.iso3), 303)


@bp.route("/countries/<iso3>/sources/<int:source_id>", methods=["GET", "POST"])
def edit(iso3: str, source_id: int):
    """Edit a source behind no final value in place, or correct one behind final values (a new version, with a reason)."""
    country = _country(iso3)
    session = get_session()
    source = source_register.get_register_source(session=session, country_iso3=country.iso3, source_id=source_id)
    if source.replaced_by_id is not None:
        flash("This is an earlier version or a merged duplicate: here is the source's current version.", "info")
        current = source_register.source_history(session=session, country_iso3=country.iso3, source_id=source_id)[0].source
        return redirect(url_for(".edit", iso3=country.iso3, source_id=current.id), 303)
    entry = next(e for e in source_register.list_register(session=session, country_iso3=country.iso3) if e.source.id == source.id)
    frozen = entry.frozen or "reason" in request.form
    form = _source_form(frozen=frozen, obj=source)
    status = 200
    if request.method == "POST":
        status = 400
        if form.validate():
            done, refused = _save_source(country, source, form, frozen)
            if done is not None:
                return done
            problems = dict(refused.problems)
            if not frozen and "reason" in problems:
                # It came to stand behind a final value since the page was shown: now a correction, with a reason.
                frozen = True
                form = _source_form(frozen=True, formdata=request.form)
                form.reason.errors = [problems["reason"]]
            flash(str(refused), "error")
            _place_problems(form, refused)
    return render_template("supervisor/source_edit.html", country=country, source=source, entry=entry, form=form, frozen=frozen), status


def _save_source(country: Country, source, form: FlaskForm, frozen: bool):
    """Correct or edit the source with the validated form and commit; return (the redirect, None), or (None, the refusal)."""
    session = get_session()
    typed = read_source(form)
    try:
        if frozen:
            saved = evidence.correct_source(
                session=session,
                codebook=get_codebook(),
                country_iso3=country.iso3,
                source_id=source.id,
                source=typed,
                reason=form.reason.data or "",
                actor_id=current_user.id,
            )
        else:
            saved = evidence.edit_register_source(
                session=session,
                codebook=get_codebook(),
                country_iso3=country.iso3,
                source_id=source.id,
                source=typed,
                actor_id=current_user.id,
            )
    except Conflict as exc:
        session.rollback()
        flash(str(exc), "error")
        return redirect(url_for(".register", iso3=country.iso3), 303), None
    except InvalidInput as exc:
        session.rollback()
        return None, exc
    session.commit()
    if frozen:
        flash(f"Corrected: version {saved.version} of {saved.title}; version {saved.version - 1} is kept in its history.", "success")
    else:
        flash(f"Legal source saved: {saved.title}.", "success")
    return redirect(url_for(".register", iso3=country.iso3), 303), None


@bp.route("/countries/<iso3>/sources/<int:source_id>/history")
def history(iso3: str, source_id: int):
    """Show a source's history: its versions and the duplicates merged into it, with who changed what and why."""
    country = _country(iso3)
    entries = source_register.source_history(session=get_session(), country_iso3=country.iso3, source_id=source_id)
    return render_template("supervisor/source_history.html", country=country, entries=entries)


def _citation_context(country_round_id: int, indicator_id: str, citation_id: int) -> dict:
    """Load the country-round, the indicator's review and the citation (a current one of that indicator), or 404."""
    session = get_session()
    country_round = reconciliation.get_country_round(session=session, country_round_id=country_round_id)
    review = reconciliation.review_indicator(
        session=session, codebook=get_codebook(), country_round=country_round, indicator_id=indicator_id
    )
    found = next(((slot, c) for slot, c in review.citations() if c.id == citation_id), None)
    if found is None:
        raise NotFound("There is no such citation of this indicator in this country-round.")
    return {
        "country_round": country_round,
        "round": country_round.round,
        "country": country_round.country,
        "indicator": get_codebook().indicators_by_id[indicator_id],
        "review": review,
        "slot": found[0],
        "citation": found[1],
        "standing": citation_id in review.decision_citation_ids,
    }


@bp.route("/country-rounds/<int:country_round_id>/indicators/<indicator_id>/citations/<int:citation_id>", methods=["GET", "POST"])
def correct_citation(country_round_id: int, indicator_id: str, citation_id: int):
    """Correct one citation of an indicator (a new version, with a reason); the decisions it stands behind follow it."""
    context = _citation_context(country_round_id, indicator_id, citation_id)
    citation = context["citation"]
    form = CitationForm(obj=citation)
    form.source_id.choices = _choices(context["country"].iso3)
    status = 200
    if request.method == "POST":
        status = 400
        if form.validate():
            session = get_session()
            change = evidence.CitationChange(
                source_id=form.source_id.data or 0,
                pinpoint=form.pinpoint.data or "",
                url=form.url.data or "",
                excerpt=form.excerpt.data or "",
                translation=form.translation.data or "",
            )
            try:
                evidence.correct_citation(
                    session=session,
                    country_round_id=country_round_id,
                    indicator_id=indicator_id,
                    citation_id=citation_id,
                    change=change,
                    reason=form.reason.data or "",
                    actor_id=current_user.id,
                )
            except Conflict as exc:
                session.rollback()
                flash(str(exc), "error")
                return redirect(url_for("supervisor.indicator", country_round_id=country_round_id, indicator_id=indicator_id), 303)
            except InvalidInput as exc:
                session.rollback()
                _show_problems(form, exc)
            else:
                session.commit()
                flash("The citation is corrected; its earlier version is kept in the audit trail.", "success")
                return redirect(url_for("supervisor.indicator", country_round_id=country_round_id, indicator_id=indicator_id), 303)
    return render_template("supervisor/citation_correct.html", form=form, **context), status
