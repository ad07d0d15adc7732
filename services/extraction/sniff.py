"""Type detection from the bytes, and the check that the name and declared type agree with them.

The bytes decide. The file name only chooses among text-ish formats the bytes cannot tell apart
(Markdown, CSV, JSON, plain text); the declared type is a last hint for those and is otherwise
only checked, never trusted.
"""

from __future__ import annotations

import io
import json
import re
import zipfile

import filetype
import olefile

from services.errors import TypeMismatch
from services.extraction import mime
from services.extraction.text import sniff_encoding
from services.extraction.ziplimits import declared_member_count

_PDF_MAGIC = b"%PDF-"
_PDF_MAGIC_WINDOW = 1024  # the PDF header may follow a little junk
_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = bytes.fromhex("d0cf11e0a1b11ae1")
_SNIFF_MEMBERS_MAX = 10_000  # past this, member names are searched in the raw bytes
_HEAD_CHARS = 4096
_JSON_SNIFF_MAX_BYTES = 1024 * 1024
_HTML_START = re.compile(
    r"^\s*(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html[\s>])",
    re.IGNORECASE | re.DOTALL,
)
_HEADER_LINE = re.compile(r"^([A-Za-z0-9][A-Za-z0-9-]*):[ \t]")
_MAIL_HEADERS = frozenset(
    {"from", "to", "cc", "subject", "date", "mime-version", "received", "message-id",
     "return-path", "reply-to", "delivered-to", "content-type", "x-mailer"}
)  # fmt: skip
_MIN_MAIL_HEADERS = 2
_OOXML_MAIN_PARTS = (
    ("word/document.xml", mime.DOCX),
    ("xl/workbook.xml", mime.XLSX),
    ("ppt/presentation.xml", mime.PPTX),
)
_OLE_STREAMS = (
    ("EncryptedPackage", mime.ENCRYPTED_OOXML),
    ("WordDocument", mime.LEGACY_DOC),
    ("Workbook", mime.LEGACY_XLS),
    ("Book", mime.LEGACY_XLS),
    ("PowerPoint Document", mime.LEGACY_PPT),
)


def detect_type(data: bytes, filename: str | None, declared_type: str | None) -> str:
    """The MIME type of the bytes; the name or declared type only picks among text formats."""
    if not data:
        return mime.EMPTY
    return (
        _container_type(data)
        or _text_type(data, filename, declared_type)
        or _magic_type(data)
        or mime.OCTET
    )


def ensure_consistent(detected: str, filename: str | None, declared_type: str | None) -> None:
    """Raise TypeMismatch when the name or declared type promises a binary format the bytes aren't.

    A text-ish name on bytes of another kind (a PDF saved as .txt) is not a mismatch: the
    bytes are read for what they are.
    """
    for claimed in (mime.from_extension(filename), mime.normalize_declared(declared_type)):
        if claimed in mime.BINARY_CLAIMS and not mime.compatible(claimed, detected):
            raise TypeMismatch(
                f"The file is named or declared as {mime.describe(claimed)}, "
                f"but its content is {mime.describe(detected)}."
            )


def _container_type(data: bytes) -> str | None:
    """PDF, ZIP-based and OLE-based formats, recognised by their own signatures."""
    if _PDF_MAGIC in data[:_PDF_MAGIC_WINDOW]:
        return mime.PDF
    if data.startswith(_ZIP_MAGIC):
        return _zip_type(data)
    if data.startswith(_OLE_MAGIC):
        return _ole_type(data)
    return None


def _magic_type(data: bytes) -> str | None:
    """Images and other binary formats by magic number; asked only once the bytes are not text,
    since some magic numbers are printable (BMP's is "BM")."""
    kind = filetype.guess(data)
    return None if kind is None else str(kind.mime)


def _zip_type(data: bytes) -> str:
    """DOCX, XLSX or PPTX by their content-types part and main part, else plain ZIP."""
    names = _zip_member_names(data)
    if names is None:  # unreadable or huge directory: look for the names in the raw bytes
        found = {name for name, _ in _OOXML_MAIN_PARTS if name.encode() in data}
        has_content_types = b"[Content_Types].xml" in data
    else:
        found, has_content_types = names, "[Content_Types].xml" in names
    if has_content_types:
        for part, kind in _OOXML_MAIN_PARTS:
            if part in found:
                return kind
    return mime.ZIP


def _zip_member_names(data: bytes) -> set[str] | None:
    count = declared_member_count(data)
    if count is None or count > _SNIFF_MEMBERS_MAX:
        return None
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return set(archive.namelist())
    except (zipfile.BadZipFile, ValueError, EOFError):
        return None


def _ole_type(data: bytes) -> str:
    """Outlook message, password-protected OOXML, legacy Office, else a generic OLE container."""
    try:
        with olefile.OleFileIO(data) as ole:
            streams = {"/".join(entry) for entry in ole.listdir(streams=True, storages=True)}
    except (OSError, ValueError, IndexError):
        return mime.OLE
    if any(name.startswith("__substg1.0_") for name in streams):
        return mime.MSG
    for stream, kind in _OLE_STREAMS:
        if stream in streams:
            return kind
    return mime.OLE


def _text_type(data: bytes, filename: str | None, declared_type: str | None) -> str | None:
    encoding = sniff_encoding(data)
    if encoding is None:
        return None
    head = data[: _HEAD_CHARS * 4].decode(encoding, errors="replace")[:_HEAD_CHARS]
    if _HTML_START.match(head.lstrip("\ufeff")):
        return mime.HTML
    if _looks_like_mail(head):
        return mime.EML
    for hint in (mime.from_extension(filename), mime.normalize_declared(declared_type)):
        if hint in mime.TEXTISH:
            return hint
    return mime.JSON if _looks_like_json(data, encoding) else mime.TXT


def _looks_like_mail(head: str) -> bool:
    """RFC 822 header block: every line a header or continuation, with known mail headers."""
    lines = head.lstrip("\ufeff").splitlines()
    if lines and lines[0].startswith("From "):  # mbox separator line
        lines = lines[1:]
    known = 0
    for line in lines:
        if not line.strip():
            break
        match = _HEADER_LINE.match(line)
        if match:
            known += match.group(1).lower() in _MAIL_HEADERS
        elif not line[:1].isspace():
            return False
    return known >= _MIN_MAIL_HEADERS


def _looks_like_json(data: bytes, encoding: str) -> bool:
    stripped = data.strip()
    if len(stripped) > _JSON_SNIFF_MAX_BYTES or stripped[:1] not in (b"{", b"["):
        return False
    try:
        json.loads(data.decode(encoding))
    except (ValueError, UnicodeDecodeError):
        return False
    return True
