"""What the views load before they act: the codebook, row ids from URLs and forms, and objects or 404."""

from __future__ import annotations

from flask import current_app
from werkzeug.routing import IntegerConverter

from rightsdb.codebook import Codebook
from rightsdb.models import MAX_ROW_ID, Release
from rightsdb.public.catalog import Catalog, cached_catalog, catalog_cache
from rightsdb.web.session import get_session


class RowIdConverter(IntegerConverter):
    """`<int:...>` URL parts, bounded by MAX_ROW_ID so that a huge number is a 404, never a 500."""

    def __init__(self, map, fixed_digits=0, min=None, max=MAX_ROW_ID, signed=False):  # noqa: A002 (werkzeug's names)
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


def get_codebook() -> Codebook:
    """Return the application's validated codebook."""
    return current_app.extensions["rightsdb.codebook"]


def release_catalog(release: Release) -> Catalog:
    """Return the derived public data of a release, from the application's cache (built on first use)."""
    cache = current_app.extensions.get("rightsdb.release_cache")
    if cache is None:
        cache = current_app.extensions["rightsdb.release_cache"] = catalog_cache()
    return cached_catalog(session=get_session(), codebook=get_codebook(), release=release, cache=cache)
