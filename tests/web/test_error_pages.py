"""One error handler for the whole application: HTTP errors and escaped domain errors become pages (JSON under /api/).

A view that lets a domain error escape gets the status its class stands for, with its message; an
unexpected exception is a plain 500 page that shows no traceback, and JSON in the API.
"""

from __future__ import annotations

import pytest

from rightsdb.errors import Conflict, DomainError, Forbidden, InvalidInput, NotFound
from rightsdb.web.errors import domain_status
from tests.conftest import TINY_CODEBOOK, make_app


@pytest.mark.parametrize(
    ("error", "status"),
    [(NotFound("x"), 404), (Forbidden("x"), 403), (Conflict("x"), 409), (InvalidInput("x"), 400), (DomainError("x"), 400)],
)
def test_each_domain_error_has_its_status(error, status):
    assert domain_status(error) == status


@pytest.fixture
def failing_app(tmp_path):
    """A production-like app (exceptions are not propagated to the test) with routes that fail."""
    app = make_app(f"sqlite:///{tmp_path / 'errors.sqlite'}", tmp_path, CODEBOOK_PATH=str(TINY_CODEBOOK), PROPAGATE_EXCEPTIONS=False)

    def missing():
        raise NotFound("There is no such round: it may have been removed.")

    def refused():
        raise Conflict("Someone else decided this first; nothing was changed.")

    def broken():
        raise RuntimeError("secret internal detail")

    app.add_url_rule("/test-only/missing", "missing", missing)
    app.add_url_rule("/test-only/refused", "refused", refused)
    app.add_url_rule("/test-only/broken", "broken", broken)
    app.add_url_rule("/api/test-only/broken", "api_broken", broken)
    yield app
    app.extensions["rightsdb.engine"].dispose()


def test_an_escaped_domain_error_is_a_page_with_its_status_and_message(failing_app):
    client = failing_app.test_client()
    missing = client.get("/test-only/missing")
    assert missing.status_code == 404 and "There is no such round: it may have been removed." in missing.get_data(as_text=True)
    refused = client.get("/test-only/refused")
    assert refused.status_code == 409 and "Someone else decided this first" in refused.get_data(as_text=True)


def test_an_unexpected_error_is_a_plain_500_page_without_the_traceback(failing_app):
    response = failing_app.test_client().get("/test-only/broken")
    page = response.get_data(as_text=True)
    assert response.status_code == 500 and response.mimetype == "text/html"
    assert "Something went wrong on our side" in page and "secret internal detail" not in page and "Traceback" not in page


def test_the_api_answers_errors_in_json(failing_app):
    response = failing_app.test_client().get("/api/test-only/broken")
    assert response.status_code == 500 and response.is_json
    assert response.get_json()["status"] == 500 and "secret" not in response.get_data(as_text=True)


def test_an_unknown_release_is_a_404_that_names_it(tiny_app):
    response = tiny_app.test_client().get("/countries/XAA?release=9.9.9")
    assert response.status_code == 404 and "Unknown release &#39;9.9.9&#39;" in response.get_data(as_text=True)
