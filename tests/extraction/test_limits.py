"""The limits bound the work: text length, pages and spreadsheet rows."""

from __future__ import annotations

from services.extraction import ExtractionLimits, extract
from tests.factories.files import Slide, make_pdf, make_pptx, make_xlsx


def test_long_text_is_truncated_and_flagged() -> None:
    """Text past max_chars is cut and metadata['truncated'] is True."""
    result = extract(b"word " * 1000, filename="long.txt", limits=ExtractionLimits(max_chars=100))
    assert len(result.text) <= 100
    assert result.text.startswith("word word")
    assert result.metadata["truncated"] is True


def test_short_text_is_not_truncated() -> None:
    """Text within the limit is whole and not flagged."""
    result = extract(b"short note", filename="n.txt")
    assert result.text == "short note"
    assert result.metadata["truncated"] is False


def test_pdf_pages_beyond_max_pages_are_not_read() -> None:
    """Only the first max_pages PDF pages are read."""
    lines = [f"Entry {number}" for number in range(60)]  # 60 lines: two pages
    result = extract(make_pdf(lines), filename="x.pdf", limits=ExtractionLimits(max_pages=1))
    assert "Entry 0" in result.text
    assert "Entry 59" not in result.text
    assert result.metadata["pages"] == 2
    assert result.metadata["pages_read"] == 1
    assert result.metadata["truncated"] is True


def test_pptx_slides_beyond_max_pages_are_not_read() -> None:
    """Only the first max_pages slides are read."""
    data = make_pptx([Slide("First"), Slide("Second"), Slide("Third")])
    result = extract(data, filename="d.pptx", limits=ExtractionLimits(max_pages=2))
    assert result.text == "First\n\nSecond"
    assert result.metadata["slides"] == 3
    assert result.metadata["truncated"] is True


def test_xlsx_rows_are_bounded() -> None:
    """Only max_sheet_rows rows of a sheet are read."""
    data = make_xlsx({"Log": [[f"row {number}"] for number in range(50)]})
    result = extract(data, filename="log.xlsx", limits=ExtractionLimits(max_sheet_rows=10))
    assert result.text.splitlines()[-1] == "row 9"
    assert result.metadata["truncated"] is True
