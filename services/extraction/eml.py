"""RFC 822 email (.eml) with the standard library: headers, text body, attachment names."""

from __future__ import annotations

import email
from email import policy
from email.header import decode_header, make_header
from email.message import EmailMessage, Message

from services.errors import CorruptFile
from services.extraction.guard import parser_errors
from services.extraction.html import html_to_text
from services.extraction.limits import ExtractionLimits
from services.extraction.mailparts import Mail, mail_draft
from services.extraction.result import Draft


def extract_eml(data: bytes, limits: ExtractionLimits) -> Draft:
    """Subject, sender, date, the plain body (else the HTML body as text), attachment names."""
    del limits  # the input size bounds the work; the caller truncates the text
    return mail_draft(read_eml(data))


def read_eml(data: bytes) -> Mail:
    """Parse with the modern policy; fall back to compat32 when malformed parts make it raise."""
    try:
        return _read_modern(data)
    except Exception:  # policy.default raises lazily on malformed headers and unknown charsets
        with parser_errors(CorruptFile):
            return _read_compat(data)


def _read_modern(data: bytes) -> Mail:
    message = email.message_from_bytes(data, policy=policy.default)
    assert isinstance(message, EmailMessage)  # guaranteed by policy.default
    return Mail(
        subject=str(message.get("subject", "")),
        sender=str(message.get("from", "")),
        to=str(message.get("to", "")),
        date=str(message.get("date", "")),
        body=_modern_body(message),
        attachments=[_part_name(part) for part in message.iter_attachments()],
    )


def _modern_body(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    content = str(part.get_content())
    return html_to_text(content)[0] if part.get_content_subtype() == "html" else content


def _part_name(part: Message) -> str:
    return str(part.get_filename() or part.get_content_type())


def _read_compat(data: bytes) -> Mail:
    message = email.message_from_bytes(data, policy=policy.compat32)
    plain, html, attachments = _walk_compat(message)
    return Mail(
        subject=_header_text(message.get("subject")),
        sender=_header_text(message.get("from")),
        to=_header_text(message.get("to")),
        date=_header_text(message.get("date")),
        body=plain if plain.strip() else html_to_text(html)[0] if html else "",
        attachments=attachments,
    )


def _walk_compat(message: Message) -> tuple[str, str, list[str]]:
    """(first plain body, first HTML body, attachment names) of a compat32 message."""
    plain, html, attachments = "", "", []
    for part in message.walk():
        if part.is_multipart():
            continue
        if part.get_filename() or part.get_content_disposition() == "attachment":
            attachments.append(_header_text(part.get_filename()) or part.get_content_type())
        elif part.get_content_type() == "text/plain" and not plain:
            plain = _payload_text(part)
        elif part.get_content_type() == "text/html" and not html:
            html = _payload_text(part)
    return plain, html, attachments


def _payload_text(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    try:
        return payload.decode(part.get_content_charset() or "utf-8", errors="replace")
    except LookupError:  # an unknown charset name
        return payload.decode("utf-8", errors="replace")


def _header_text(value: object) -> str:
    if value is None:
        return ""
    try:
        return str(make_header(decode_header(str(value))))
    except (LookupError, UnicodeError, ValueError):
        return str(value)
