"""The Frictionless data package (datapackage.json): a schema and a checksum for every CSV resource."""

from __future__ import annotations

from datetime import datetime, time

import pandas as pd

from rightsdb.codebook import Codebook
from rightsdb.codebook.rules import ANSWER_CODES
from rightsdb.publishing import scoring
from rightsdb.publishing.changelog import CHANGE_COLUMNS
from rightsdb.publishing.documents import LICENSE, TABLE_TITLES
from rightsdb.publishing.formats import RELEASE_FORMAT
from rightsdb.publishing.tables import ANSWER_COLUMNS, LONG_COLUMNS

#: The key, under "rightsdb", of the CSV rule the release's CSV files were written with.
CSV_RULE_KEY = "csv_rule"
#: The key, under "rightsdb", of the release format (formats.RELEASE_FORMAT) of the files.
FORMAT_KEY = "format"


def _field_type(series: pd.Series, name: str) -> str:
    """Map a column to a Frictionless field type."""
    if name in ("reference_date", "date_in_force"):
        return "date"
    if pd.api.types.is_bool_dtype(series):
        return "boolean"
    if pd.api.types.is_integer_dtype(series):
        return "integer"
    if pd.api.types.is_float_dtype(series):
        return "number"
    return "string"


def _schema(frame: pd.DataFrame, descriptions: dict[str, str]) -> dict:
    fields = []
    for name in frame.columns:
        field = {"name": str(name), "type": _field_type(frame[name], str(name))}
        if name in descriptions:
            field["description"] = descriptions[name]
        if name in ANSWER_COLUMNS:
            field["constraints"] = {"enum": list(ANSWER_CODES)}
        fields.append(field)
    return {"fields": fields}


def datapackage(
    release, codebook: Codebook, tables: dict[str, pd.DataFrame], hashes: dict[str, str], sizes: dict[str, int], *, csv_rule: int
) -> dict:
    """Describe the release as a Frictionless data package: a schema and checksum per CSV resource.

    `rightsdb.format` records the release format (formats.RELEASE_FORMAT), and `rightsdb.csv_rule` the
    CSV rule of the files (formats.csv.CSV_RULES), left out for rule 0 as in the releases published
    before the rules were numbered. `hashes` covers every file written before this one, the workbook too.
    """
    descriptions = {"long": dict(LONG_COLUMNS), "changes": dict(CHANGE_COLUMNS)}
    scheme = codebook.scheme(release.scheme)
    description = "Migrant rights in national law: final coded values, scores, reliability and legal citations."
    if release.synthetic:
        description = "Synthetic demonstration data (fictional countries, no finding about any real country's law). " + description
    return {
        "profile": "data-package",
        "name": "rightsdb-" + release.version.replace(".", "-").lower(),
        "title": release.title,
        "description": description,
        "version": release.version,
        "created": datetime.combine(release.release_date, time()).isoformat() + "Z",
        "licenses": [LICENSE],
        "sources": [{"title": codebook.codebook.reference or codebook.codebook.title}],
        "keywords": ["migrant rights", "legal coding", *(["synthetic demonstration data"] if release.synthetic else [])],
        "rightsdb": {
            FORMAT_KEY: RELEASE_FORMAT,
            "codebook_version": release.codebook_version,
            "scheme": {"id": scheme.id, "label": scheme.label, "scores": dict(scheme.scores)},
            "aggregation": release.aggregation,
            "synthetic": release.synthetic,
            "formulas": scoring.FORMULAS,
            **({CSV_RULE_KEY: csv_rule} if csv_rule else {}),
            "files": {name: {"sha256": digest, "bytes": sizes[name]} for name, digest in sorted(hashes.items())},
        },
        "resources": [
            {
                "name": name,
                "path": f"data/{name}.csv",
                "profile": "tabular-data-resource",
                "title": TABLE_TITLES[name],
                "format": "csv",
                "mediatype": "text/csv",
                "encoding": "utf-8",
                "hash": "sha256:" + hashes[f"data/{name}.csv"],
                "bytes": sizes[f"data/{name}.csv"],
                "schema": _schema(frame, descriptions.get(name, {})),
            }
            for name, frame in tables.items()
        ],
    }
