"""Nobody reaches what they should not: every route of the URL map, walked as each of six personas.

The walk is driven by `app.url_map` and `rightsdb.auth.ACCESS_RULES`, so a new route is checked the
moment it exists: its blueprint must declare a rule, and every URL argument it takes must have a value
in `World.url_values` (the test says which to add).
"""

from __future__ import annotations

import re

import pytest
from flask import Flask, url_for
from flask.testing import FlaskClient
from sqlmodel import Session, select

from rightsdb.coding.citations import CHOOSE_SOURCE
from rightsdb.models import Answer, Citation, LegalSource
from rightsdb.web.access import ACCESS_RULES
from tests.conftest import TINY_CODEBOOK, make_app
from tests.factories.world import (
    HOSTILE,
    IMG,
    IMG_ESCAPED,
    PERSONAS,
    PRIVATE_SOURCE_A,
    PRIVATE_SOURCE_B,
    RELEASED_ISO3,
    SCRIPT,
    SCRIPT_ESCAPED,
    World,
    build_world,
    changed_tables,
    client_as,
    table_snapshot,
    world_app,  # noqa: F401  (fixture)
)

METHODS = ("GET", "POST")
#: routes of a public blueprint that still need a signed-in user (any role): @login_required
SIGNED_IN_ONLY = {"auth.change_password"}
#: failed sign-ins are recorded on purpose (the back-off); nothing else may change
IGNORED_TABLES = ("login_failures",)


def rules(app: Flask):
    """Return every rule but `static`, sorted by endpoint."""
    return sorted((r for r in app.url_map.iter_rules() if r.endpoint != "static"), key=lambda r: (r.endpoint, r.rule))


def build_url(app: Flask, world: World, rule) -> str:
    """Fill a rule's arguments from the world's table; fail naming any argument missing from it."""
    values = world.url_values(app.extensions["rightsdb.codebook"])
    missing = sorted(set(rule.arguments) - set(values))
    assert not missing, (
        f"Route {rule.endpoint} ({rule.rule}) takes {missing}: add a value for it to World.url_values in tests/factories/world.py"
    )
    with app.test_request_context():
        return url_for(rule.endpoint, **{name: values[name] for name in rule.arguments})


def roles_for(endpoint: str):
    """Return the roles of the endpoint's blueprint (None: public); fail when it declares no rule."""
    blueprint = endpoint.split(".")[0]
    assert blueprint in ACCESS_RULES, f"Blueprint {blueprint!r} (endpoint {endpoint}) declares no access rule: call gate() on it"
    return ACCESS_RULES[blueprint]


def persona_role(persona: str) -> str | None:
    return {"anonymous": None, "supervisor": "supervisor", "admin": "admin"}.get(persona, "coder")


def most_privileged(endpoint: str) -> str:
    """Return the persona who may use an endpoint most fully (the owner for coder pages)."""
    roles = roles_for(endpoint)
    if roles is None or "admin" in roles:
        return "admin"
    return "supervisor" if "supervisor" in roles else "coder"


def redirects_to_login(response) -> bool:
    return response.status_code in (301, 302, 303) and "/login" in response.headers.get("Location", "")


def flashed(client: FlaskClient) -> list:
    with client.session_transaction() as flask_session:
        return list(flask_session.get("_flashes", []))


def check(rule, method: str, persona: str, response, client: FlaskClient) -> str | None:
    """Return what is wrong with one response, or None."""
    status = response.status_code
    where = f"{persona} {method} {rule.endpoint} -> {status}"
    if status >= 500:
        return f"{where}: server error"
    roles = roles_for(rule.endpoint)
    if roles is None and rule.endpoint not in SIGNED_IN_ONLY:
        if redirects_to_login(response) or status == 403:
            return f"{where}: a public page must never ask to sign in or refuse"
    elif persona == "anonymous":
        if not redirects_to_login(response):
            return f"{where}: anonymous must be sent to /login"
    elif roles is not None and persona_role(persona) not in roles:
        if status != 403:
            return f"{where}: a signed-in user without the role must get 403"
    elif rule.endpoint.startswith("coder.") and "assignment_id" in rule.arguments and persona in ("other_coder", "foreign_coder"):
        if status not in (403, 404):
            return f"{where}: another coder must not reach coder X's assignment"
    elif method == "POST":
        # An empty form from someone allowed: refused with 4xx, or a redirect carrying a message.
        if not (400 <= status < 500 or (300 <= status < 400 and flashed(client)) or rule.endpoint == "auth.login"):
            return f"{where}: an empty form must be refused (4xx) or redirect with a message"
    return None


def is_authorised(rule, persona: str) -> bool:
    roles = roles_for(rule.endpoint)
    if rule.endpoint in SIGNED_IN_ONLY:
        return persona != "anonymous"
    if roles is None:
        return True
    if persona_role(persona) not in roles:
        return False
    return not (rule.endpoint.startswith("coder.") and "assignment_id" in rule.arguments and persona != "coder")


def test_every_endpoint_belongs_to_a_gated_blueprint(tiny_app):
    endpoints = [r.endpoint for r in rules(tiny_app)]
    assert len(endpoints) > 40
    for endpoint in endpoints:
        roles_for(endpoint)
    # Every non-public rule names real roles.
    assert all(roles is None or set(roles) <= {"admin", "supervisor", "coder"} for roles in ACCESS_RULES.values())


@pytest.mark.parametrize("persona", PERSONAS)
def test_walk_every_route(world_app, persona):
    """GET then POST (empty form) every rule as one persona; unauthorised POSTs change nothing."""
    app, world = world_app
    engine = app.extensions["rightsdb.engine"]
    problems, walked = [], 0
    # GETs first, then POSTs (an allowed POST may legitimately change the world, e.g. sign out).
    for method in METHODS:
        for rule in rules(app):
            if method not in rule.methods:
                continue
            url = build_url(app, world, rule)
            client = client_as(app, world, persona)
            before = table_snapshot(engine) if method == "POST" and not is_authorised(rule, persona) else None
            response = client.open(url, method=method, data={} if method == "POST" else None)
            response.close()  # a served file stays open until closed
            walked += 1
            problem = check(rule, method, persona, response, client)
            if problem:
                problems.append(problem)
            if before is not None:
                changed = changed_tables(before, table_snapshot(engine), ignore=IGNORED_TABLES)
                if changed:
                    problems.append(f"{persona} POST {rule.endpoint}: refused, yet changed {changed}")
    assert walked > 50
    assert not problems, "\n".join(problems)


def test_signed_in_only_routes_need_a_sign_in(world_app):
    """The exceptions to 'public' are real: they do send anonymous visitors to sign in."""
    app, world = world_app
    for rule in rules(app):
        if rule.endpoint in SIGNED_IN_ONLY:
            assert redirects_to_login(app.test_client().get(build_url(app, world, rule)))


def test_missing_url_value_names_the_argument(world_app):
    """A route taking an argument the table lacks fails with a message saying what to add."""
    app, world = world_app

    class FakeRule:
        endpoint, rule, arguments = "public.new_page", "/new/<widget_id>", {"widget_id"}

    with pytest.raises(AssertionError, match="widget_id.*add a value"):
        build_url(app, world, FakeRule())


def test_no_state_change_by_get(world_app):
    """Requesting any GET-able rule as its most privileged persona changes no row of any table."""
    app, world = world_app
    engine = app.extensions["rightsdb.engine"]
    walked = 0
    for rule in rules(app):
        if "GET" not in rule.methods:
            continue
        persona = most_privileged(rule.endpoint)
        before = table_snapshot(engine)
        response = client_as(app, world, persona).get(build_url(app, world, rule))
        response.close()
        assert response.status_code < 500, rule.endpoint
        assert changed_tables(before, table_snapshot(engine), ignore=IGNORED_TABLES) == [], f"GET {rule.endpoint} changed the database"
        walked += 1
    assert walked > 30


@pytest.fixture
def csrf_world_app(db_url, tmp_path):
    app = make_app(db_url, tmp_path, CODEBOOK_PATH=str(TINY_CODEBOOK), WTF_CSRF_ENABLED=True)
    with Session(app.extensions["rightsdb.engine"], expire_on_commit=False) as session:
        world = build_world(session, app.extensions["rightsdb.codebook"], app.config["EXPORTS_DIR"])
    yield app, world
    app.extensions["rightsdb.engine"].dispose()


def test_every_post_without_csrf_token_is_refused(csrf_world_app):
    app, world = csrf_world_app
    engine = app.extensions["rightsdb.engine"]
    checked = 0
    for rule in rules(app):
        if "POST" not in rule.methods:
            continue
        roles = roles_for(rule.endpoint)
        persona = "anonymous" if roles is None and rule.endpoint not in SIGNED_IN_ONLY else most_privileged(rule.endpoint)
        before = table_snapshot(engine)
        response = client_as(app, world, persona).post(build_url(app, world, rule), data={"name": "x", "note": "x", "reason": "x"})
        assert response.status_code == 400, f"{persona} POST {rule.endpoint} without a CSRF token -> {response.status_code}"
        assert changed_tables(before, table_snapshot(engine)) == []
        checked += 1
    assert checked > 15


def assert_escaped(html: str, where: str) -> None:
    assert SCRIPT not in html and IMG not in html, f"raw markup on {where}"
    assert SCRIPT_ESCAPED in html and IMG_ESCAPED in html, f"escaped markup missing on {where}"


def test_hostile_text_is_escaped_wherever_it_is_shown(world_app):
    app, world = world_app
    codebook = app.extensions["rightsdb.codebook"]
    first = codebook.indicator_ids[0]
    pages = [
        ("coder", f"/coder/assignments/{world.assignment_a.id}"),  # excerpt, notes, pinpoint, source title
        ("coder", f"/coder/assignments/{world.assignment_a.id}/sources"),  # source titles
        ("coder", f"/coder/assignments/{world.assignment_a.id}/sources/{world.source_x.id}"),
        ("supervisor", f"/supervisor/country-rounds/{world.country_round_x.id}/indicators/{first}"),  # both coders side by side
        ("supervisor", f"/supervisor/rounds/{world.round_.id}"),  # coder names
        ("supervisor", "/supervisor/flags"),  # flag note
        ("anonymous", f"/countries/{RELEASED_ISO3}"),  # released excerpt and source title
        ("anonymous", f"/indicators/{first}"),
        ("admin", "/admin/users"),  # user names
    ]
    for persona, url in pages:
        response = client_as(app, world, persona).get(url)
        assert response.status_code == 200, url
        assert_escaped(response.get_data(as_text=True), url)
    assert (
        HOSTILE
        in client_as(app, world, "anonymous")
        .get(f"/api/v1/answers?country={RELEASED_ISO3}")
        .get_json()["answers"][0]["citations"][0]["excerpt"]
    )


BAD_FILTERS = [
    "/?sort=nonsense",
    "/?sort=__class__",
    "/?round=1999",
    "/?region=Atlantis",
    "/?region=<script>",
    "/chart/aggregates.svg?round=nope",
    "/chart/aggregates.svg?region=Mars",
    "/table?country=ZZZ",
    "/table?category=NOPE",
    "/table?indicator=NOPE-01",
    "/table?round=1999",
    "/table.csv?country=ZZZ",
    "/table.xlsx?indicator=X",
    "/api/v1/countries?country=ZZZ",
    "/api/v1/countries?colour=blue",
    "/api/v1/scores?round=1999",
    "/api/v1/scores?category=NOPE",
    "/api/v1/answers?indicator=NOPE",
    "/api/v1/matrix?release=9.9.9",
    "/api/v1/matrix?release=1.0.0,1.0.0",
    "/api/v1/indicators?category=NOPE",
    "/api/v1/releases?sort=x",
]
NOT_FOUND = [
    "/?release=9.9.9",
    "/countries/ZZZ",
    "/indicators/NOPE-99",
    "/downloads/9.9.9/x.csv",
    "/downloads/1.0.0/../../etc/passwd",
    "/chart/countries/ZZZ.svg",
    "/api/v1/nothing",
]


def test_unknown_sort_and_filter_values_are_refused(world_app):
    """Allow-lists: a sort key or filter value that does not exist is a 400, never a 500."""
    app, world = world_app
    client = client_as(app, world, "anonymous")
    answers = {url: client.get(url).status_code for url in BAD_FILTERS}
    assert answers == {url: 400 for url in BAD_FILTERS}


def test_unknown_objects_are_not_found(world_app):
    app, world = world_app
    client = client_as(app, world, "anonymous")
    answers = {url: client.get(url).status_code for url in NOT_FOUND}
    assert answers == {url: 404 for url in NOT_FOUND}


# ---- blind legal sources: nothing of the other coder's sources before both submit ------------------

#: persona -> (their own assignment, the private sources of others they must learn nothing about)
BLIND = {
    "coder": ("assignment_a", ("source_b",)),
    "other_coder": ("assignment_b", ("source_a",)),
    "foreign_coder": ("assignment_y", ("source_a", "source_b")),
}
PRIVATE = {"source_a": PRIVATE_SOURCE_A, "source_b": PRIVATE_SOURCE_B}


def private_strings(names) -> list[str]:
    return [text for name in names for text in PRIVATE[name].values()]


def source_option_values(html: str) -> set[str]:
    """Return the option values of every citation row's source select on a page."""
    selects = re.findall(r'<select name="[^"]*-source"[^>]*>(.*?)</select>', html, flags=re.S)
    return {value for block in selects for value in re.findall(r'<option value="([^"]*)"', block)}


@pytest.mark.parametrize("persona", sorted(BLIND))
def test_no_coder_learns_anything_of_the_other_coders_sources(world_app, persona):
    """Every route, GET and POST, pointed at the coder's own assignment and at the other's private source ids."""
    app, world = world_app
    engine = app.extensions["rightsdb.engine"]
    codebook = app.extensions["rightsdb.codebook"]
    own = getattr(world, BLIND[persona][0])
    hidden = private_strings(BLIND[persona][1])
    problems, walked = [], 0
    for name in BLIND[persona][1]:
        other = getattr(world, name)
        # A forged edit and a forged citation, with every field a form of the coder's pages reads.
        forged = {"instrument_type": "statute", "title": "Hijacked", "url": "https://hijack.example/", "category": ""}
        for i in codebook.indicator_ids:
            forged |= {f"{i}-version": "1", f"{i}-value": "provided", f"{i}-source": str(other.id), f"{i}-pinpoint": "Art. 1"}
        for method in METHODS:
            for rule in rules(app):
                if method not in rule.methods:
                    continue
                values = world.url_values(codebook) | {"assignment_id": own.id, "source_id": other.id}
                with app.test_request_context():
                    url = url_for(rule.endpoint, **{arg: values[arg] for arg in rule.arguments})
                forging_a_citation = rule.endpoint == "coder.save" and method == "POST" and persona != "foreign_coder"
                before = table_snapshot(engine) if forging_a_citation else None
                client = client_as(app, world, persona)
                response = client.open(url, method=method, data=forged if method == "POST" else None, follow_redirects=True)
                body = response.get_data().decode("utf-8", "replace")
                response.close()
                walked += 1
                where = f"{persona} {method} {url}"
                problems += [f"{where}: shows {text!r}" for text in hidden if text in body]
                if str(other.id) in source_option_values(body):
                    problems.append(f"{where}: offers the other coder's source id {other.id} in a source list")
                if "source_id" in rule.arguments and rule.endpoint.startswith("coder.") and response.status_code != 404:
                    problems.append(f"{where}: -> {response.status_code}, not 404 (it must not confirm the source exists)")
                if forging_a_citation and (
                    CHOOSE_SOURCE not in body or changed_tables(before, table_snapshot(engine), ignore=IGNORED_TABLES)
                ):
                    problems.append(f"{where}: a citation of the other coder's source was not refused with a message, or wrote something")
        with Session(engine) as session:
            row = session.get(LegalSource, other.id)
            assert (row.title, row.url, row.assignment_id) == (PRIVATE[name]["title"], PRIVATE[name]["url"], other.assignment_id)
            citing = session.exec(
                select(Answer.assignment_id).join(Citation, Citation.answer_id == Answer.id).where(Citation.source_id == other.id)
            )
            assert set(citing) == {other.assignment_id}
    assert walked > 60
    assert not problems, "\n".join(problems)


def test_a_coder_sees_their_own_private_source_and_the_other_sees_it_once_both_submit(world_app):
    """The walk's checks are not vacuous: the strings and ids it looks for are there for the owner, and for both after submission."""
    app, world = world_app
    codebook = app.extensions["rightsdb.codebook"]
    a_pages = [f"/coder/assignments/{world.assignment_a.id}", f"/coder/assignments/{world.assignment_a.id}/sources"]
    coder = client_as(app, world, "coder")
    assert PRIVATE_SOURCE_A["title"] in coder.get(a_pages[0]).get_data(as_text=True)  # the dropdown and the citation
    assert all(text in coder.get(a_pages[1]).get_data(as_text=True) for text in private_strings(["source_a"]))
    assert str(world.source_a.id) in source_option_values(coder.get(a_pages[0]).get_data(as_text=True))
    assert coder.get(f"{a_pages[1]}/{world.source_a.id}").status_code == 200
    # Coder X answers the last indicator and submits: B had submitted already, so both sources join the register.
    last = codebook.indicator_ids[-1]
    data = {f"{last}-version": "0", f"{last}-value": "not_provided", f"{last}-notes": "Searched the Aliens Act; nothing.", "category": ""}
    data["submit_assignment"] = "1"
    engine = app.extensions["rightsdb.engine"]
    with Session(engine) as session:
        b = session.get(type(world.assignment_b), world.assignment_b.id)
        b.status = "submitted"
        session.add(b)
        session.commit()
    assert coder.post(f"/coder/assignments/{world.assignment_a.id}/save", data=data).status_code == 303
    other = client_as(app, world, "other_coder")
    body = other.get(f"/coder/assignments/{world.assignment_b.id}/sources").get_data(as_text=True)
    assert all(text in body for text in private_strings(["source_a"]))
    assert str(world.source_a.id) in source_option_values(other.get(f"/coder/assignments/{world.assignment_b.id}").get_data(as_text=True))
    foreign = client_as(app, world, "foreign_coder").get(f"/coder/assignments/{world.assignment_y.id}/sources").get_data(as_text=True)
    assert not any(text in foreign for text in private_strings(["source_a", "source_b"]))  # another country's register
