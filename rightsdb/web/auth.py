"""Sign in, sign out and change one's own password."""

from __future__ import annotations

import time
from urllib.parse import urlsplit

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, EqualTo, Length

from rightsdb.accounts import users as accounts
from rightsdb.errors import InvalidInput
from rightsdb.web.access import gate, home_for
from rightsdb.web.session import get_session

bp = Blueprint("auth", __name__)
gate(bp, public=True)


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=200)])


class PasswordForm(FlaskForm):
    current_password = PasswordField("Current password", validators=[DataRequired(), Length(max=200)])
    new_password = PasswordField("New password", validators=[DataRequired(), Length(min=accounts.MIN_PASSWORD_LENGTH, max=200)])
    confirm = PasswordField("Repeat the new password", validators=[DataRequired(), EqualTo("new_password", "The two passwords differ.")])


def _safe_next(target: str | None) -> str | None:
    """Accept only a local path as the page to return to after signing in."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Show the sign-in form and sign the user in."""
    if current_user.is_authenticated:
        return redirect(home_for(current_user))
    form = LoginForm()
    if form.validate_on_submit():
        session = get_session()
        email = form.email.data.strip().lower()
        keys = [f"account:{email}", f"address:{request.remote_addr}"]
        failures = accounts.recent_failures(session=session, keys=keys, window_seconds=current_app.config["LOGIN_WINDOW_SECONDS"])
        if failures >= current_app.config["LOGIN_MAX_FAILURES"]:
            abort(429)
        user = accounts.authenticate(session=session, email=email, password=form.password.data)
        if user is None:
            accounts.record_failure(session=session, keys=keys)
            session.commit()
            # Each further failure is answered more slowly, until the limit above refuses outright.
            time.sleep(min(current_app.config.get("LOGIN_SLOWDOWN_SECONDS", 0.2) * failures, 2.0))
            flash("Unknown email or wrong password.", "error")
            return render_template("auth/login.html", form=form), 200
        accounts.clear_failures(session=session, keys=keys)
        session.commit()
        login_user(user)
        return redirect(_safe_next(request.args.get("next")) or home_for(user))
    return render_template("auth/login.html", form=form)


@bp.route("/logout", methods=["POST"])
def logout():
    """Sign out and invalidate every copy of the session cookie."""
    if current_user.is_authenticated:
        session = get_session()
        accounts.rotate_nonce(session=session, user=current_user._get_current_object())
        session.commit()
    logout_user()
    flash("You are signed out.", "info")
    return redirect(url_for("public.index"))


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password():
    """Let a signed-in user change their own password."""
    form = PasswordForm()
    if form.validate_on_submit():
        session = get_session()
        user = current_user._get_current_object()
        try:
            accounts.change_own_password(session=session, user=user, current=form.current_password.data, new=form.new_password.data)
        except InvalidInput as exc:
            form.current_password.errors = [str(exc)]
            return render_template("auth/password.html", form=form), 400
        session.commit()
        login_user(user)  # re-issue the cookie with the new nonce for this browser only
        flash("Your password is changed. Other sessions were signed out.", "success")
        return redirect(home_for(user))
    return render_template("auth/password.html", form=form), (400 if form.is_submitted() else 200)
