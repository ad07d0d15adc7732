"""DOCX with python-docx: paragraphs and tables in document order."""

from __future__ import annotations

import io

import docx
from docx.document import Document
from docx.table import Table
from docx.text.paragraph import Paragraph

from services.extraction.limits import ExtractionLimits
from services.extraction.office import core_title, opened_ooxml
from services.extraction.result import BoundedText, Draft

_HEADING_STYLES = ("heading", "title")


def extract_docx(data: bytes, limits: ExtractionLimits) -> Draft:
    """Body text (tables as tab-separated rows); title from core properties, else first heading."""
    with opened_ooxml(data, limits):
        document = docx.Document(io.BytesIO(data))
        buffer = BoundedText(limits.max_chars)
        counts = _read_body(document, buffer)
        title = core_title(document.core_properties.title) or _first_heading(document)
        metadata = {**counts, "truncated": buffer.truncated}
        return Draft(text=buffer.text(), title=title, metadata=metadata)


def _read_body(document: Document, buffer: BoundedText) -> dict[str, int]:
    counts = {"paragraphs": 0, "tables": 0}
    for block in document.iter_inner_content():
        if isinstance(block, Table):
            counts["tables"] += 1
            text = _table_text(block)
        else:
            counts["paragraphs"] += 1
            text = block.text
        if text.strip() and not buffer.add(text):
            break
    return counts


def _table_text(table: Table) -> str:
    """One line per row; merged cells (repeated by python-docx) appear once."""
    lines = []
    for row in table.rows:
        cells: list[str] = []
        for cell in row.cells:
            text = " ".join(cell.text.split())
            if not cells or cells[-1] != text:
                cells.append(text)
        lines.append("\t".join(cells).strip())
    return "\n".join(line for line in lines if line)


def _first_heading(document: Document) -> str | None:
    for paragraph in document.paragraphs:
        if _is_heading(paragraph) and paragraph.text.strip():
            return paragraph.text
    return None


def _is_heading(paragraph: Paragraph) -> bool:
    style = paragraph.style
    name = (style.name or "") if style is not None else ""
    return name.lower().startswith(_HEADING_STYLES)
