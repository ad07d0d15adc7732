"""OLE containers and oversized images: password Office files, legacy Office, pixel bombs."""

from __future__ import annotations

import pytest

from services.errors import NoText, PasswordProtected, TooLarge, UnsupportedFile
from services.extraction import ExtractionLimits, detect_type, extract, mime
from tests.extraction.helpers import needs_tesseract
from tests.factories.files import make_ole, make_password_docx, make_png_header, make_scanned_pdf


def test_password_protected_docx_is_refused() -> None:
    """A DOCX encrypted with a password to open is encrypted_password_required, not a mismatch."""
    data = make_password_docx(["Merger plan"], password="s3cret")
    assert detect_type(data, "plan.docx", None) == mime.ENCRYPTED_OOXML
    with pytest.raises(PasswordProtected) as caught:
        extract(data, filename="plan.docx")
    assert caught.value.reason == "encrypted_password_required"


def test_legacy_word_document_is_unsupported() -> None:
    """An old binary .doc (OLE with a WordDocument stream) is unsupported_type, named as such."""
    data = make_ole({"WordDocument": b"\x00" * 4096})
    with pytest.raises(UnsupportedFile) as caught:
        extract(data, filename="old.doc")
    assert ".doc" in caught.value.user_message


@needs_tesseract
def test_image_with_too_many_pixels_is_too_large() -> None:
    """A PNG declaring 40000x40000 pixels is refused as too_large before decoding."""
    with pytest.raises(TooLarge) as caught:
        extract(make_png_header(40_000, 40_000), filename="poster.png")
    assert caught.value.reason == "too_large"


@needs_tesseract
def test_ocr_time_budget_spent_is_no_text() -> None:
    """When the OCR time budget runs out before any text is read, the result is no_text."""
    limits = ExtractionLimits(ocr_timeout_s=0.001)
    with pytest.raises(NoText) as caught:
        extract(make_scanned_pdf(["INVOICE 2024-0099"]), filename="scan.pdf", limits=limits)
    assert "too long" in caught.value.user_message
