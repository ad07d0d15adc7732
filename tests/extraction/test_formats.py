"""Text, title and metadata of every supported format, built with the formats' real libraries."""

from __future__ import annotations

import json

from services.extraction import extract, mime
from tests.factories.files import (
    Slide,
    make_docx,
    make_html,
    make_pdf,
    make_pptx,
    make_xlsx,
)


def test_pdf_text_title_and_pages() -> None:
    """A text PDF gives its lines, its metadata title and its page count."""
    data = make_pdf(["Quarterly results", "Revenue grew 12% to 4.2M EUR"], title="Q3 report")
    result = extract(data, filename="report.pdf")
    assert result.text == "Quarterly results\nRevenue grew 12% to 4.2M EUR"
    assert result.detected_type == mime.PDF
    assert result.title == "Q3 report"
    assert result.metadata["pages"] == 1
    assert result.metadata["ocr"] is False
    assert result.metadata["encrypted"] is False


def test_pdf_without_title_has_none() -> None:
    """reportlab's 'untitled' placeholder is not reported as a title."""
    result = extract(make_pdf(["Just a line"]), filename="x.pdf")
    assert result.title is None


def test_pdf_pages_are_separated() -> None:
    """A multi-page PDF keeps text from every page, pages separated by a blank line."""
    lines = [f"Line {number}" for number in range(60)]
    result = extract(make_pdf(lines), filename="long.pdf")
    assert result.metadata["pages"] == 2
    assert "Line 0\n" in result.text and result.text.endswith("Line 59")
    assert "\n\n" in result.text


def test_docx_paragraphs_tables_and_title() -> None:
    """DOCX paragraphs and table rows come out in order; core title wins over the heading."""
    data = make_docx(
        ["Welcome aboard.", "Laptop pick-up is on Monday."],
        title="Onboarding",
        heading="First week",
        tables=[[["Task", "Owner"], ["Badge", "Facilities"]]],
    )
    result = extract(data, filename="onboarding.docx")
    assert result.text == (
        "First week\nWelcome aboard.\nLaptop pick-up is on Monday.\nTask\tOwner\nBadge\tFacilities"
    )
    assert result.title == "Onboarding"
    assert result.metadata["tables"] == 1
    assert result.detected_type == mime.DOCX


def test_docx_title_falls_back_to_first_heading() -> None:
    """Without a core-properties title, the first heading is the title."""
    result = extract(make_docx(["Body"], heading="Travel policy"), filename="p.docx")
    assert result.title == "Travel policy"


def test_pptx_slides_and_notes() -> None:
    """PPTX gives each slide's title and body, then its speaker notes."""
    data = make_pptx(
        [Slide("Roadmap 2025", "Ship the mobile app\nOpen Berlin office", "Mention hiring"),
         Slide("Risks", "Supplier delays")],
    )  # fmt: skip
    result = extract(data, filename="deck.pptx")
    assert result.text == (
        "Roadmap 2025\nShip the mobile app\nOpen Berlin office\nNotes: Mention hiring\n\n"
        "Risks\nSupplier delays"
    )
    assert result.title == "Roadmap 2025"
    assert result.metadata["slides"] == 2
    assert result.detected_type == mime.PPTX


def test_xlsx_sheets_as_rows() -> None:
    """XLSX gives every sheet as CSV-like rows, with cached values and quoted commas."""
    data = make_xlsx(
        {
            "Budget": [["Item", "Amount"], ["Laptops", 12345.67], ["Desks, chairs", 800]],
            "Notes": [["Approved by finance"]],
        },
        title="Budget 2025",
    )
    result = extract(data, filename="budget.xlsx")
    assert result.text == (
        '# Sheet: Budget\nItem,Amount\nLaptops,12345.67\n"Desks, chairs",800\n'
        "# Sheet: Notes\nApproved by finance"
    )
    assert result.metadata["sheets"] == 2
    assert result.metadata["sheet_names"] == ["Budget", "Notes"]
    assert result.title == "Budget 2025"


def test_html_drops_script_and_style() -> None:
    """HTML gives the visible text and <title>, without script or style content."""
    data = make_html("Release notes", "Version 2.1 adds dark mode.\nBug fixes for export.")
    result = extract(data, filename="notes.html")
    assert result.text == ("Release notes\n\nVersion 2.1 adds dark mode.\n\nBug fixes for export.")
    assert result.title == "Release notes"
    assert "tracking-snippet" not in result.text
    assert "font-family" not in result.text


def test_plain_text_in_latin1_is_decoded() -> None:
    """A Latin-1 text file is decoded by charset detection, not mangled."""
    text = "Réunion à Zürich : le budget est approuvé pour l'équipe française."
    result = extract(text.encode("latin-1"), filename="minutes.txt")
    assert result.text == text
    assert result.detected_type == mime.TXT


def test_markdown_title_is_first_heading() -> None:
    """Markdown keeps its source text and takes its first heading as title."""
    data = b"# Deployment guide\n\nRun `make deploy` after review.\n"
    result = extract(data, filename="DEPLOY.md")
    assert result.text == "# Deployment guide\n\nRun `make deploy` after review."
    assert result.title == "Deployment guide"
    assert result.detected_type == mime.MD


def test_csv_and_json_keep_their_text() -> None:
    """CSV and JSON files are read as their text, typed by their extension."""
    csv_result = extract(b"name,amount\nACME,1200\n", filename="clients.csv")
    payload = {"customer": "ACME", "total": 1200}
    json_result = extract(json.dumps(payload).encode(), filename="order.json")
    assert csv_result.text == "name,amount\nACME,1200"
    assert csv_result.detected_type == mime.CSV
    assert json.loads(json_result.text) == payload
    assert json_result.detected_type == mime.JSON
