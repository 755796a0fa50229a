"""One place that turns errors into answers: HTTP errors and uncaught domain errors, pages or JSON.

Views catch the domain errors they can explain next to a form; whatever escapes them lands here, so a
missing object is a 404 page and a refused action a 4xx with its message on every blueprint, and an
unexpected failure is a plain 500 page (JSON under /api/), never a traceback. A database that is out
of reach or has no rightsdb tables is a 503 saying so, whatever the page.
"""

from __future__ import annotations

from flask import Flask, current_app, flash, jsonify, render_template, request
from flask_wtf import FlaskForm
from werkzeug.exceptions import HTTPException

from rightsdb.availability import DATABASE_ERRORS, database_problem
from rightsdb.errors import Conflict, DomainError, Forbidden, InvalidInput, NotFound

#: The status of each domain error that reaches the application uncaught.
DOMAIN_STATUS: dict[type[DomainError], int] = {NotFound: 404, Forbidden: 403, Conflict: 409, InvalidInput: 400, DomainError: 400}

#: What the page says for each HTTP status when the error carries no message of its own.
MESSAGES = {
    400: "The request could not be understood.",
    403: "You do not have access to this page.",
    404: "There is nothing at this address.",
    405: "This address does not accept that kind of request.",
    409: "Someone else changed this first; nothing was overwritten.",
    413: "The file or form sent is too large.",
    429: "Too many attempts. Wait a few minutes and try again.",
    500: "Something went wrong on our side; nothing was changed. Try again, and tell the administrator if it happens again.",
}


def domain_status(error: DomainError) -> int:
    """Return the HTTP status of a domain error (the closest class listed in DOMAIN_STATUS)."""
    for kind in type(error).__mro__:
        if kind in DOMAIN_STATUS:
            return DOMAIN_STATUS[kind]
    return 400


def _answer(code: int, message: str):
    if request.path.startswith("/api/"):
        return jsonify({"error": message, "status": code}), code
    return render_template("error.html", code=code, message=message), code


def _http_error(error: HTTPException):
    code = error.code or 500
    description = error.description if error.description != type(error).description else None
    # Werkzeug's generic 429 and 403 texts are replaced by ours; a specific message is kept.
    return _answer(code, description or MESSAGES.get(code, error.name))


def _domain_error(error: DomainError):
    return _answer(domain_status(error), str(error))


def _server_error(_error):
    return _answer(500, MESSAGES[500])


def _database_error(error: Exception):
    problem = database_problem(current_app.extensions["rightsdb.engine"])
    if problem is None:
        raise error  # not the database's state: the 500 page, logged with its traceback
    current_app.logger.error("%s %s: %s", request.method, request.path, problem)
    if request.path.startswith("/api/"):
        return jsonify({"error": problem, "status": 503}), 503
    # Not error.html: its layout asks the database who is signed in.
    return render_template("unavailable.html", message=problem), 503


def fail(exc: DomainError, form: FlaskForm | None = None) -> None:
    """Show a domain error a view caught as a flashed message, and next to the fields of `form` it names."""
    flash(str(exc), "error")
    if form is not None and isinstance(exc, InvalidInput):
        for name, message in exc.problems:
            if name in form._fields:
                form._fields[name].errors = list(form._fields[name].errors) + [message]


def init_app(app: Flask) -> None:
    """Install the application-wide error handlers (a blueprint may still answer its own 400 and 404 errors)."""
    for code in (400, 403, 404, 405, 409, 413, 429):
        app.register_error_handler(code, _http_error)
    app.register_error_handler(DomainError, _domain_error)
    for kind in DATABASE_ERRORS:
        app.register_error_handler(kind, _database_error)
    app.register_error_handler(500, _server_error)
