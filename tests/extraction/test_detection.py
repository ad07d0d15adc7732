"""Type detection sniffs the bytes; names and declared types only pick among text formats."""

from __future__ import annotations

import pytest

from services.extraction import detect_type, extract, mime
from tests.factories.files import (
    make_docx,
    make_eml,
    make_html,
    make_msg,
    make_pdf,
    make_pptx,
    make_scanned_jpeg,
    make_xlsx,
)

OCTET = "application/octet-stream"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (make_pdf(["x"]), mime.PDF),
        (make_docx(["x"]), mime.DOCX),
        (make_xlsx({"S": [["x"]]}), mime.XLSX),
        (make_pptx([("x", "y")]), mime.PPTX),
        (make_msg("s", "a", "b"), mime.MSG),
        (make_eml("s", "a@example.com", "b"), mime.EML),
        (make_html("t", "b"), mime.HTML),
        (make_scanned_jpeg(["x"]), mime.JPEG),
    ],
    ids=["pdf", "docx", "xlsx", "pptx", "msg", "eml", "html", "jpeg"],
)
def test_magic_bytes_decide_without_name_or_type(data: bytes, expected: str) -> None:
    """With no name and an octet-stream declared type, the bytes alone give the type."""
    assert detect_type(data, None, OCTET) == expected
    assert detect_type(data, None, None) == expected


def test_wrong_declared_type_does_not_change_detection() -> None:
    """A DOCX declared as text/plain is still detected (and extracted) as DOCX."""
    data = make_docx(["Signed minutes of the board meeting."])
    assert detect_type(data, "minutes", "text/plain") == mime.DOCX
    result = extract(data, filename="minutes", declared_type="text/plain")
    assert result.text == "Signed minutes of the board meeting."


def test_extract_pdf_with_no_extension_and_octet_stream() -> None:
    """A PDF sent as 'download' with application/octet-stream extracts as a PDF."""
    result = extract(make_pdf(["Invoice 77"]), filename="download", declared_type=OCTET)
    assert result.detected_type == mime.PDF
    assert result.text == "Invoice 77"


@pytest.mark.parametrize(
    ("filename", "expected"),
    [
        ("notes.md", mime.MD),
        ("table.csv", mime.CSV),
        ("data.json", mime.JSON),
        ("readme.txt", mime.TXT),
        ("noname", mime.TXT),
    ],
)
def test_extension_picks_among_text_formats(filename: str, expected: str) -> None:
    """Plain text bytes take their text format from the file name."""
    assert detect_type(b"alpha, beta\n", filename, None) == expected


def test_declared_type_is_a_hint_for_text_without_name() -> None:
    """Unnamed text declared as text/csv is CSV."""
    assert detect_type(b"a,b\n1,2\n", None, "text/csv; charset=utf-8") == mime.CSV


def test_json_is_sniffed_without_name() -> None:
    """Unnamed bytes that parse as a JSON object are JSON."""
    assert detect_type(b'{"a": [1, 2]}', None, None) == mime.JSON


def test_html_and_email_are_sniffed_from_text() -> None:
    """A doctype makes HTML and a mail header block makes RFC 822, whatever the name says."""
    page = b"  <!DOCTYPE html><html><body>Hi</body></html>"
    mail = b"From: a@example.com\r\nSubject: Hi\r\nMIME-Version: 1.0\r\n\r\nBody\r\n"
    assert detect_type(page, "page.txt", None) == mime.HTML
    assert detect_type(mail, "mail.txt", None) == mime.EML


def test_text_starting_like_a_magic_number_stays_text() -> None:
    """Printable text starting with 'BM' (BMP magic) is text, not an image."""
    assert detect_type(b"BMW fleet report: 12 cars serviced.", "fleet.txt", None) == mime.TXT


def test_utf16_text_with_bom_is_text() -> None:
    """UTF-16 text (with a BOM, hence NUL bytes) is still text."""
    data = "Meeting notes: Q2 hiring plan".encode("utf-16")
    result = extract(data, filename="notes.txt")
    assert result.text == "Meeting notes: Q2 hiring plan"


def test_random_binary_is_octet_stream() -> None:
    """Bytes with no signature that are not text are application/octet-stream."""
    data = bytes(range(256)) * 8
    assert detect_type(data, "blob.bin", None) == OCTET


def test_gzip_is_recognised_by_magic() -> None:
    """Other binary formats are named by their magic number."""
    import gzip

    assert detect_type(gzip.compress(b"hello" * 100), None, None) == "application/gzip"
