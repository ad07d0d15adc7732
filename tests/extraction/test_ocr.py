"""Scans and photos: OCR when tesseract is available, no_text_layer when not (case 031)."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.errors import NoText, NoTextLayer
from services.extraction import ExtractionLimits, extract, mime
from tests.extraction.helpers import NO_OCR, needs_tesseract, squash
from tests.factories.files import make_scanned_jpeg, make_scanned_pdf

INVOICE = ["INVOICE 2024-0099", "Total due: 980.00 EUR"]


@pytest.fixture(scope="module")
def scanned_pdf() -> bytes:
    """An image-only PDF of the invoice."""
    return make_scanned_pdf(INVOICE)


@pytest.fixture(scope="module")
def scanned_jpeg() -> bytes:
    """A JPEG photo of the invoice."""
    return make_scanned_jpeg(INVOICE)


@needs_tesseract
def test_case_031_scanned_pdf_is_read_by_ocr(scanned_pdf: bytes) -> None:
    """Case 031: a scanned invoice PDF yields its number and total through OCR."""
    result = extract(scanned_pdf, filename="invoice.pdf")
    text = squash(result.text)
    assert "INVOICE 2024-0099" in text
    assert "980.00 EUR" in text
    assert result.metadata["ocr"] is True
    assert result.detected_type == mime.PDF


@needs_tesseract
def test_case_031_scanned_jpeg_is_read_by_ocr(scanned_jpeg: bytes) -> None:
    """Case 031: a JPEG photo of the invoice yields its number and total through OCR."""
    result = extract(scanned_jpeg, filename="invoice.jpg", declared_type="image/jpeg")
    text = squash(result.text)
    assert "INVOICE 2024-0099" in text
    assert "980.00 EUR" in text
    assert result.metadata["ocr"] is True
    assert result.detected_type == mime.JPEG


def test_case_031_scanned_pdf_without_ocr_is_no_text_layer(scanned_pdf: bytes) -> None:
    """Case 031: with OCR disabled, a scanned PDF is no_text_layer, never empty text."""
    with pytest.raises(NoTextLayer) as caught:
        extract(scanned_pdf, filename="invoice.pdf", limits=NO_OCR)
    assert caught.value.reason == "no_text_layer"


def test_case_031_jpeg_without_ocr_is_no_text_layer(scanned_jpeg: bytes) -> None:
    """Case 031: with OCR disabled, a JPEG is no_text_layer."""
    with pytest.raises(NoTextLayer) as caught:
        extract(scanned_jpeg, filename="invoice.jpg", limits=NO_OCR)
    assert caught.value.reason == "no_text_layer"


def test_case_031_missing_tesseract_is_no_text_layer(
    scanned_pdf: bytes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Case 031: OCR enabled but no tesseract on PATH is no_text_layer too."""
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(NoTextLayer):
        extract(scanned_pdf, filename="invoice.pdf", limits=ExtractionLimits(ocr_enabled=True))


@needs_tesseract
def test_case_031_blank_scan_is_no_text() -> None:
    """Case 031: OCR that runs but finds nothing is no_text, never empty text."""
    with pytest.raises(NoText) as caught:
        extract(make_scanned_jpeg([]), filename="blank.jpg")
    assert caught.value.reason == "no_text"


@needs_tesseract
def test_image_declared_as_png_but_jpeg_is_read() -> None:
    """An image whose name says PNG but whose bytes are JPEG is still an image and read."""
    result = extract(make_scanned_jpeg(["RECEIPT 42"]), filename="photo.png")
    assert "RECEIPT 42" in squash(result.text)
