"""MIME types the extractor knows, their names for people, and what a file name promises."""

from __future__ import annotations

from pathlib import PurePosixPath

PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
ENCRYPTED_OOXML = "application/x-encrypted-ooxml"  # an OOXML file wrapped in a password container
LEGACY_DOC = "application/msword"
LEGACY_XLS = "application/vnd.ms-excel"
LEGACY_PPT = "application/vnd.ms-powerpoint"
MSG = "application/vnd.ms-outlook"
OLE = "application/x-ole-storage"
ZIP = "application/zip"
EML = "message/rfc822"
HTML = "text/html"
TXT = "text/plain"
MD = "text/markdown"
CSV = "text/csv"
JSON = "application/json"
OCTET = "application/octet-stream"
EMPTY = "application/x-empty"

PNG = "image/png"
JPEG = "image/jpeg"
TIFF = "image/tiff"
GIF = "image/gif"
BMP = "image/bmp"
WEBP = "image/webp"

IMAGES = frozenset({PNG, JPEG, TIFF, GIF, BMP, WEBP})
OOXML = frozenset({DOCX, XLSX, PPTX})
TEXTISH = frozenset({TXT, MD, CSV, JSON, HTML, EML})
# Formats whose name or declared type is a promise about the bytes: a mismatch is reported.
BINARY_CLAIMS = frozenset({PDF, MSG}) | OOXML | IMAGES

_BY_EXTENSION = {
    ".pdf": PDF,
    ".docx": DOCX,
    ".xlsx": XLSX,
    ".pptx": PPTX,
    ".msg": MSG,
    ".eml": EML,
    ".html": HTML,
    ".htm": HTML,
    ".txt": TXT,
    ".text": TXT,
    ".log": TXT,
    ".md": MD,
    ".markdown": MD,
    ".csv": CSV,
    ".json": JSON,
    ".png": PNG,
    ".jpg": JPEG,
    ".jpeg": JPEG,
    ".tif": TIFF,
    ".tiff": TIFF,
    ".gif": GIF,
    ".bmp": BMP,
    ".webp": WEBP,
}

_ALIASES = {
    "application/x-pdf": PDF,
    "image/jpg": JPEG,
    "image/pjpeg": JPEG,
    "image/x-png": PNG,
    "image/x-ms-bmp": BMP,
    "text/x-markdown": MD,
    "text/json": JSON,
    "application/x-msg": MSG,
    "application/xhtml+xml": HTML,
}

_KNOWN = frozenset(_BY_EXTENSION.values())

_NAMES = {
    PDF: "a PDF document",
    DOCX: "a Word document (.docx)",
    XLSX: "an Excel workbook (.xlsx)",
    PPTX: "a PowerPoint presentation (.pptx)",
    ENCRYPTED_OOXML: "a password-protected Office document",
    LEGACY_DOC: "an old-format Word document (.doc)",
    LEGACY_XLS: "an old-format Excel workbook (.xls)",
    LEGACY_PPT: "an old-format PowerPoint presentation (.ppt)",
    MSG: "an Outlook message (.msg)",
    OLE: "an unrecognised Microsoft container file",
    ZIP: "a ZIP archive",
    EML: "an email message (.eml)",
    HTML: "an HTML page",
    TXT: "plain text",
    MD: "a Markdown document",
    CSV: "a CSV table",
    JSON: "a JSON document",
    OCTET: "unrecognised binary data",
    EMPTY: "an empty file",
}


def from_extension(filename: str | None) -> str | None:
    """The type a file name's extension promises, or None when it promises nothing known."""
    if not filename:
        return None
    return _BY_EXTENSION.get(PurePosixPath(filename.replace("\\", "/")).suffix.lower())


def normalize_declared(declared_type: str | None) -> str | None:
    """A declared MIME type reduced to a known type (parameters and aliases removed), else None."""
    if not declared_type:
        return None
    base = declared_type.split(";", 1)[0].strip().lower()
    base = _ALIASES.get(base, base)
    return base if base in _KNOWN else None


def describe(mime: str) -> str:
    """A short phrase naming the type for a person, e.g. 'a PDF document'."""
    if mime in _NAMES:
        return _NAMES[mime]
    if mime.startswith("image/"):
        return f"an image ({mime.removeprefix('image/').upper()})"
    return f"a file of type {mime}"


def compatible(claimed: str, detected: str) -> bool:
    """Whether bytes of the detected type may honestly carry the claimed name or type."""
    if claimed == detected:
        return True
    if claimed in IMAGES and detected in IMAGES:
        return True
    return claimed in OOXML and detected == ENCRYPTED_OOXML
