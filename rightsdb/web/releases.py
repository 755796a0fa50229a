"""Supervisor and admin page to publish releases (the public site only ever shows published ones)."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, current_app, flash, redirect, render_template, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Regexp

from rightsdb.errors import DomainError
from rightsdb.publishing import publish as publication
from rightsdb.web.access import gate
from rightsdb.web.errors import fail
from rightsdb.web.loaders import get_codebook
from rightsdb.web.session import get_session

bp = Blueprint("releases", __name__, url_prefix="/releases-admin")
gate(bp, "supervisor", "admin")


class PublishForm(FlaskForm):
    version = StringField(
        "Version (semantic, e.g. 1.0.0)",
        validators=[
            DataRequired(),
            Length(max=40),
            Regexp(publication.VERSION_PATTERN.pattern, message="Use a semantic version such as 1.0.0."),
        ],
    )
    title = StringField("Title", validators=[Length(max=300)])
    release_date = DateField("Release date", validators=[DataRequired()], default=date.today)
    notes = TextAreaField("Notes for researchers")
    synthetic = BooleanField("Release the synthetic demonstration countries (never mixed with real ones)")


def _page(form: PublishForm, status: int = 200):
    items = publication.list_releases(session=get_session())
    return render_template("releases/index.html", form=form, releases=items), status


@bp.route("/")
def index():
    """List the releases, with the form to publish a new one."""
    return _page(PublishForm(formdata=None))


@bp.route("/publish", methods=["POST"])
def publish():
    """Publish a release of every final country-round of one kind (real or synthetic)."""
    form = PublishForm()
    if not form.validate():
        return _page(form, 400)
    session = get_session()
    exports_dir = current_app.config["EXPORTS_DIR"]
    try:
        release = publication.publish_release(
            session=session,
            codebook=get_codebook(),
            exports_dir=exports_dir,
            version=form.version.data,
            title=form.title.data or "",
            notes=form.notes.data or "",
            release_date=form.release_date.data,
            synthetic=form.synthetic.data,
            user_id=current_user.id,
        )
    except DomainError as exc:
        session.rollback()
        fail(exc)
        return _page(form, 400)
    try:
        session.commit()
    except Exception:
        session.rollback()
        publication.discard_release_files(exports_dir=exports_dir, version=release.version)
        raise
    flash(f"Release {release.version} is published.", "success")
    return redirect(url_for("releases.index"))
