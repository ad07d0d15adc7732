"""Pure, synchronous, bounded extraction: file bytes to text and metadata.

    extract(data, filename=..., declared_type=..., limits=...) -> Extracted

Every failure is an ``services.errors.ExtractionError`` subclass with a stable ``reason``:
empty_file, corrupt_file, corrupt_or_truncated_pdf, type_mismatch, unsupported_type,
encrypted_password_required, archive_limits_exceeded, too_large, no_text_layer, no_text.
No I/O besides the bytes given (pytesseract alone uses temporary files), no settings, no logging.
"""

from __future__ import annotations

from collections.abc import Callable

from services.errors import EmptyFile, PasswordProtected, UnsupportedFile
from services.extraction import mime
from services.extraction.docx_text import extract_docx
from services.extraction.eml import extract_eml
from services.extraction.html import extract_html
from services.extraction.image import extract_image
from services.extraction.limits import DEFAULT_LIMITS, ExtractionLimits
from services.extraction.msg import extract_msg_file
from services.extraction.pdf import extract_pdf
from services.extraction.pptx_text import extract_pptx
from services.extraction.result import Draft, Extracted, finish
from services.extraction.sniff import detect_type, ensure_consistent
from services.extraction.text import extract_markdown, extract_plain
from services.extraction.xlsx_text import extract_xlsx

__all__ = ["DEFAULT_LIMITS", "ExtractionLimits", "Extracted", "detect_type", "extract"]

Extractor = Callable[[bytes, ExtractionLimits], Draft]


def _password_protected_office(data: bytes, limits: ExtractionLimits) -> Draft:
    raise PasswordProtected()


_EXTRACTORS: dict[str, Extractor] = {
    mime.PDF: extract_pdf,
    mime.DOCX: extract_docx,
    mime.PPTX: extract_pptx,
    mime.XLSX: extract_xlsx,
    mime.ENCRYPTED_OOXML: _password_protected_office,
    mime.HTML: extract_html,
    mime.TXT: extract_plain,
    mime.CSV: extract_plain,
    mime.JSON: extract_plain,
    mime.MD: extract_markdown,
    mime.EML: extract_eml,
    mime.MSG: extract_msg_file,
    **{image_type: extract_image for image_type in mime.IMAGES},
}


def extract(
    data: bytes,
    *,
    filename: str,
    declared_type: str | None = None,
    limits: ExtractionLimits = DEFAULT_LIMITS,
) -> Extracted:
    """Detect the type from the bytes, check it against the name and declared type, extract.

    Raises an ExtractionError subclass instead of ever returning empty text.
    """
    if not data:
        raise EmptyFile()
    detected = detect_type(data, filename, declared_type)
    ensure_consistent(detected, filename, declared_type)
    extractor = _EXTRACTORS.get(detected)
    if extractor is None:
        raise UnsupportedFile(
            f"This kind of file ({mime.describe(detected)}) is not supported; "
            "send a PDF, Office document, text, email or image instead."
        )
    return finish(extractor(data, limits), detected, limits)
