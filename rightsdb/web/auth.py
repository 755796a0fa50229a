"""Sign in, sign out and change one's own password."""

from __future__ import annotations

import math
import time
from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, make_response, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from itsdangerous import BadData, URLSafeTimedSerializer
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


#: The cookie that marks a browser as one a user signed in from (OWASP's device cookie).
DEVICE_COOKIE = "rightsdb_device"
DEVICE_MAX_AGE = 180 * 24 * 3600  # seconds a browser stays trusted without signing in again
REFUSALS = {
    "account": "Too many failed sign-ins for this email address. Try again in {wait}, "
    "or sign in from a browser you signed in to this account with before.",
    "address": "Too many failed sign-ins from your network address. Try again in {wait}.",
    "device": "Too many failed sign-ins from this browser. Try again in {wait}.",
}


def _devices() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt="rightsdb.device")


def _trusted_device(user) -> str | None:
    """Return the id of this request's device cookie if it is valid for `user` (signed, current, theirs)."""
    raw = request.cookies.get(DEVICE_COOKIE)
    if not raw or user is None:
        return None
    try:
        data = _devices().loads(raw, max_age=DEVICE_MAX_AGE)
    except BadData:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("d"), str):
        return None
    return data["d"] if accounts.trusts_device(user, user_id=data.get("u"), secret=data.get("s")) else None


def _trust_browser(response, user, secret: str):
    """Give this browser a new device cookie for `user` (one account per browser: the latest sign-in)."""
    token = _devices().dumps({"u": user.id, "d": accounts.new_nonce(), "s": secret})
    secure = request.is_secure or current_app.config.get("SESSION_COOKIE_SECURE", False)
    response.set_cookie(
        DEVICE_COOKIE, token, max_age=DEVICE_MAX_AGE, path=url_for("auth.login"), secure=secure, httponly=True, samesite="Lax"
    )
    return response


def _refuse(form: LoginForm, attempt: accounts.Attempt):
    minutes = max(1, math.ceil(attempt.retry_after / 60))
    flash(REFUSALS[attempt.refused.split(":", 1)[0]].format(wait=f"{minutes} minute{'' if minutes == 1 else 's'}"), "error")
    response = make_response(render_template("auth/login.html", form=form), 429)
    response.headers["Retry-After"] = str(attempt.retry_after)
    return response


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Show the sign-in form and sign the user in, within the limits per account, address and trusted browser.

    The attempt is reserved (counted as a failure) and committed before the password is checked, so
    concurrent guesses cannot all pass the limit. A browser holding a valid device cookie for the
    account is limited only per device cookie: a third party's failures cannot lock its user out.
    """
    if current_user.is_authenticated:
        return redirect(home_for(current_user))
    form = LoginForm()
    if form.validate_on_submit():
        session, config = get_session(), current_app.config
        email = form.email.data.strip().lower()
        device = _trusted_device(accounts.find_user(session=session, email=email))
        if device:
            limits = {f"device:{device}": config["LOGIN_MAX_FAILURES"]}
        else:
            limits = {
                f"account:{email}": config["LOGIN_MAX_FAILURES"],
                accounts.address_key(request.remote_addr): config["LOGIN_MAX_ADDRESS_FAILURES"],
            }
        attempt = accounts.reserve_attempt(session=session, limits=limits, window_seconds=config["LOGIN_WINDOW_SECONDS"])
        session.commit()
        if attempt.refused:
            return _refuse(form, attempt)
        user = accounts.authenticate(session=session, email=email, password=form.password.data)
        if user is None:
            # Each further failure is answered more slowly, until the limit refuses outright.
            time.sleep(min(config.get("LOGIN_SLOWDOWN_SECONDS", 0.2) * attempt.failures, 2.0))
            flash("Unknown email or wrong password.", "error")
            return render_template("auth/login.html", form=form), 200
        # A success removes its own reservation only: failures of the account and address stand until
        # they expire (signing in to one's own account must not reset the count of guesses at others).
        accounts.release_attempt(session=session, attempt=attempt)
        if device:
            accounts.clear_failures(session=session, keys=list(limits))
        secret = accounts.device_secret(session=session, user=user)
        session.commit()
        login_user(user)
        return _trust_browser(redirect(_safe_next(request.args.get("next")) or home_for(user)), user, secret)
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
        secret = accounts.device_secret(session=session, user=user)
        session.commit()
        login_user(user)  # re-issue the cookie with the new nonce for this browser only
        flash("Your password is changed. Other sessions were signed out.", "success")
        return _trust_browser(redirect(home_for(user)), user, secret)  # the only browser still trusted
    return render_template("auth/password.html", form=form), (400 if form.is_submitted() else 200)
