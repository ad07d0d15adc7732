"""Unpack Outlook TNEF containers (winmail.dat, application/ms-tnef) with tnefparse.

tnefparse silently shortens a truncated stream (attachments come out empty or missing), so the
object layout is checked here first and a damaged container is reported as unreadable.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from tnefparse.tnef import TNEF, TNEFAttachment

from mail.headers import clean_filename
from mail.sniff import TNEF_SIGNATURE

_OBJECT_HEADER = struct.Struct("<BHHI")  # level, attribute id, attribute type, length
_MAX_EMBEDDED_DEPTH = 3


class TnefUnreadable(Exception):
    """The container is not a TNEF stream or is damaged; carries no user text."""


@dataclass
class TnefContent:
    attachments: list[tuple[str, bytes]] = field(default_factory=list)
    body: str | None = None
    html_body: str | None = None
    bad_checksums: int = 0


def _check_layout(data: bytes) -> int:
    """Walk the object headers; raise on truncation, return how many checksums are wrong."""
    if len(data) < 6 or not data.startswith(TNEF_SIGNATURE):
        raise TnefUnreadable("not a TNEF stream")
    offset, bad = 6, 0
    content_end = len(data.rstrip(b"\x00"))  # some encoders pad the stream with zero bytes
    while offset < content_end:
        if offset + _OBJECT_HEADER.size + 2 > len(data):
            raise TnefUnreadable("truncated object header")
        length = _OBJECT_HEADER.unpack_from(data, offset)[3]
        start = offset + _OBJECT_HEADER.size
        end = start + length
        if end + 2 > len(data):
            raise TnefUnreadable("truncated object")
        checksum = struct.unpack_from("<H", data, end)[0]
        bad += int(sum(data[start:end]) & 0xFFFF != checksum)
        offset = end + 2
    return bad


def _text(value: bytes | str | None, codepage: str | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode(codepage or "cp1252", "replace")
    value = value.strip("\x00").strip()
    return value or None


def _attachment_name(attachment: TNEFAttachment, codepage: str | None) -> str | None:
    try:
        name = attachment.long_filename()
    except UnicodeDecodeError:  # tnefparse decodes the short title as UTF-8 only
        name = getattr(attachment, "_name", b"")
    return clean_filename(_text(name, codepage))


def _collect(tnef: TNEF, content: TnefContent, level: int) -> None:
    for attachment in tnef.attachments:
        embedded = getattr(attachment, "embed", None)
        if isinstance(embedded, TNEF) and level < _MAX_EMBEDDED_DEPTH:
            _collect(embedded, content, level + 1)
            continue
        name = _attachment_name(attachment, tnef.codepage)
        if name or attachment.data:
            content.attachments.append((name or "", bytes(attachment.data)))


def unpack_tnef(data: bytes) -> TnefContent:
    """Attachments (name, bytes) and body text of a TNEF stream; raises TnefUnreadable."""
    bad_checksums = _check_layout(data)
    try:
        tnef = TNEF(data, do_checksum=False)
        content = TnefContent(bad_checksums=bad_checksums)
        _collect(tnef, content, 0)
        content.body = _text(tnef.body, tnef.codepage)
        content.html_body = _text(tnef.htmlbody, tnef.codepage)
    except Exception as exc:  # tnefparse raises struct.error, ValueError, KeyError, ...
        raise TnefUnreadable(type(exc).__name__) from exc
    return content
