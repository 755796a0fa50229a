"""RIGHTSDB_WARM_CACHE: a server process builds the default release's public cache before any visitor asks."""

from __future__ import annotations

import threading
import time
from datetime import date

from sqlmodel import Session

from rightsdb import create_app
from rightsdb.public import catalog as release_catalog
from rightsdb.publishing.publish import publish_release
from tests.conftest import TINY_CODEBOOK, make_app
from tests.factories.countries import make_country
from tests.factories.querycount import count_queries
from tests.factories.releases import make_final


def _publish(app) -> str:
    codebook = app.extensions["rightsdb.codebook"]
    with Session(app.extensions["rightsdb.engine"], expire_on_commit=False) as session:
        make_final(session, codebook, make_country(session, 0), excerpt="Warm law")
        release = publish_release(
            session=session,
            codebook=codebook,
            exports_dir=app.config["EXPORTS_DIR"],
            version="1.0.0",
            release_date=date(2026, 3, 1),
            synthetic=True,
        )
        session.commit()
        return release.id


def test_a_warming_process_builds_the_default_release_before_the_first_request(db_url, tmp_path):
    first = make_app(db_url, tmp_path, CODEBOOK_PATH=str(TINY_CODEBOOK))
    release_id = _publish(first)
    first.extensions["rightsdb.engine"].dispose()

    app = make_app(db_url, tmp_path, CODEBOOK_PATH=str(TINY_CODEBOOK), WARM_CACHE=True)
    try:
        app.extensions["rightsdb.warm_thread"].join(timeout=60)
        assert list(app.extensions["rightsdb.release_cache"]) == [release_id]
        client = app.test_client()
        with count_queries(app.extensions["rightsdb.engine"]) as queries:
            assert client.get("/").status_code == 200
        assert queries.count == 1  # the release list only: the catalog was already built
    finally:
        app.extensions["rightsdb.engine"].dispose()


def test_warming_without_a_release_or_without_tables_leaves_a_cold_cache_and_a_working_app(db_url, tmp_path):
    app = make_app(db_url, tmp_path, CODEBOOK_PATH=str(TINY_CODEBOOK), WARM_CACHE=True)
    try:
        app.extensions["rightsdb.warm_thread"].join(timeout=60)
        assert len(app.extensions["rightsdb.release_cache"]) == 0
        assert app.test_client().get("/").status_code == 200
    finally:
        app.extensions["rightsdb.engine"].dispose()
    # A database with no tables at all (init-db not run yet): the thread logs and gives up.
    empty = create_app(
        {
            "ENV": "testing",
            "SECRET_KEY": "k" * 40,
            "DATABASE_URL": f"sqlite:///{tmp_path / 'empty.sqlite'}",
            "CODEBOOK_PATH": str(TINY_CODEBOOK),
            "WARM_CACHE": True,
        }
    )
    empty.extensions["rightsdb.warm_thread"].join(timeout=60)
    assert len(empty.extensions["rightsdb.release_cache"]) == 0
    empty.extensions["rightsdb.engine"].dispose()


def test_requests_arriving_during_a_build_wait_for_it_instead_of_building_again(tiny_app, monkeypatch):
    _publish(tiny_app)
    real_build = release_catalog.build_catalog
    builds = []

    def slow_build(**kwargs):
        builds.append(threading.current_thread().name)
        time.sleep(0.3)
        return real_build(**kwargs)

    monkeypatch.setattr(release_catalog, "build_catalog", slow_build)
    tiny_app.extensions["rightsdb.release_cache"].clear()
    statuses = []

    def visit():
        statuses.append(tiny_app.test_client().get("/").status_code)

    visitors = [threading.Thread(target=visit) for _ in range(3)]
    for visitor in visitors:
        visitor.start()
    for visitor in visitors:
        visitor.join(timeout=60)
    assert statuses == [200, 200, 200]
    assert len(builds) == 1


def test_a_server_app_freezes_its_start_up_objects_but_a_test_app_does_not(tmp_path):
    import gc

    gc.unfreeze()
    create_app(
        {
            "ENV": "testing",
            "SECRET_KEY": "k" * 40,
            "DATABASE_URL": f"sqlite:///{tmp_path / 'a.sqlite'}",
            "CODEBOOK_PATH": str(TINY_CODEBOOK),
        }
    ).extensions["rightsdb.engine"].dispose()
    assert gc.get_freeze_count() == 0
    try:
        create_app(
            {
                "ENV": "development",
                "SECRET_KEY": "k" * 40,
                "DATABASE_URL": f"sqlite:///{tmp_path / 'b.sqlite'}",
                "CODEBOOK_PATH": str(TINY_CODEBOOK),
            }
        ).extensions["rightsdb.engine"].dispose()
        assert gc.get_freeze_count() > 10_000
    finally:
        gc.unfreeze()


def test_trusted_proxy_headers_set_the_path_prefix_of_links_and_are_ignored_otherwise(db_url, tmp_path):
    headers = {
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "data.example.org",
        "X-Forwarded-For": "203.0.113.7",
        "X-Forwarded-Prefix": "/rights",
    }
    # The links are relative to the site's root (RIGHTSDB_PUBLIC_URL unset): never the forwarded host.
    for hops, expected in ((1, "/rights/api/v1/answers?"), (0, "/api/v1/answers?")):
        app = make_app(db_url, tmp_path, CODEBOOK_PATH=str(TINY_CODEBOOK), TRUSTED_PROXIES=hops)
        try:
            if hops:
                _publish(app)
            body = app.test_client().get("/api/v1/answers?per_page=1", headers=headers).get_json()
            assert body["pagination"]["next"].startswith(expected), body["pagination"]
        finally:
            app.extensions["rightsdb.engine"].dispose()


def test_trusted_proxies_must_be_a_small_count():
    import pytest

    from rightsdb.config import ConfigError, Settings

    with pytest.raises(ConfigError, match="RIGHTSDB_TRUSTED_PROXIES"):
        Settings.from_env({"RIGHTSDB_TRUSTED_PROXIES": "-1"}).check()
