"""PPTX with python-pptx: the text of every shape on each slide, then its speaker notes."""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator
from typing import Any

import pptx
from pptx.enum.shapes import MSO_SHAPE_TYPE
from pptx.slide import Slide

from services.extraction.limits import ExtractionLimits
from services.extraction.office import core_title, opened_ooxml
from services.extraction.result import BoundedText, Draft


def extract_pptx(data: bytes, limits: ExtractionLimits) -> Draft:
    """Slides separated by blank lines; title from core properties, else the first slide title."""
    with opened_ooxml(data, limits):
        presentation = pptx.Presentation(io.BytesIO(data))
        slides = list(presentation.slides)
        to_read = slides[: limits.max_pages]
        buffer = BoundedText(limits.max_chars)
        read = _read_slides(to_read, buffer)
        metadata = {
            "slides": len(slides),
            "slides_read": read,
            "truncated": buffer.truncated or read < len(slides),
        }
        title = core_title(presentation.core_properties.title) or _first_slide_title(slides)
        return Draft(text=buffer.text("\n\n"), title=title, metadata=metadata)


def _read_slides(slides: list[Slide], buffer: BoundedText) -> int:
    for index, slide in enumerate(slides):
        text = _slide_text(slide)
        if text.strip() and not buffer.add(text):
            return index
    return len(slides)


def _slide_text(slide: Slide) -> str:
    lines = [text for text in _shape_texts(slide.shapes) if text.strip()]
    if slide.has_notes_slide:
        notes_frame = slide.notes_slide.notes_text_frame
        if notes_frame is not None and notes_frame.text.strip():
            lines.append(f"Notes: {notes_frame.text}")
    return "\n".join(lines)


def _shape_texts(shapes: Iterable[Any]) -> Iterator[str]:
    """Text frames and tables, descending into groups."""
    for shape in shapes:
        if shape.shape_type == MSO_SHAPE_TYPE.GROUP:
            yield from _shape_texts(shape.shapes)
        elif shape.has_text_frame:
            yield shape.text_frame.text
        elif getattr(shape, "has_table", False):
            yield from ("\t".join(cell.text for cell in row.cells) for row in shape.table.rows)


def _first_slide_title(slides: list[Slide]) -> str | None:
    title = slides[0].shapes.title if slides else None
    if title is None or not title.has_text_frame or not title.text_frame.text.strip():
        return None
    return str(title.text_frame.text)
