"""XLSX with openpyxl (read-only, cached values): each sheet as CSV-like rows."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from datetime import date, datetime, time
from typing import Any

import openpyxl

from services.extraction.limits import ExtractionLimits
from services.extraction.office import core_title, opened_ooxml
from services.extraction.result import BoundedText, Draft

MAX_COLUMNS = 256  # a declared dimension like A1:XFD1048576 would otherwise pad every row


def extract_xlsx(data: bytes, limits: ExtractionLimits) -> Draft:
    """'# Sheet: name' then one CSV line per non-empty row, for every worksheet."""
    with opened_ooxml(data, limits):
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        try:
            buffer = BoundedText(limits.max_chars)
            names = [sheet.title for sheet in workbook.worksheets]
            rows_cut = _read_sheets(workbook.worksheets, buffer, limits.max_sheet_rows)
            metadata = {
                "sheets": len(names),
                "sheet_names": names,
                "truncated": buffer.truncated or rows_cut,
            }
            return Draft(
                text=buffer.text(), title=core_title(workbook.properties.title), metadata=metadata
            )
        finally:
            workbook.close()


def _read_sheets(sheets: Iterable[Any], buffer: BoundedText, max_rows: int) -> bool:
    """Add every sheet; True when some sheet had more rows than ``max_rows``."""
    cut = False
    for sheet in sheets:
        if not buffer.add(f"# Sheet: {sheet.title}"):
            break
        cut = _read_rows(sheet, buffer, max_rows) or cut
        if buffer.truncated:
            break
    return cut


def _read_rows(sheet: Any, buffer: BoundedText, max_rows: int) -> bool:
    for index, row in enumerate(sheet.iter_rows(values_only=True)):
        if index >= max_rows:
            return True
        line = _csv_line(row[:MAX_COLUMNS])
        if line and not buffer.add(line):
            break
    return False


def _csv_line(values: tuple[Any, ...]) -> str:
    cells = [_cell_text(value) for value in values]
    while cells and not cells[-1]:
        cells.pop()
    if not cells:
        return ""
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(cells)
    return out.getvalue()


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
