"""Decoding of header values and part metadata that survives what real mail clients send.

Everything reads either the modern ``email.policy.default`` accessors or, when those raise on a
malformed header, a compat32 view of the same raw header lines decoded by hand.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from email import utils
from email.errors import HeaderParseError
from email.header import decode_header
from email.message import Message
from email.policy import compat32

_ENCODED_WORD = re.compile(r"=\?[^?\s]+\?[bBqQ]\?[^?\s]*\?=")
_FOLD = re.compile(r"\r?\n(?=[ \t])")
_SURROGATE = re.compile("[\ud800-\udfff]")
_BIDI_CONTROLS = re.compile("[\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_PATH_SEPARATORS = re.compile(r"[/\\]")
_MESSAGE_ID = re.compile(r"<([^<>]*)>")
MAX_NAME_LENGTH = 200


@dataclass(frozen=True)
class PartInfo:
    """What the headers of one MIME part say, decoded and cleaned."""

    content_type: str
    disposition: str | None
    filename: str | None
    content_id: str | None
    location: str | None
    charset: str | None
    transfer_encoding: str

    @property
    def maintype(self) -> str:
        return self.content_type.partition("/")[0]

    @property
    def subtype(self) -> str:
        return self.content_type.partition("/")[2]


@dataclass(frozen=True)
class Envelope:
    message_id: str | None
    subject: str
    sender: str
    sender_name: str | None
    date: datetime | None


def fix_surrogates(text: str) -> str:
    """Turn bytes smuggled as surrogate escapes (raw 8-bit headers) back into text."""
    if not _SURROGATE.search(text):
        return text
    try:
        raw = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp1252", "replace")


def _decode_chunk(chunk: bytes | str, charset: str | None) -> str:
    if isinstance(chunk, str):
        return chunk
    if charset is None:
        return chunk.decode("raw-unicode-escape")
    if charset == "unknown-8bit":
        return fix_surrogates(chunk.decode("utf-8", "surrogateescape"))
    try:
        return chunk.decode(charset, "replace")
    except (LookupError, ValueError):  # unknown or malformed charset name
        return chunk.decode("utf-8", "replace")


def decode_words(text: str) -> str:
    """Decode RFC 2047 encoded-words anywhere (also inside quoted parameters).

    ``decode_header`` joins adjacent words of one charset before decoding, so a multibyte
    character cut between two encoded-words comes out whole.
    """
    if not _ENCODED_WORD.search(text):
        return text
    try:
        chunks = decode_header(text)
    except (HeaderParseError, ValueError, AssertionError):
        return text
    return "".join(_decode_chunk(chunk, charset) for chunk, charset in chunks)


def one_line(text: str) -> str:
    """Unfold, drop control characters, normalise to NFC, trim."""
    text = _FOLD.sub("", text).replace("\t", " ")
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Cc")
    return unicodedata.normalize("NFC", _BIDI_CONTROLS.sub("", text)).strip()


def _shorten(name: str) -> str:
    if len(name) <= MAX_NAME_LENGTH:
        return name
    stem, dot, ext = name.rpartition(".")
    if dot and stem and len(ext) <= 16:
        return stem[: MAX_NAME_LENGTH - len(ext) - 1] + "." + ext
    return name[:MAX_NAME_LENGTH]


def clean_filename(raw: str | None) -> str | None:
    """A display-safe file name: decoded, last path component only, no controls, NFC."""
    if not raw:
        return None
    text = one_line(fix_surrogates(decode_words(fix_surrogates(raw))))
    name = _PATH_SEPARATORS.split(text)[-1].strip()
    if name in {"", ".", ".."}:
        return None
    return _shorten(name)


def name_from_subject(subject: str, suffix: str, fallback: str) -> str:
    """File name made from a subject line: separators replaced rather than cut away."""
    stem = _PATH_SEPARATORS.sub("-", one_line(subject)).strip(" .") or fallback
    return _shorten(stem[: MAX_NAME_LENGTH - len(suffix)] + suffix)


def raw_header(msg: Message, name: str) -> str | None:
    """The header value exactly as received (first occurrence), never parsed."""
    wanted = name.lower()
    for key, value in msg.raw_items():
        if key.lower() == wanted:
            return str(value)
    return None


def compat_view(part: Message) -> Message:
    """The same raw header lines under compat32, whose parser does not raise on bad params."""
    view = Message(policy=compat32)
    for key, value in part.raw_items():
        view[key] = str(value)
    return view


def _param_name(part: Message, param: str, header: str) -> str | None:
    value = part.get_param(param, None, header)
    if value is None:
        return None
    return clean_filename(utils.collapse_rfc2231_value(value))


def _filename(part: Message) -> str | None:
    return _param_name(part, "filename", "content-disposition") or _param_name(
        part, "name", "content-type"
    )


def _text(value: object) -> str | None:
    text = one_line(str(value)) if value is not None else ""
    return text or None


def _read_info(part: Message) -> PartInfo:
    cid = _text(part.get("content-id"))
    return PartInfo(
        content_type=part.get_content_type().lower(),
        disposition=part.get_content_disposition(),
        filename=_filename(part),
        content_id=cid.strip("<>").strip().lower() if cid else None,
        location=_text(part.get("content-location")),
        charset=part.get_content_charset(),
        transfer_encoding=(_text(part.get("content-transfer-encoding")) or "").lower(),
    )


def read_part_info(part: Message, defects: list[str]) -> PartInfo:
    """Part metadata; a header the modern parser chokes on is re-read under compat32."""
    try:
        return _read_info(part)
    except Exception as exc:  # the modern header parser raises bare IndexError and friends
        defects.append(f"{type(exc).__name__} in header parse: fell back to compat32")
        return _read_info(compat_view(part))


def _raw_text(msg: Message, name: str) -> str:
    return one_line(decode_words(fix_surrogates(raw_header(msg, name) or "")))


def _sender(msg: Message) -> tuple[str, str | None]:
    raw = one_line(fix_surrogates(raw_header(msg, "from") or ""))
    name, address = utils.parseaddr(raw)
    return address.strip().lower(), one_line(decode_words(name)) or None


def _message_id(msg: Message) -> str | None:
    raw = one_line(raw_header(msg, "message-id") or "")
    match = _MESSAGE_ID.search(raw)
    value = (match.group(1) if match else raw).strip()
    return value or None


def _date(msg: Message) -> datetime | None:
    raw = raw_header(msg, "date")
    if not raw:
        return None
    try:
        return utils.parsedate_to_datetime(one_line(raw))
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def read_envelope(msg: Message) -> Envelope:
    """Message-ID, subject, sender and date read from the raw header lines (never raises)."""
    sender, sender_name = _sender(msg)
    return Envelope(
        message_id=_message_id(msg),
        subject=_raw_text(msg, "subject"),
        sender=sender,
        sender_name=sender_name,
        date=_date(msg),
    )
