"""Plain-text formats (TXT, Markdown, CSV, JSON) and the charset detection they share."""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

from charset_normalizer import from_bytes

from services.extraction.limits import ExtractionLimits
from services.extraction.result import Draft

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_SNIFF_BYTES = 64 * 1024
_MAX_CONTROL_RATIO = 0.02
# Short samples often score cp1250 and cp1252 alike; Western Europe is the likelier sender.
_PREFERRED_ON_TIE = ("cp1252", "latin_1", "iso8859_15")
_TIE = 0.01
# Unicode's control characters (category Cc: U+0000-U+001F, U+007F-U+009F) that plain text
# does not use: all but tab, the line and page breaks and ESC (ANSI colours in logs).
_CONTROL = re.compile("[\x00-\x08\x0e-\x1a\x1c-\x1f\x7f-\x9f]")
_MARKDOWN_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)


@dataclass(frozen=True)
class Decoded:
    text: str
    encoding: str
    truncated: bool


def sniff_encoding(data: bytes) -> str | None:
    """The encoding of text bytes, or None when the bytes do not look like text."""
    sample = data[:_SNIFF_BYTES]
    for bom, encoding in _BOMS:
        if sample.startswith(bom):
            return encoding
    if b"\x00" in sample:
        return None
    detected = _utf8_or_detected(sample)
    if detected is None:
        return None
    return detected if _mostly_printable(_decode_prefix(sample, detected)) else None


def _utf8_or_detected(sample: bytes) -> str | None:
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
        return "utf-8"
    except UnicodeDecodeError:
        return _detected(sample)


def _detected(sample: bytes) -> str | None:
    """charset-normalizer's choice; among equally good candidates, the common Western ones."""
    matches = from_bytes(sample)
    best = matches.best()
    if best is None:
        return None
    tied = {
        str(match.encoding)
        for match in matches
        if abs(match.chaos - best.chaos) <= _TIE and abs(match.coherence - best.coherence) <= _TIE
    }
    preferred = [encoding for encoding in _PREFERRED_ON_TIE if encoding in tied]
    return preferred[0] if preferred else str(best.encoding)


def _mostly_printable(text: str) -> bool:
    return len(_CONTROL.findall(text)) <= len(text) * _MAX_CONTROL_RATIO


def _decode_prefix(data: bytes, encoding: str) -> str:
    """Decode bytes that may stop in the middle of a multi-byte character."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
    return str(decoder.decode(data, final=False))


def decode_text(data: bytes, max_chars: int) -> Decoded:
    """Decode at most the bytes needed for ``max_chars`` characters, in the sniffed encoding."""
    encoding = sniff_encoding(data) or "utf-8"
    limit = max_chars * 4 + 4  # no encoding we meet needs more than 4 bytes a character
    text = _decode_prefix(data[:limit], encoding)
    return Decoded(text=text, encoding=encoding, truncated=len(data) > limit)


def extract_plain(data: bytes, limits: ExtractionLimits) -> Draft:
    """TXT, CSV and JSON: the decoded text as it is."""
    decoded = decode_text(data, limits.max_chars)
    return Draft(text=decoded.text, metadata=_metadata(decoded))


def extract_markdown(data: bytes, limits: ExtractionLimits) -> Draft:
    """Markdown: the source text; the title is its first heading."""
    decoded = decode_text(data, limits.max_chars)
    heading = _MARKDOWN_HEADING.search(decoded.text)
    title = heading.group(1) if heading else None
    return Draft(text=decoded.text, title=title, metadata=_metadata(decoded))


def _metadata(decoded: Decoded) -> dict[str, object]:
    return {"encoding": decoded.encoding, "truncated": decoded.truncated}
