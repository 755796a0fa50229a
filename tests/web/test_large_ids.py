"""Ids larger than the id columns hold are a 404 or a 400 on every route, on both engines, never a 500.

The id columns are INTEGER: 32-bit on PostgreSQL (2**31 - 1 at most), 64-bit on SQLite. One parser
(`models.parse_row_id`, and the URL converter built on the same bound) refuses anything larger, so
PostgreSQL never sees an "integer out of range".
"""

from __future__ import annotations

import pytest
from flask import url_for

from rightsdb.models import MAX_ROW_ID, parse_row_id
from rightsdb.web.loaders import RowIdConverter
from tests.factories.world import client_as, world_app  # noqa: F401  (fixture)

TOO_LARGE = (2**31, 2**63 - 1, 2**63, 10**30)


def test_the_id_bound_is_the_smaller_engines_column():
    assert MAX_ROW_ID == 2**31 - 1
    assert parse_row_id(str(2**31 - 1)) == 2**31 - 1
    assert [parse_row_id(str(n)) for n in TOO_LARGE] == [None] * len(TOO_LARGE)


def id_routes(app):
    """Every rule with at least one id (int) argument, with the names of those arguments."""
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.endpoint):
        ids = [name for name, converter in rule._converters.items() if isinstance(converter, RowIdConverter)]
        if ids:
            yield rule, ids


@pytest.mark.parametrize("persona", ["coder", "supervisor", "admin"])
def test_every_id_route_refuses_ids_the_columns_cannot_hold(world_app, persona):  # noqa: F811
    app, world = world_app
    client = client_as(app, world, persona)
    values = world.url_values(app.extensions["rightsdb.codebook"])
    routes = list(id_routes(app))
    assert len(routes) > 10
    answered = []
    for rule, ids in routes:
        for number in TOO_LARGE:
            arguments = {name: (number if name in ids else values[name]) for name in rule.arguments}
            if number > 2**63 - 1:
                path = rule.rule
                for name in rule.arguments:
                    path = path.replace(f"<int:{name}>", str(arguments[name])).replace(f"<{name}>", str(arguments[name]))
                    path = path.replace(f"<path:{name}>", str(arguments[name]))
            else:
                with app.test_request_context():
                    path = url_for(rule.endpoint, **arguments)
            for method in sorted(rule.methods & {"GET", "POST"}):
                status = client.open(path, method=method).status_code
                answered.append((rule.endpoint, method, number, status))
    assert [a for a in answered if a[3] >= 500] == []
    assert {a[3] for a in answered} <= {302, 303, 400, 403, 404, 405, 409, 422}


def test_ids_in_query_strings_and_forms_are_refused_too(world_app):  # noqa: F811
    app, world = world_app
    supervisor = client_as(app, world, "supervisor")
    for number in TOO_LARGE:
        assert supervisor.get(f"/supervisor/?round={number}").status_code in (400, 404)
        assert supervisor.get(f"/supervisor/reliability?round={number}").status_code in (400, 404)
        response = supervisor.post(f"/supervisor/assignments/{world.assignment_a.id}/reassign", data={"coder_id": str(number)})
        assert response.status_code < 500
