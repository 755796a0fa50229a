"""Custom tables and release downloads (no account needed): pick countries, categories, indicators and rounds, see and download them; every published file, served as stored."""

from __future__ import annotations

import sys
from pathlib import Path

from flask import Response, abort, current_app, render_template, request, send_from_directory
from markupsafe import Markup

from rightsdb.public.catalog import Catalog
from rightsdb.publishing import tables
from rightsdb.publishing.formats.csv import CSV_RULE, csv_bytes
from rightsdb.publishing.formats.xlsx import xlsx_bytes
from rightsdb.publishing.publish import list_releases, release_files
from rightsdb.web.loaders import get_codebook
from rightsdb.web.public import bp, chosen_release, page_fragments, release_page
from rightsdb.web.session import get_session


def _table_choice(catalog: Catalog):
    """Read and check the custom table's choices (countries, categories, indicators, rounds)."""
    codebook = get_codebook()
    choice = {
        "countries": [v.upper() for v in request.args.getlist("country") if v],
        "categories": [v for v in request.args.getlist("category") if v],
        "indicators": [v for v in request.args.getlist("indicator") if v],
        "rounds": [v for v in request.args.getlist("round") if v],
    }
    allowed = {
        "countries": catalog.countries,
        "categories": codebook.categories_by_id,
        "indicators": codebook.indicators_by_id,
        "rounds": catalog.rounds,
    }
    for key, values in choice.items():
        unknown = [v for v in values if v not in allowed[key]]
        if unknown:
            abort(400, f"Unknown {key}: {', '.join(unknown)}.")
    return choice


def _table_request():
    """Return (releases, catalog, choice, cache key of the choice) of a custom-table request."""
    releases, catalog = chosen_release()
    choice = _table_choice(catalog)
    # The table does not depend on the order or repetition of the picked values.
    return releases, catalog, choice, tuple(frozenset(values) for values in choice.values())


def _table_frame(catalog: Catalog, choice: dict):
    return tables.custom_table(catalog.long(get_codebook()), **choice)


@bp.route("/table")
def table():
    """Build a custom table: pick countries, categories or indicators, see it and download it."""
    releases, catalog, choice, key = _table_request()
    columns = list(tables.LONG_COLUMNS)
    # With nothing picked the table is the whole release: offer the download rather than a huge page.
    picked = any(choice.values())

    def build() -> tuple[int, Markup]:
        preview = tables.frame_records(_table_frame(catalog, choice))
        return len(preview), page_fragments().table_rows(preview, columns)

    count, rows_html = catalog.memo.get(("table-rows", *key), build, lambda v: sys.getsizeof(v[1]) + 64) if picked else (0, Markup(""))
    return release_page(
        "public/table.html",
        releases,
        catalog,
        choice=choice,
        picked=picked,
        total=len(catalog.records),
        columns=columns,
        count=count,
        rows_html=rows_html,
        query=request.query_string.decode(),
    )


def _download_name(catalog: Catalog, extension: str) -> str:
    return f"rightsdb-{catalog.release.version}-table.{extension}"


@bp.route("/table.csv")
def table_csv():
    """Download the custom table as CSV, under the current CSV rule (formula text guarded) whatever the release's own files follow."""
    _releases_list, catalog, choice, key = _table_request()
    body = catalog.memo.get(("table-csv", *key), lambda: csv_bytes(_table_frame(catalog, choice), CSV_RULE))
    return Response(body, mimetype="text/csv", headers={"Content-Disposition": f'attachment; filename="{_download_name(catalog, "csv")}"'})


@bp.route("/table.xlsx")
def table_xlsx():
    """Download the custom table as an Excel workbook."""
    _releases_list, catalog, choice, key = _table_request()
    body = catalog.memo.get(("table-xlsx", *key), lambda: xlsx_bytes({"table": _table_frame(catalog, choice)}))
    return Response(
        body,
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f'attachment; filename="{_download_name(catalog, "xlsx")}"'},
    )


@bp.route("/downloads")
def downloads():
    """List the published releases with notes, checksums, files and the suggested citation."""
    from rightsdb.publishing.documents import suggested_citation

    releases = list_releases(session=get_session())
    exports_dir = current_app.config["EXPORTS_DIR"]
    items = [
        {"release": r, "files": release_files(exports_dir=exports_dir, release=r), "citation": suggested_citation(r)} for r in releases
    ]
    return render_template("public/downloads.html", items=items)


@bp.route("/downloads/<version>/<path:filename>")
def release_file(version: str, filename: str):
    """Serve a published file exactly as stored (never regenerated)."""
    releases = list_releases(session=get_session())
    if not any(r.version == version for r in releases):
        abort(404)
    folder = Path(current_app.config["EXPORTS_DIR"]) / version
    return send_from_directory(folder, filename, as_attachment=True)
