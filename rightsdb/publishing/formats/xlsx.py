"""The Excel workbook (.xlsx): the release's tables as one sheet each, assembled as a zip of SpreadsheetML parts.

Text is always a string cell (never a formula); repeated values go through the shared strings table.
Every zip entry carries the same fixed time stamp, permissions and compression (`_part`), so the same
tables give the same bytes on every save: the workbook is verified by checksum like every other file.
"""

from __future__ import annotations

import io
import zipfile
from zipfile import ZipInfo

import pandas as pd

from rightsdb.publishing.formats import spreadsheetml

XLSX_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"

#: The time stamp of every zip entry: the earliest a zip can hold, never the clock's.
ZIP_TIME = (1980, 1, 1, 0, 0, 0)
#: Deflate level 1, as before fixed entries: the workbook is the slowest file of a world-scale release to write.
ZIP_LEVEL = 1
#: Python 3.13 renamed ZipInfo's compression level attribute (`_compresslevel` before).
_LEVEL_ATTRIBUTE = "compress_level" if hasattr(ZipInfo, "compress_level") else "_compresslevel"


XLSX_RELS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"


XLSX_PACKAGE_RELS = "http://schemas.openxmlformats.org/package/2006/relationships"


XLSX_STYLES = (
    f'<styleSheet xmlns="{XLSX_MAIN}"><fonts count="1"><font><sz val="11"/><name val="Calibri"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles></styleSheet>'
)


def _xml_text(text: str) -> str:
    """Escape text for an XML attribute or text node."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def _part(archive: zipfile.ZipFile, name: str) -> ZipInfo:
    """Return the zip entry of one part: fixed time, a Unix regular file readable by all, the archive's compression.

    Without a ZipInfo, `ZipFile.writestr` stamps the entry with the clock and `ZipFile.open` with the
    platform's own "made by" system: either would change the workbook's bytes from one build to the next.
    """
    info = ZipInfo(name, date_time=ZIP_TIME)
    info.create_system = 3  # Unix
    info.external_attr = 0o100644 << 16  # a regular file, rw-r--r--
    info.compress_type = archive.compression
    setattr(info, _LEVEL_ATTRIBUTE, archive.compresslevel)
    return info


def xlsx_bytes(frames: dict[str, pd.DataFrame]) -> bytes:
    """Return tables as an Excel workbook (one sheet each) where every text cell is text, never a formula."""
    buffer = io.BytesIO()
    write_xlsx(buffer, xlsx_sheets(frames))
    return buffer.getvalue()


def xlsx_sheets(frames: dict[str, pd.DataFrame]) -> dict[str, tuple[list[str], list]]:
    """Prepare tables for `write_xlsx`: column names and Arrow columns per sheet (safe to pass to a thread)."""
    return {name: spreadsheetml.arrow_columns(frame) for name, frame in frames.items()}


def write_xlsx(target, sheets: dict[str, tuple[list[str], list]]) -> None:
    """Write prepared tables (`xlsx_sheets`) as an Excel workbook into `target` (a path or a binary file).

    The sheet XML is made by pyarrow kernels (formats.spreadsheetml) and streamed straight into the zip: at
    world scale (millions of cells) a cell object per value, even openpyxl's write-only cells, costs
    minutes. Text is always a string cell (shared or inline), so a value such as "=1+1" stays text.
    Text columns whose values repeat go through a shared strings table (as Excel itself writes text):
    about a fifth less XML to make and deflate at world scale, and each distinct value is formatted once.
    """
    names = [name[:31] for name in sheets]
    strings, shared = spreadsheetml.shared_strings([arrays for _columns, arrays in sheets.values()])
    sheet_list = "".join(f'<sheet name="{_xml_text(name)}" sheetId="{n}" r:id="rId{n}"/>' for n, name in enumerate(names, start=1))
    workbook_rels = (
        "".join(
            f'<Relationship Id="rId{n}" Type="{XLSX_RELS}/worksheet" Target="worksheets/sheet{n}.xml"/>' for n in range(1, len(names) + 1)
        )
        + f'<Relationship Id="rId{len(names) + 1}" Type="{XLSX_RELS}/styles" Target="styles.xml"/>'
    )
    overrides = "".join(
        f'<Override PartName="/xl/worksheets/sheet{n}.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
        for n in range(1, len(names) + 1)
    )
    if len(strings):
        workbook_rels += f'<Relationship Id="rId{len(names) + 2}" Type="{XLSX_RELS}/sharedStrings" Target="sharedStrings.xml"/>'
        overrides += (
            '<Override PartName="/xl/sharedStrings.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
        )
    head = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=ZIP_LEVEL) as archive:
        archive.writestr(
            _part(archive, "[Content_Types].xml"),
            head
            + (
                '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
                '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
                '<Default Extension="xml" ContentType="application/xml"/>'
                '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
                '<Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
                f"{overrides}</Types>"
            ),
        )
        archive.writestr(
            _part(archive, "_rels/.rels"),
            head
            + (
                f'<Relationships xmlns="{XLSX_PACKAGE_RELS}"><Relationship Id="rId1" Type="{XLSX_RELS}/officeDocument" Target="xl/workbook.xml"/></Relationships>'
            ),
        )
        archive.writestr(
            _part(archive, "xl/workbook.xml"),
            head + f'<workbook xmlns="{XLSX_MAIN}" xmlns:r="{XLSX_RELS}"><sheets>{sheet_list}</sheets></workbook>',
        )
        archive.writestr(
            _part(archive, "xl/_rels/workbook.xml.rels"),
            head + f'<Relationships xmlns="{XLSX_PACKAGE_RELS}">{workbook_rels}</Relationships>',
        )
        archive.writestr(_part(archive, "xl/styles.xml"), head + XLSX_STYLES)
        if len(strings):
            with archive.open(_part(archive, "xl/sharedStrings.xml"), "w", force_zip64=True) as part:
                for piece in spreadsheetml.shared_strings_xml(strings, spreadsheetml.shared_count(shared), XLSX_MAIN):
                    part.write(piece)
        for n, ((columns, arrays), columns_shared) in enumerate(zip(sheets.values(), shared), start=1):
            with archive.open(_part(archive, f"xl/worksheets/sheet{n}.xml"), "w", force_zip64=True) as sheet:
                for piece in spreadsheetml.sheet_xml(columns, arrays, XLSX_MAIN, columns_shared):
                    sheet.write(piece)
