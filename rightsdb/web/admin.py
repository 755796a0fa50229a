"""Admin pages: the team (users, roles, deactivation, password resets)."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, Length

from rightsdb.accounts import users as accounts
from rightsdb.errors import DomainError, InvalidInput
from rightsdb.models import ROLES
from rightsdb.text import clean_typed
from rightsdb.web.access import gate
from rightsdb.web.errors import fail
from rightsdb.web.session import get_session

bp = Blueprint("admin", __name__, url_prefix="/admin")
gate(bp, "admin")

ROLE_CHOICES = [SelectChoice(r, r.title()) for r in ROLES]


class UserForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=200)], filters=[clean_typed])
    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])
    role = SelectField("Role", choices=ROLE_CHOICES, default="coder")
    password = PasswordField("Initial password", validators=[DataRequired(), Length(min=accounts.MIN_PASSWORD_LENGTH, max=200)])


def _page(form: UserForm, status: int = 200):
    """Render the team page with the add-user form."""
    users = accounts.list_users(session=get_session())
    return render_template("admin/users.html", form=form, users=users, roles=ROLE_CHOICES, min_length=accounts.MIN_PASSWORD_LENGTH), status


@bp.route("/users")
def users():
    """List the team, with the form to add someone."""
    return _page(UserForm(formdata=None))


@bp.route("/users", methods=["POST"])
def create_user():
    """Add a user with a role and an initial password."""
    form = UserForm()
    if not form.validate():
        return _page(form, 400)
    session = get_session()
    try:
        user = accounts.create_user(
            session=session,
            email=form.email.data,
            name=form.name.data,
            role=form.role.data,
            password=form.password.data,
            actor_id=current_user.id,
        )
    except DomainError as exc:
        session.rollback()
        fail(exc, form)
        return _page(form, 400)
    session.commit()
    flash(f"{user.name} can now sign in as {user.role}.", "success")
    return redirect(url_for("admin.users"))


def _change(user_id: int, action, success: str):
    """Run one account change for a user, commit, and report it."""
    session = get_session()
    user = accounts.get_user(session=session, user_id=user_id)
    try:
        action(session, user)
    except DomainError as exc:
        session.rollback()
        flash(str(exc), "error")
        return redirect(url_for("admin.users"))
    session.commit()
    flash(success.format(name=user.name), "success")
    return redirect(url_for("admin.users"))


@bp.route("/users/<int:user_id>/role", methods=["POST"])
def set_role(user_id: int):
    """Change a user's role."""
    role = request.form.get("role", "")
    return _change(
        user_id,
        lambda s, u: accounts.set_role(session=s, user=u, role=role, actor_id=current_user.id),
        "{name}'s role is now " + role + ".",
    )


@bp.route("/users/<int:user_id>/deactivate", methods=["POST"])
def deactivate(user_id: int):
    """Deactivate an account: its sessions end at once; its work stays attributed to it."""
    return _change(
        user_id,
        lambda s, u: accounts.set_active(session=s, user=u, active=False, actor_id=current_user.id),
        "{name} is deactivated and signed out everywhere.",
    )


@bp.route("/users/<int:user_id>/reactivate", methods=["POST"])
def reactivate(user_id: int):
    """Reactivate an account."""
    return _change(
        user_id, lambda s, u: accounts.set_active(session=s, user=u, active=True, actor_id=current_user.id), "{name} can sign in again."
    )


@bp.route("/users/<int:user_id>/password", methods=["POST"])
def reset_password(user_id: int):
    """Set a new password for a user (their sessions end)."""
    password = request.form.get("password", "")

    def _reset(session, user):
        """Set the new password (refusing an empty one)."""
        if not password:
            raise InvalidInput("Enter the new password.")
        accounts.set_password(session=session, user=user, password=password, actor_id=current_user.id, action="user.password_reset")

    return _change(user_id, _reset, "{name}'s password is reset; tell them the new one in person.")
