"""Each kind of unreadable file fails fast with its own reason code (case 027 and more)."""

from __future__ import annotations

import gzip
import io
import zipfile

import pytest

from services.errors import CorruptFile, EmptyFile, NoText, TypeMismatch, UnsupportedFile
from services.extraction import extract
from tests.extraction.helpers import timed
from tests.factories.files import make_docx, make_html, make_pdf, make_truncated_pdf

FAST_S = 2.0
SESSION_EXPIRED = "Session expired. Please sign in again."


def test_case_027_truncated_pdf_is_corrupt() -> None:
    """Case 027: the first half of a valid PDF fails fast with corrupt_or_truncated_pdf."""
    data = make_truncated_pdf()

    def run() -> CorruptFile:
        with pytest.raises(CorruptFile) as caught:
            extract(data, filename="contract.pdf", declared_type="application/pdf")
        return caught.value

    error, elapsed = timed(run)
    assert error.reason == "corrupt_or_truncated_pdf"
    assert elapsed < FAST_S


@pytest.mark.parametrize(
    ("filename", "declared"),
    [("statement.pdf", None), ("statement", "application/pdf"), ("statement.pdf", "text/html")],
)
def test_case_027_html_login_page_named_pdf_is_type_mismatch(
    filename: str, declared: str | None
) -> None:
    """Case 027: a 'Session expired' HTML page named .pdf or declared PDF is type_mismatch."""
    data = make_html("Sign in", SESSION_EXPIRED)

    def run() -> TypeMismatch:
        with pytest.raises(TypeMismatch) as caught:
            extract(data, filename=filename, declared_type=declared)
        return caught.value

    error, elapsed = timed(run)
    assert error.reason == "type_mismatch"
    assert "PDF" in error.user_message and "HTML" in error.user_message
    assert elapsed < FAST_S


def test_case_027_zero_bytes_is_empty_file() -> None:
    """Case 027: a 0-byte upload fails at once with empty_file."""

    def run() -> str:
        with pytest.raises(EmptyFile) as caught:
            extract(b"", filename="scan.pdf")
        return caught.value.reason

    reason, elapsed = timed(run)
    assert reason == "empty_file"
    assert elapsed < FAST_S


def test_text_named_docx_is_type_mismatch() -> None:
    """Plain text saved as .docx is a type mismatch naming both kinds."""
    with pytest.raises(TypeMismatch) as caught:
        extract(b"just some words", filename="letter.docx")
    assert caught.value.user_message == (
        "The file is named or declared as a Word document (.docx), but its content is plain text."
    )


def test_pdf_named_txt_is_read_as_pdf() -> None:
    """A text-ish name on PDF bytes is no mismatch: the PDF is read."""
    result = extract(make_pdf(["Real PDF inside"]), filename="export.txt")
    assert result.text == "Real PDF inside"


def test_unknown_binary_is_unsupported() -> None:
    """Random binary without a known signature is unsupported_type."""
    with pytest.raises(UnsupportedFile) as caught:
        extract(bytes(range(256)) * 16, filename="blob.bin")
    assert caught.value.reason == "unsupported_type"


def test_known_but_unsupported_format_is_unsupported() -> None:
    """A gzip archive is recognised and refused as unsupported_type, naming its type."""
    with pytest.raises(UnsupportedFile) as caught:
        extract(gzip.compress(b"data" * 100), filename="logs.gz")
    assert caught.value.reason == "unsupported_type"
    assert "application/gzip" in caught.value.user_message


def test_plain_zip_is_unsupported() -> None:
    """A ZIP that is not an Office document is unsupported_type."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("notes.txt", "hello")
    with pytest.raises(UnsupportedFile):
        extract(buffer.getvalue(), filename="bundle.zip")


def test_whitespace_only_text_is_no_text() -> None:
    """A text file holding only whitespace is no_text, never empty text."""
    with pytest.raises(NoText) as caught:
        extract(b" \n\t\r\n  ", filename="blank.txt")
    assert caught.value.reason == "no_text"


def test_docx_with_empty_paragraphs_is_no_text() -> None:
    """A DOCX whose paragraphs are blank is no_text."""
    with pytest.raises(NoText):
        extract(make_docx(["", "   "]), filename="blank.docx")


def test_truncated_docx_is_corrupt_file() -> None:
    """The first half of a DOCX is corrupt_file (not a mismatch, not a crash)."""
    data = make_docx(["Onboarding checklist (sample)."])
    with pytest.raises(CorruptFile) as caught:
        extract(data[: len(data) // 2], filename="checklist.docx")
    assert caught.value.reason == "corrupt_file"


def test_docx_missing_main_part_is_corrupt_file() -> None:
    """A DOCX whose document part is damaged XML is corrupt_file."""
    source = zipfile.ZipFile(io.BytesIO(make_docx(["Hello"])))
    buffer = io.BytesIO()
    with source, zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            body = source.read(info)
            target.writestr(info, b"<w:document" if info.filename == "word/document.xml" else body)
    with pytest.raises(CorruptFile) as caught:
        extract(buffer.getvalue(), filename="broken.docx")
    assert caught.value.reason == "corrupt_file"


def test_corrupt_pdf_body_is_corrupt() -> None:
    """Garbage between a PDF header and %%EOF is corrupt_or_truncated_pdf."""
    data = b"%PDF-1.7\n" + bytes(range(256)) * 4 + b"\n%%EOF\n"
    with pytest.raises(CorruptFile) as caught:
        extract(data, filename="x.pdf")
    assert caught.value.reason == "corrupt_or_truncated_pdf"
