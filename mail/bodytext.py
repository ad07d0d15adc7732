"""Text of message bodies: charset decoding, HTML to plain text, cid: references."""

from __future__ import annotations

import re
import warnings
from urllib.parse import unquote

from bs4 import BeautifulSoup, MarkupResemblesLocatorWarning, XMLParsedAsHTMLWarning

_CID_REFERENCE = re.compile(r"""cid:([^"'\s)>]+)""", re.IGNORECASE)
_SRC_REFERENCE = re.compile(r"""(?:src|background)\s*=\s*["']?([^"'\s>]+)""", re.IGNORECASE)
_BLANK_LINES = re.compile(r"\n[ \t]*(?:\n[ \t]*)+")


def decode_text(data: bytes, charset: str | None) -> str:
    """Text of a part in its declared charset, falling back to UTF-8 then cp1252."""
    for candidate in (charset, "utf-8"):
        if not candidate:
            continue
        try:
            return data.decode(candidate)
        except (LookupError, ValueError):  # unknown or malformed charset names too
            continue
    return data.decode("cp1252", "replace")


def html_to_text(html: str) -> str:
    """Visible text of an HTML body, one block per line, scripts and styles dropped."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MarkupResemblesLocatorWarning)
        warnings.simplefilter("ignore", XMLParsedAsHTMLWarning)
        soup = BeautifulSoup(html, "html.parser")
    for tag in soup(["script", "style", "head", "title"]):
        tag.decompose()
    text = soup.get_text("\n")
    lines = (line.strip() for line in text.splitlines())
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def normalise_text(text: str) -> str:
    """Unix newlines and no trailing blank space."""
    return text.replace("\r\n", "\n").replace("\r", "\n").strip()


def referenced_cids(html: str) -> set[str]:
    """Content-IDs the HTML points at (``cid:...``), lower-cased and URL-unquoted."""
    return {unquote(ref).strip("<>").lower() for ref in _CID_REFERENCE.findall(html)}


def referenced_sources(html: str) -> set[str]:
    """Every src/background value, to match parts referenced by Content-Location."""
    return {ref.strip() for ref in _SRC_REFERENCE.findall(html)}
