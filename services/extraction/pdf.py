"""PDF: text layer with pypdfium2, encryption check with pypdf, OCR of scans.

pypdfium2 objects are not thread-safe: run one extraction per thread or process.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from enum import Enum
from typing import Any

import pypdf
import pypdfium2 as pdfium
from PIL import Image
from pypdf import PasswordType

from services.errors import CorruptFile, PasswordProtected
from services.extraction.guard import parser_errors
from services.extraction.limits import ExtractionLimits
from services.extraction.ocr import MAX_SIDE_PX, OCR_DPI, recognise, require_ocr
from services.extraction.result import BoundedText, Draft
from services.extraction.titles import metadata_title

TRUNCATED_REASON = "corrupt_or_truncated_pdf"
_EOF_MARKER = b"%%EOF"
_TAIL_BYTES = 2048
_TRAILING_JUNK = b"\x00\x1a \t\r\n"
_PDFIUM_PASSWORD_ERROR = 4


class Encryption(Enum):
    NONE = "none"
    EMPTY_PASSWORD = "empty_password"  # permissions-only: anyone may open it
    PASSWORD_REQUIRED = "password_required"
    UNKNOWN = "unknown"  # pypdf could not tell; pdfium decides


def _corrupt() -> CorruptFile:
    return CorruptFile(
        "The PDF is damaged or incomplete (it may have been cut off while uploading).",
        reason=TRUNCATED_REASON,
    )


def extract_pdf(data: bytes, limits: ExtractionLimits) -> Draft:
    """Text of the first ``max_pages`` pages; OCR when the text layer is empty."""
    _require_complete(data)
    encryption = encryption_state(data)
    if encryption is Encryption.PASSWORD_REQUIRED:
        raise PasswordProtected()
    document = _open(data)
    try:
        return _read(document, limits, encrypted=encryption is Encryption.EMPTY_PASSWORD)
    finally:
        document.close()


def _require_complete(data: bytes) -> None:
    """A complete PDF ends with %%EOF (allowing a little trailing junk)."""
    if _EOF_MARKER not in data.rstrip(_TRAILING_JUNK)[-_TAIL_BYTES:]:
        raise _corrupt()


def encryption_state(data: bytes) -> Encryption:
    """Whether the PDF is encrypted and whether the empty user password opens it."""
    try:
        reader = pypdf.PdfReader(io.BytesIO(data), strict=False)
        if not reader.is_encrypted:
            return Encryption.NONE
        opened = reader.decrypt("")
    except Exception:  # pypdf is stricter than pdfium: let pdfium judge damaged files
        return Encryption.UNKNOWN
    if opened == PasswordType.NOT_DECRYPTED:
        return Encryption.PASSWORD_REQUIRED
    return Encryption.EMPTY_PASSWORD


def _open(data: bytes) -> pdfium.PdfDocument:
    try:
        return pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        if exc.err_code == _PDFIUM_PASSWORD_ERROR:
            raise PasswordProtected() from exc
        raise _corrupt() from exc


def _read(document: pdfium.PdfDocument, limits: ExtractionLimits, *, encrypted: bool) -> Draft:
    with parser_errors(_corrupt):
        page_count = len(document)
        to_read = min(page_count, limits.max_pages)
        buffer = BoundedText(limits.max_chars)
        pages_read = _read_text_layer(document, to_read, buffer)
        metadata: dict[str, Any] = {
            "pages": page_count,
            "pages_read": pages_read,
            "encrypted": encrypted,
            "truncated": buffer.truncated or to_read < page_count,
        }
        title = _title(document)
        text = buffer.text("\n\n")
        if not text.strip():
            text = _ocr(document, to_read, limits, metadata)
        return Draft(text=text, title=title, metadata=metadata)


def _read_text_layer(document: pdfium.PdfDocument, count: int, buffer: BoundedText) -> int:
    for index in range(count):
        if not buffer.add(_page_text(document, index)):
            return index
    return count


def _page_text(document: pdfium.PdfDocument, index: int) -> str:
    page = document[index]
    try:
        text_page = page.get_textpage()
        try:
            return str(text_page.get_text_bounded())
        finally:
            text_page.close()
    finally:
        page.close()


def _title(document: pdfium.PdfDocument) -> str | None:
    return metadata_title(document.get_metadata_dict(skip_empty=True).get("Title"))


def _ocr(
    document: pdfium.PdfDocument, count: int, limits: ExtractionLimits, metadata: dict[str, Any]
) -> str:
    """A scan: recognise rendered pages (raises NoTextLayer when OCR is unavailable)."""
    require_ocr(limits)
    result = recognise(_rendered_pages(document, count), limits)
    metadata.update(ocr=True, pages_read=result.pages)
    if result.timed_out:
        metadata.update(ocr_timed_out=True, truncated=True)
    return result.text


def _rendered_pages(document: pdfium.PdfDocument, count: int) -> Iterator[Image.Image]:
    for index in range(count):
        page = document[index]
        try:
            width, height = page.get_size()
            scale = min(OCR_DPI / 72, MAX_SIDE_PX / max(width, height, 1))
            bitmap = page.render(scale=scale)
            yield bitmap.to_pil().convert("L")
        finally:
            page.close()
