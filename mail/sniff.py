"""Recognise what a MIME part holds from its bytes and name, without trusting the declared type.

Pure functions over bytes: no I/O and no system MIME tables (``mimetypes`` reads files from
the host), so the answer is the same on every machine.
"""

from __future__ import annotations

import io
import re
import zipfile

TNEF_SIGNATURE = b"\x78\x9f\x3e\x22"
OLE2_SIGNATURE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"

# Kinds whose presence makes an unnamed, undispositioned part worth keeping.
DOCUMENT_KINDS = frozenset(
    {
        "pdf",
        "docx",
        "xlsx",
        "pptx",
        "odt",
        "ods",
        "odp",
        "zip",
        "doc",
        "xls",
        "ppt",
        "msg",
        "ole",
        "rtf",
    }
)

_TYPES_BY_EXTENSION = {
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "odt": "application/vnd.oasis.opendocument.text",
    "ods": "application/vnd.oasis.opendocument.spreadsheet",
    "odp": "application/vnd.oasis.opendocument.presentation",
    "doc": "application/msword",
    "xls": "application/vnd.ms-excel",
    "ppt": "application/vnd.ms-powerpoint",
    "msg": "application/vnd.ms-outlook",
    "rtf": "application/rtf",
    "zip": "application/zip",
    "eml": "message/rfc822",
    "txt": "text/plain",
    "csv": "text/csv",
    "tsv": "text/tab-separated-values",
    "md": "text/markdown",
    "html": "text/html",
    "htm": "text/html",
    "xml": "application/xml",
    "json": "application/json",
    "ics": "text/calendar",
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "gif": "image/gif",
    "tif": "image/tiff",
    "tiff": "image/tiff",
    "dat": "application/ms-tnef",
}

_EXTENSION_BY_TYPE = {
    **{
        ctype: ext
        for ext, ctype in _TYPES_BY_EXTENSION.items()
        if ext not in {"htm", "jpeg", "tif"}
    },
    "application/vnd.ms-tnef": "dat",
    "application/x-pdf": "pdf",
    "message/global": "eml",
}

# OLE2 directory entries are UTF-16LE names; the stream names tell the Office format apart.
_OLE_STREAMS = (
    ("__substg1.0_", "msg"),
    ("WordDocument", "doc"),
    ("Workbook", "xls"),
    ("PowerPoint Document", "ppt"),
)

_ZIP_PREFIXES = (("word/", "docx"), ("xl/", "xlsx"), ("ppt/", "pptx"))
_ODF_TYPES = {
    b"application/vnd.oasis.opendocument.text": "odt",
    b"application/vnd.oasis.opendocument.spreadsheet": "ods",
    b"application/vnd.oasis.opendocument.presentation": "odp",
}

_HEADER_LINE = re.compile(rb"^([A-Za-z0-9-]+):[ \t]?", re.MULTILINE)
_MAIL_HEADERS = frozenset(
    {b"from", b"to", b"subject", b"date", b"message-id", b"received", b"mime-version", b"cc"}
)


def sniff(data: bytes) -> str | None:
    """Return a file-extension-like kind ("pdf", "docx", "tnef", "eml", ...) or None."""
    if data.startswith(TNEF_SIGNATURE):
        return "tnef"
    if b"%PDF-" in data[:1024]:
        return "pdf"
    if data.startswith(b"PK\x03\x04"):
        return _zip_kind(data)
    if data.startswith(OLE2_SIGNATURE):
        return _ole_kind(data)
    if data.startswith(b"{\\rtf"):
        return "rtf"
    if looks_like_rfc822(data):
        return "eml"
    return None


def _zip_kind(data: bytes) -> str:
    """Tell OOXML and ODF documents from a plain zip by listing names only (nothing inflated)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = archive.namelist()
            if "mimetype" in names:
                return _ODF_TYPES.get(archive.read("mimetype").strip(), "zip")
    except (zipfile.BadZipFile, OSError, ValueError, KeyError, NotImplementedError):
        return "zip"
    if "[Content_Types].xml" in names:
        for prefix, kind in _ZIP_PREFIXES:
            if any(name.startswith(prefix) for name in names):
                return kind
    return "zip"


def _ole_kind(data: bytes) -> str:
    for stream, kind in _OLE_STREAMS:
        if stream.encode("utf-16-le") in data:
            return kind
    return "ole"


def looks_like_rfc822(data: bytes) -> bool:
    """True when the bytes start with a mail header block that has From and one more mail header."""
    head = data[:8192].lstrip(b"\r\n")
    end = re.search(rb"\r?\n\r?\n", head)
    block = head[: end.start()] if end else head
    if not _HEADER_LINE.match(block):
        return False
    names = {match.group(1).lower() for match in _HEADER_LINE.finditer(block)}
    return b"from" in names and len(names & _MAIL_HEADERS) >= 2


def extension_of(filename: str) -> str:
    """Lower-case extension without the dot, or ""."""
    stem, dot, ext = filename.rpartition(".")
    return ext.lower() if dot and stem else ""


def type_for_name(filename: str) -> str:
    """A content type guessed from the name alone; octet-stream when unknown."""
    return _TYPES_BY_EXTENSION.get(extension_of(filename), "application/octet-stream")


def extension_for(kind: str | None, declared_type: str) -> str:
    """Extension for a synthesized name: sniffed kind first, then the declared type, then bin."""
    if kind and kind not in {"ole", "tnef"}:
        return kind
    return _EXTENSION_BY_TYPE.get(declared_type.lower(), "bin")


def is_document(kind: str | None) -> bool:
    return kind in DOCUMENT_KINDS
