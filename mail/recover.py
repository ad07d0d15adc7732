"""Recovery from broken MIME that the standard library parses silently wrong.

* base64 bodies encoded chunk by chunk, each chunk padded (``=`` in the middle of the body):
  the stdlib decoder stops at the first padding; here every chunk is decoded.
* multipart boundaries the stdlib cannot match (for example ``"<<...>>"``, which it unquotes
  twice): every boundary parameter is rewritten to a safe token together with its delimiter
  lines, using the literal string from the raw header, and the message is parsed again.
"""

from __future__ import annotations

import binascii
import hashlib
import re
from dataclasses import dataclass
from email.message import Message

_NOT_BASE64 = re.compile(rb"[^A-Za-z0-9+/=]")
_BASE64_CHUNK = re.compile(rb"[A-Za-z0-9+/]*=*")
_STRAY = re.compile(rb"[^A-Za-z0-9+/=\s]")

_CONTENT_TYPE = re.compile(rb"(?im)^content-type:[^\r\n]*(?:\r?\n[ \t][^\r\n]*)*")
_BOUNDARY_PARAM = re.compile(rb'(?i)(boundary\s*=\s*)("(?:[^"\\\r\n]|\\.)*"|[^;\s]+)')
_SAFE_BOUNDARY = re.compile(rb"^[0-9A-Za-z'()+_,\-./:=?]+$")
_BROKEN_MULTIPART = frozenset(
    {"StartBoundaryNotFoundDefect", "NoBoundaryInMultipartDefect", "CloseBoundaryNotFoundDefect"}
)


@dataclass(frozen=True)
class Base64Result:
    data: bytes
    chunked: bool  # padding appeared inside the body and each chunk was decoded on its own
    complete: bool  # False when some input could not be turned into bytes
    stray_characters: bool  # characters outside the base64 alphabet were ignored


def _decode_chunk(chunk: bytes) -> tuple[bytes, bool]:
    """Bytes of one padded chunk and whether all of it was decodable."""
    body = chunk.rstrip(b"=")
    whole = len(body) % 4 != 1  # one dangling character carries no whole byte: input is damaged
    if not whole:
        body = body[:-1]
    try:
        return binascii.a2b_base64(body + b"=" * (-len(body) % 4), strict_mode=False), whole
    except binascii.Error:
        return b"", False


def decode_base64(payload: str | bytes) -> Base64Result:
    """Decode base64 that may carry padding mid-body; report what could not be decoded."""
    raw = payload.encode("ascii", "ignore") if isinstance(payload, str) else payload
    cleaned = _NOT_BASE64.sub(b"", raw)
    chunks = [chunk for chunk in _BASE64_CHUNK.findall(cleaned) if chunk.strip(b"=")]
    decoded = [_decode_chunk(chunk) for chunk in chunks]
    return Base64Result(
        data=b"".join(data for data, _ in decoded),
        chunked=len(chunks) > 1,
        complete=all(whole for _, whole in decoded),
        stray_characters=bool(_STRAY.search(raw)),
    )


def structural_defects(msg: Message) -> list[str]:
    """Names of the defects in the tree that mean a multipart was not split."""
    found: list[str] = []
    for part in msg.walk():
        for defect in part.defects:
            name = type(defect).__name__
            if name in _BROKEN_MULTIPART and name not in found:
                found.append(name)
        if part.get_content_maintype() == "multipart" and not part.is_multipart():
            if "MultipartInvariantViolationDefect" not in found:
                found.append("MultipartInvariantViolationDefect")
    return found


def _literal(value: bytes) -> bytes:
    """The boundary exactly as the sender meant it: one layer of quotes removed, no more."""
    if len(value) >= 2 and value.startswith(b'"') and value.endswith(b'"'):
        return re.sub(rb"\\(.)", rb"\1", value[1:-1])
    return value


def _replacement(literal: bytes) -> bytes:
    return b"cm-recovered-" + hashlib.sha256(literal).hexdigest()[:16].encode()


def _unsafe_boundaries(raw: bytes) -> list[bytes]:
    found: list[bytes] = []
    for header in _CONTENT_TYPE.finditer(raw):
        for match in _BOUNDARY_PARAM.finditer(header.group(0)):
            literal = _literal(match.group(2))
            if literal and not _SAFE_BOUNDARY.match(literal) and literal not in found:
                found.append(literal)
    return found


def _rewrite_header(header: bytes, mapping: dict[bytes, bytes]) -> bytes:
    def swap(match: re.Match[bytes]) -> bytes:
        new = mapping.get(_literal(match.group(2)))
        return match.group(1) + b'"' + new + b'"' if new else match.group(0)

    return _BOUNDARY_PARAM.sub(swap, header)


def _rewrite_delimiters(raw: bytes, literal: bytes, new: bytes) -> bytes:
    pattern = re.compile(rb"(?m)^--" + re.escape(literal) + rb"(?=--|[ \t]*\r?$)")
    return pattern.sub(b"--" + new, raw)


def rewrite_boundaries(raw: bytes) -> bytes | None:
    """Rewrite every boundary the stdlib would mangle to a safe token; None if there is none."""
    literals = [
        lit for lit in _unsafe_boundaries(raw) if re.search(rb"(?m)^--" + re.escape(lit), raw)
    ]
    if not literals:
        return None
    mapping = {literal: _replacement(literal) for literal in literals}
    rewritten = _CONTENT_TYPE.sub(lambda m: _rewrite_header(m.group(0), mapping), raw)
    for literal, new in mapping.items():
        rewritten = _rewrite_delimiters(rewritten, literal, new)
    return rewritten
