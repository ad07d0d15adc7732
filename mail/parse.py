"""Raw RFC 5322 bytes to structured parts, robust to the broken mail found in the wild.

Pure: no I/O and no logging. ``parse_message`` never raises on bad input; what went wrong is
returned in ``ParsedMail.defects`` and in ``MailPart.failure``.

What is an attachment (the whole tree is walked, not only parts marked ``attachment``):

* every leaf with a file name, whatever its disposition or nesting (Apple Mail sends PDFs
  ``inline`` inside alternative/related/mixed);
* a leaf without a name whose bytes are a document (PDF, OOXML/ODF/zip, OLE2, RTF) or that is
  explicitly ``attachment``; the name is synthesized from the sniffed type;
* text/plain and text/html leaves without a name are the body, not attachments;
* images referenced from the HTML body by ``cid:`` are skipped, as are signatures;
* forwarded mail (message/rfc822 or an attached .eml) is one part itself and is descended into;
* winmail.dat (TNEF) is replaced by what it contains.
"""

from __future__ import annotations

import quopri
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from email import message_from_bytes, policy
from email.message import Message
from email.parser import BytesParser

from mail.bodytext import (
    decode_text,
    html_to_text,
    normalise_text,
    referenced_cids,
    referenced_sources,
)
from mail.headers import (
    Envelope,
    PartInfo,
    clean_filename,
    name_from_subject,
    read_envelope,
    read_part_info,
)
from mail.recover import decode_base64, rewrite_boundaries, structural_defects
from mail.sniff import extension_for, extension_of, is_document, sniff, type_for_name
from mail.tnef import TnefContent, TnefUnreadable, unpack_tnef

FORWARDED = "inside forwarded message"
WINMAIL = "inside winmail.dat"
BOUNDARY_NOT_FOUND = "boundary_not_found"

_SERIALISE_POLICY = policy.default.clone(refold_source="none", linesep="\r\n")
_COMPAT_SERIALISE_POLICY = policy.compat32.clone(linesep="\r\n")
_MAX_MULTIPART_NESTING = 50
_TNEF_TYPES = frozenset({"application/ms-tnef", "application/vnd.ms-tnef"})
_SIGNATURE_TYPES = frozenset(
    {"application/pkcs7-signature", "application/x-pkcs7-signature", "application/pgp-signature"}
)
_MESSAGE_SUBTYPES = frozenset({"rfc822", "global"})
_UNREADABLE_PART = ("part_unreadable", "This attachment could not be read from the email.")
_BASE64_BROKEN = (
    "base64_undecodable",
    "The attachment's encoding is damaged; only part of it could be decoded.",
)
_TNEF_BROKEN = (
    "tnef_unreadable",
    "The winmail.dat container sent by Outlook is damaged and could not be opened.",
)


@dataclass
class MailPart:
    filename: str
    declared_type: str
    data: bytes
    provenance: str | None
    is_body: bool = False
    failure: tuple[str, str] | None = None
    forwarded: dict[str, str] | None = None  # the forwarded mail this part came in


@dataclass
class SkippedPart:
    filename: str | None
    declared_type: str
    reason: str


@dataclass
class ParsedMail:
    message_id: str | None
    subject: str
    sender: str
    sender_name: str | None
    date: datetime | None
    body_text: str
    parts: list[MailPart]
    skipped: list[SkippedPart]
    defects: list[str]
    unpacked: list[tuple[str, int]]


@dataclass
class _Context:
    """What one message (at one nesting depth) has collected so far."""

    depth: int
    max_depth: int
    provenance: str | None
    parts: list[MailPart] = field(default_factory=list)
    skipped: list[SkippedPart] = field(default_factory=list)
    defects: list[str] = field(default_factory=list)
    unpacked: list[tuple[str, int]] = field(default_factory=list)
    plain: list[str] = field(default_factory=list)
    html: list[str] = field(default_factory=list)
    fallback_plain: list[str] = field(default_factory=list)
    fallback_html: list[str] = field(default_factory=list)
    cids: set[str] = field(default_factory=set)
    sources: set[str] = field(default_factory=set)

    def defect(self, text: str) -> None:
        if text not in self.defects:
            self.defects.append(text)

    def skip(self, info: PartInfo, reason: str) -> None:
        self.skipped.append(SkippedPart(info.filename, info.content_type, reason))

    def nested(self) -> _Context:
        return _Context(depth=self.depth + 1, max_depth=self.max_depth, provenance=FORWARDED)

    def merge(self, inner: _Context) -> None:
        self.parts.extend(inner.parts)
        self.skipped.extend(inner.skipped)
        self.unpacked.extend(inner.unpacked)
        for text in inner.defects:
            self.defect(f"in forwarded message: {text}")


_Handler = Callable[[Message, PartInfo, int, _Context], None]


def parse_message(raw: bytes, *, max_depth: int = 5, body_as_item: bool = True) -> ParsedMail:
    """Parse one raw message; never raises on malformed input."""
    ctx = _Context(depth=0, max_depth=max_depth, provenance=None)
    try:
        envelope = _parse_into(raw, ctx)
    except Exception as exc:  # last resort: a bug here must not turn into a re-fetch loop
        ctx = _Context(depth=0, max_depth=max_depth, provenance=None)
        ctx.defect(f"{type(exc).__name__} while parsing: message kept unparsed")
        envelope = Envelope(None, "", "", None, None)
    mail = _result(envelope, ctx)
    if body_as_item and not mail.parts and mail.body_text.strip():
        mail.parts.append(_body_part(mail))
    return mail


def _result(envelope: Envelope, ctx: _Context) -> ParsedMail:
    return ParsedMail(
        message_id=envelope.message_id,
        subject=envelope.subject,
        sender=envelope.sender,
        sender_name=envelope.sender_name,
        date=envelope.date,
        body_text=_body_text(ctx),
        parts=ctx.parts,
        skipped=ctx.skipped,
        defects=ctx.defects,
        unpacked=ctx.unpacked,
    )


def _body_part(mail: ParsedMail) -> MailPart:
    return MailPart(
        filename=name_from_subject(mail.subject, ".txt", "message"),
        declared_type="text/plain",
        data=mail.body_text.encode("utf-8"),
        provenance=None,
        is_body=True,
    )


# --- loading -------------------------------------------------------------------------------


def _parse_into(raw: bytes, ctx: _Context) -> Envelope:
    msg, split_ok = _load(raw, ctx)
    if msg is None:
        return Envelope(None, "", "", None, None)
    if split_ok:
        _collect(msg, ctx)
    return read_envelope(msg)


def _parse_bytes(raw: bytes, ctx: _Context) -> Message | None:
    """Modern policy first; when its header parser raises, compat32 (which records defects)."""
    try:
        return message_from_bytes(raw, policy=policy.default)
    except Exception as exc:  # e.g. IndexError on a bare `name*` parameter
        ctx.defect(f"{type(exc).__name__} in header parse: fell back to compat32")
    try:
        return message_from_bytes(raw, policy=policy.compat32)
    except Exception as exc:
        ctx.defect(f"{type(exc).__name__}: message could not be parsed")
        return None


def _load(raw: bytes, ctx: _Context) -> tuple[Message | None, bool]:
    """The parsed message and whether its top-level multipart was split into parts."""
    msg = _parse_bytes(raw, ctx)
    if msg is None:
        return None, False
    broken = structural_defects(msg)
    if broken:
        msg = _recover_boundaries(raw, msg, broken, ctx)
    if _is_split(msg):
        return msg, True  # a broken nested multipart does not sink its siblings
    ctx.defect(BOUNDARY_NOT_FOUND)
    return msg, False


def _recover_boundaries(raw: bytes, msg: Message, broken: list[str], ctx: _Context) -> Message:
    """Re-parse with the literal boundaries from the raw headers; keep it if more got split."""
    rewritten = rewrite_boundaries(raw)
    fixed = _parse_bytes(rewritten, ctx) if rewritten is not None else None
    if fixed is None or _unsplit(fixed) >= _unsplit(msg):
        for name in broken:
            ctx.defect(name)
        return msg
    remaining = structural_defects(fixed)
    for name in broken:
        ctx.defect(name if name in remaining else f"{name} recovered")
    return fixed


def _unsplit(msg: Message) -> int:
    return sum(1 for part in msg.walk() if not _is_split(part))


def _is_split(msg: Message) -> bool:
    return msg.get_content_maintype() != "multipart" or isinstance(msg.get_payload(), list)


# --- walking -------------------------------------------------------------------------------


def _leaves(part: Message, ctx: _Context, level: int = 0) -> Iterator[Message]:
    """Every non-multipart part in document order; message/* parts are leaves too."""
    if part.get_content_maintype() != "multipart":
        yield part
        return
    payload = part.get_payload()
    if not isinstance(payload, list):
        ctx.defect(f"{BOUNDARY_NOT_FOUND} in a nested multipart: its content was skipped")
        return
    if level >= _MAX_MULTIPART_NESTING:
        ctx.defect("multipart nesting too deep: inner parts skipped")
        return
    for sub in payload:
        if isinstance(sub, Message):
            yield from _leaves(sub, ctx, level + 1)


def _part_info(part: Message, ctx: _Context) -> PartInfo | None:
    try:
        return read_part_info(part, ctx.defects)
    except Exception as exc:
        ctx.defect(f"{type(exc).__name__} in part headers: part skipped")
        return None


def _collect(msg: Message, ctx: _Context) -> None:
    """Bodies first (their cid: references decide which images are decoration), then the rest."""
    leaves = [(part, _part_info(part, ctx)) for part in _leaves(msg, ctx)]
    for part, info in leaves:
        if info is not None and _is_body(info):
            _guarded(_add_body, part, info, 0, ctx)
    for index, (part, info) in enumerate(leaves, start=1):
        if info is not None and not _is_body(info):
            _guarded(_classify, part, info, index, ctx)


def _guarded(handler: _Handler, part: Message, info: PartInfo, index: int, ctx: _Context) -> None:
    """One broken part never sinks its siblings."""
    try:
        handler(part, info, index, ctx)
    except Exception as exc:
        ctx.defect(f"{type(exc).__name__} while reading a part")
        if info.filename and not _is_body(info):
            ctx.parts.append(
                MailPart(
                    info.filename, info.content_type, b"", ctx.provenance, failure=_UNREADABLE_PART
                )
            )


def _is_body(info: PartInfo) -> bool:
    return (
        info.maintype == "text"
        and info.subtype in {"plain", "html"}
        and info.filename is None
        and info.disposition != "attachment"
    )


# --- payloads ------------------------------------------------------------------------------


def _raw_payload(part: Message) -> str | bytes:
    payload = part.get_payload()
    return payload if isinstance(payload, (str, bytes)) else ""


def _plain_decoded(part: Message) -> bytes:
    try:
        data = part.get_payload(decode=True)
    except Exception:  # an unknown or broken transfer encoding: keep the bytes as sent
        raw = _raw_payload(part)
        data = raw.encode("ascii", "surrogateescape") if isinstance(raw, str) else raw
    return data if isinstance(data, bytes) else b""


def _base64(payload: str | bytes, ctx: _Context) -> tuple[bytes, tuple[str, str] | None]:
    result = decode_base64(payload)
    if result.chunked:
        ctx.defect("base64 padded chunk by chunk: each chunk decoded")
    if result.stray_characters:
        ctx.defect("base64 with characters outside its alphabet: they were ignored")
    if not result.complete:
        ctx.defect("base64_undecodable")
        return result.data, _BASE64_BROKEN
    return result.data, None


def _payload(part: Message, info: PartInfo, ctx: _Context) -> tuple[bytes, tuple[str, str] | None]:
    """Fully decoded bytes; base64 is decoded chunk-aware instead of stopping at the first `=`."""
    if info.transfer_encoding == "base64":
        return _base64(_raw_payload(part), ctx)
    return _plain_decoded(part), None


# --- bodies --------------------------------------------------------------------------------


def _add_body(part: Message, info: PartInfo, _index: int, ctx: _Context) -> None:
    data, failure = _payload(part, info, ctx)
    if failure:
        ctx.defect("message body partly undecodable: its text may be incomplete")
    text = decode_text(data, info.charset)
    if info.subtype == "html":
        ctx.html.append(text)
        ctx.cids |= referenced_cids(text)
        ctx.sources |= referenced_sources(text)
    else:
        ctx.plain.append(normalise_text(text))


def _join(texts: list[str]) -> str:
    return "\n\n".join(text for text in texts if text.strip())


def _body_text(ctx: _Context) -> str:
    """Plain alternative preferred, else HTML as text; the TNEF body only when nothing else."""
    for plain, html in ((ctx.plain, ctx.html), (ctx.fallback_plain, ctx.fallback_html)):
        text = _join(plain) or _join([html_to_text(fragment) for fragment in html])
        if text:
            return text
    return ""


# --- attachments ---------------------------------------------------------------------------


def _classify(part: Message, info: PartInfo, index: int, ctx: _Context) -> None:
    if info.maintype == "message":
        _message_part(part, info, index, ctx)
        return
    data, failure = _payload(part, info, ctx)
    kind = sniff(data)
    if failure is not None:
        _emit(data, info, index, ctx, kind, failure)
    elif info.content_type in _TNEF_TYPES or kind == "tnef" or _named(info, "winmail.dat"):
        _tnef_part(data, info, ctx)
    else:
        _document_or_skip(data, info, index, ctx, kind)


def _document_or_skip(
    data: bytes, info: PartInfo, index: int, ctx: _Context, kind: str | None
) -> None:
    if info.content_type in _SIGNATURE_TYPES:
        ctx.skip(info, "signature")
    elif _referenced_image(info, ctx):
        ctx.skip(info, "inline_image_referenced_by_body")
    elif _is_eml(info, kind):
        _forwarded(data, info, ctx)
    elif info.filename or info.disposition == "attachment" or is_document(kind):
        _emit(data, info, index, ctx, kind)
    else:
        ctx.skip(info, "not_a_document")


def _named(info: PartInfo, name: str) -> bool:
    return (info.filename or "").lower() == name


def _referenced_image(info: PartInfo, ctx: _Context) -> bool:
    if info.maintype != "image":
        return False
    return bool(
        (info.content_id and info.content_id in ctx.cids)
        or (info.location and info.location in ctx.sources)
    )


def _is_eml(info: PartInfo, kind: str | None) -> bool:
    if info.filename and extension_of(info.filename) == "eml":
        return True
    return kind == "eml" and info.maintype != "text"


def _emit(
    data: bytes,
    info: PartInfo,
    index: int,
    ctx: _Context,
    kind: str | None,
    failure: tuple[str, str] | None = None,
) -> None:
    name = info.filename or f"attachment-{index}.{extension_for(kind, info.content_type)}"
    ctx.parts.append(MailPart(name, info.content_type, data, ctx.provenance, failure=failure))


# --- forwarded messages --------------------------------------------------------------------


def _serialise(msg: Message) -> bytes:
    """Bytes of an already parsed message, header lines kept as received."""
    for out_policy in (_SERIALISE_POLICY, _COMPAT_SERIALISE_POLICY):
        try:
            return msg.as_bytes(policy=out_policy)
        except Exception:  # the generators choke on some malformed trees: try the next way
            continue
    return _serialise_by_hand(msg)


def _serialise_by_hand(msg: Message) -> bytes:
    head = "".join(f"{key}: {value}\r\n" for key, value in msg.raw_items()) + "\r\n"
    payload = msg.get_payload()
    if not isinstance(payload, list):
        return (head + str(payload or "")).encode("utf-8", "surrogateescape")
    subparts = [sub for sub in payload if isinstance(sub, Message)]
    boundary = msg.get_boundary() or ""
    if msg.get_content_maintype() == "message" or not boundary:
        body = b"\r\n".join(_serialise(sub) for sub in subparts)
    else:
        delimiter = f"--{boundary}\r\n".encode("utf-8", "surrogateescape")
        body = b"".join(delimiter + _serialise(sub) + b"\r\n" for sub in subparts)
        body += f"--{boundary}--\r\n".encode("utf-8", "surrogateescape")
    return head.encode("utf-8", "surrogateescape") + body


def _message_bytes(
    part: Message, info: PartInfo, ctx: _Context
) -> tuple[bytes, tuple[str, str] | None]:
    payload = part.get_payload()
    if not isinstance(payload, list) or not payload or not isinstance(payload[0], Message):
        return _payload(part, info, ctx)
    data = _serialise(payload[0])
    if info.transfer_encoding == "base64":  # the parser read the encoded text as a message
        return _base64(data, ctx)
    if info.transfer_encoding == "quoted-printable":
        return quopri.decodestring(data.lstrip(b"\r\n")), None
    return data, None


def _message_part(part: Message, info: PartInfo, index: int, ctx: _Context) -> None:
    if info.subtype not in _MESSAGE_SUBTYPES:
        ctx.skip(info, "not_a_document")  # delivery-status, partial, external-body
        return
    data, failure = _message_bytes(part, info, ctx)
    if failure is not None:
        _emit(data, info, index, ctx, "eml", failure)
        return
    _forwarded(data, info, ctx)


def _eml_name(filename: str | None, data: bytes) -> str:
    if filename:
        return filename if extension_of(filename) == "eml" else f"{filename}.eml"
    headers = BytesParser(policy=policy.compat32).parsebytes(data, headersonly=True)
    return name_from_subject(read_envelope(headers).subject, ".eml", "forwarded message")


def _forwarded(data: bytes, info: PartInfo, ctx: _Context) -> None:
    """A forwarded mail: its attachments become parts that carry its subject, sender and body.

    A forwarded mail without attachments is itself the content, so it becomes one part.
    """
    name = _eml_name(info.filename, data)
    if ctx.depth + 1 > ctx.max_depth:
        ctx.defect(f"forwarded message nested deeper than {ctx.max_depth} levels: not unpacked")
        ctx.parts.append(MailPart(name, "message/rfc822", data, FORWARDED))
        return
    inner = ctx.nested()
    envelope = _parse_into(data, inner)
    if not inner.parts:
        ctx.parts.append(MailPart(name, "message/rfc822", data, FORWARDED))
        ctx.merge(inner)
        return
    context = {
        "subject": envelope.subject,
        "sender": envelope.sender,
        "date": envelope.date.isoformat() if envelope.date else "",
        "body": _body_text(inner)[:2000],
    }
    for part in inner.parts:
        part.forwarded = part.forwarded or context
    ctx.skipped.append(SkippedPart(name, "message/rfc822", "forwarded_message_unpacked"))
    ctx.merge(inner)


# --- TNEF ----------------------------------------------------------------------------------


def _tnef_part(data: bytes, info: PartInfo, ctx: _Context) -> None:
    name = info.filename or "winmail.dat"
    try:
        content = unpack_tnef(data)
    except TnefUnreadable:
        ctx.defect("tnef_unreadable")
        ctx.parts.append(
            MailPart(name, info.content_type, data, ctx.provenance, failure=_TNEF_BROKEN)
        )
        return
    if content.bad_checksums:
        ctx.defect("TNEF checksum mismatch: contents used as found")
    ctx.skipped.append(SkippedPart(name, info.content_type, "container_unpacked"))
    ctx.unpacked.append(("tnef", len(content.attachments)))
    _add_tnef_content(content, ctx)


def _add_tnef_content(content: TnefContent, ctx: _Context) -> None:
    for number, (name, data) in enumerate(content.attachments, start=1):
        filename = clean_filename(name) or (
            f"winmail-{number}.{extension_for(sniff(data), 'application/octet-stream')}"
        )
        ctx.parts.append(MailPart(filename, type_for_name(filename), data, WINMAIL))
    if content.body:
        ctx.fallback_plain.append(normalise_text(content.body))
    if content.html_body:
        ctx.fallback_html.append(content.html_body)
