"""Export layer: golden CSV files, data package validity, Stata labels, Excel formula safety."""

from datetime import date
from pathlib import Path

import frictionless
import pandas as pd
import pytest
from openpyxl import load_workbook
from sqlmodel import Session

from rightsdb.codebook.rules import ANSWER_CODES
from rightsdb.publishing.formats.csv import UNDO_PATTERN, csv_bytes
from rightsdb.publishing.formats.stata import write_stata
from rightsdb.publishing.formats.xlsx import xlsx_bytes
from rightsdb.publishing.publish import publish_release
from rightsdb.publishing.tables import codebook_table, long_table, matrix_table
from tests.conftest import GOLDEN
from tests.factories.releases import make_golden_data

CSV_NAMES = ("long", "matrix", "scores", "codebook", "countries", "reliability", "citations", "changes")


@pytest.fixture
def folder(tiny_app):
    """Publish the golden data set as release 1.0.0 and return its folder."""
    book = tiny_app.extensions["rightsdb.codebook"]
    exports_dir = Path(tiny_app.config["EXPORTS_DIR"])
    with Session(tiny_app.extensions["rightsdb.engine"], expire_on_commit=False) as session:
        make_golden_data(session, book)
        session.commit()
        publish_release(
            session=session,
            codebook=book,
            exports_dir=exports_dir,
            version="1.0.0",
            title="Golden",
            release_date=date(2026, 3, 1),
            synthetic=True,
        )
        session.commit()
    return exports_dir / "1.0.0"


@pytest.mark.parametrize("name", CSV_NAMES)
def test_csv_files_match_the_golden_files_byte_for_byte(folder, name):
    assert (folder / "data" / f"{name}.csv").read_bytes() == (GOLDEN / f"{name}.csv").read_bytes()


def test_text_in_any_script_round_trips_and_lines_end_with_newline(folder):
    data = (folder / "data" / "citations.csv").read_bytes()
    assert b"\r\n" not in data
    text = data.decode("utf-8")
    assert "لكل مهاجر الحق" in text and "Закон об иностранцах" in text


def test_data_package_is_valid_and_states_scheme_and_checksums(folder):
    report = frictionless.validate(str(folder / "datapackage.json"))
    assert report.valid, report.flatten(["rowNumber", "fieldName", "type", "note"])
    package = frictionless.Package(str(folder / "datapackage.json"))
    assert [r.name for r in package.resources] == list(CSV_NAMES)
    descriptor = package.to_dict()
    assert descriptor["rightsdb"]["scheme"]["id"] == "binary" and descriptor["rightsdb"]["aggregation"] == "category_mean"
    assert "synthetic demonstration data" in descriptor["description"].lower()
    assert descriptor["licenses"][0]["name"] == "CC-BY-4.0"
    assert "data/long.dta" in descriptor["rightsdb"]["files"]


def test_tampered_csv_fails_data_package_validation(folder):
    path = folder / "data" / "countries.csv"
    path.write_bytes(path.read_bytes() + b"XZZ,XZ,999,Nowhere,Europe,True\n")
    assert not frictionless.validate(str(folder / "datapackage.json")).valid


def test_stata_file_keeps_value_labels_and_variable_labels(folder):
    frame = pd.read_stata(folder / "data" / "long.dta")
    assert isinstance(frame["answer"].dtype, pd.CategoricalDtype)
    assert list(frame["answer"].cat.categories) == list(ANSWER_CODES)
    assert frame["answer"].tolist() == ["provided", "conditional", "not_applicable", "not_provided", "provided", "provided"]
    with pd.io.stata.StataReader(folder / "data" / "long.dta") as reader:
        assert reader.variable_labels()["iso3"] == "ISO 3166-1 alpha-3 code of the country"
        assert set(reader.value_labels()["coder_b_answer"].values()) == set(ANSWER_CODES)


def test_stata_refuses_a_column_name_it_would_rename(folder, tmp_path):
    from pandas.errors import InvalidColumnName

    class Release:
        release_date, version = date(2026, 3, 1), "1.0.0"

    frame = pd.DataFrame({"AAA-01": ["provided"]})
    with pytest.raises(InvalidColumnName):
        write_stata(tmp_path / "x.dta", frame, release=Release, labels={})


def test_parquet_holds_the_same_rows_as_the_csv(folder):
    parquet = pd.read_parquet(folder / "data" / "long.parquet")
    csv = pd.read_csv(folder / "data" / "long.csv", keep_default_na=False, dtype=str)
    assert parquet["iso3"].tolist() == csv["iso3"].tolist()
    assert parquet["answer"].tolist() == csv["answer"].tolist()


def test_excel_text_starting_with_equals_stays_text(folder):
    workbook = load_workbook(folder / "data" / "release.xlsx")
    assert workbook.sheetnames == list(CSV_NAMES)
    sheet = workbook["citations"]
    header = [c.value for c in sheet[1]]
    excerpt = sheet.cell(row=2, column=header.index("excerpt") + 1)
    assert excerpt.value.startswith("=HYPERLINK")
    assert excerpt.data_type == "s"
    for row in workbook["long"].iter_rows():
        assert all(cell.data_type != "f" for cell in row)


def test_every_excel_sheet_holds_exactly_its_csv(folder):
    """The workbook is written by a streaming writer: read it back with pandas and compare every cell."""
    for name in CSV_NAMES:
        sheet = pd.read_excel(folder / "data" / "release.xlsx", sheet_name=name, dtype=str, keep_default_na=False)
        csv = pd.read_csv(folder / "data" / f"{name}.csv", dtype=str, keep_default_na=False)
        # The CSV's formula rule puts an apostrophe before formula text; the README's recipe takes it away.
        csv = csv.apply(lambda column: column.str.replace(UNDO_PATTERN, "", regex=True))
        assert sheet.columns.tolist() == csv.columns.tolist(), name
        assert len(sheet) == len(csv), name
        for column in csv.columns:
            # Numbers come back from Excel as numbers ("1" vs "1.0"); compare them as numbers.
            left, right = sheet[column].tolist(), csv[column].tolist()
            for a, b in zip(left, right):
                if a != b:
                    assert float(a) == float(b), (name, column, a, b)


def test_xlsx_bytes_never_writes_formulas():
    data = xlsx_bytes({"t": pd.DataFrame({"a": ["=1+1", "+cmd", "plain"], "n": [1, 2, 3]})})
    import io

    sheet = load_workbook(io.BytesIO(data))["t"]
    assert (sheet["A2"].value, sheet["A2"].data_type) == ("=1+1", "s")
    assert sheet["B2"].value == 1


def test_real_codebook_export_columns_follow_codebook_order(real_codebook):
    book = real_codebook
    long = long_table([], countries={}, codebook=book)
    matrix = matrix_table(long, codebook=book)
    assert list(matrix.columns[4:]) == list(book.indicator_ids)
    assert codebook_table(book)["indicator"].tolist() == list(book.indicator_ids)
    assert csv_bytes(matrix).decode().endswith("\n")
