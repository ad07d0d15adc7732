"""What an extraction returns, and the common finishing of every format's raw text."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from services.errors import NoText
from services.extraction.limits import ExtractionLimits

_MAX_TITLE_CHARS = 300
_TRAILING_SPACE = re.compile(r"[ \t\u00a0]+\n")
_BLANK_RUNS = re.compile(r"\n{3,}")


@dataclass
class Extracted:
    """Text and metadata of one file. ``text`` is never empty or whitespace-only."""

    text: str  # never empty/whitespace-only: raise instead
    detected_type: str  # MIME type detected from the bytes
    title: str | None  # document title if the format has one
    metadata: dict[str, Any]  # pages, sheets, slides, ocr, truncated, encrypted, sender, ...


@dataclass
class Draft:
    """A format extractor's raw result, before normalisation and truncation."""

    text: str
    title: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


class BoundedText:
    """Collects text parts and says when the character budget is spent, so readers stop early."""

    def __init__(self, max_chars: int) -> None:
        self._parts: list[str] = []
        self._size = 0
        self._max_chars = max_chars
        self.truncated = False

    def add(self, part: str) -> bool:
        """Append one part; False (and ``truncated``) once the budget was already spent."""
        if self._size >= self._max_chars:
            self.truncated = True
            return False
        self._parts.append(part)
        self._size += len(part) + 1
        return True

    def text(self, separator: str = "\n") -> str:
        """Everything added so far."""
        return separator.join(self._parts)


def normalize_text(text: str) -> str:
    """Unix newlines, no trailing blanks on lines, at most one empty line in a row, trimmed."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    text = _TRAILING_SPACE.sub("\n", text)
    return _BLANK_RUNS.sub("\n\n", text).strip()


def clean_title(title: str | None) -> str | None:
    """A title on one line, bounded, or None when blank."""
    if title is None:
        return None
    title = " ".join(title.split())
    return title[:_MAX_TITLE_CHARS] or None


def finish(draft: Draft, detected_type: str, limits: ExtractionLimits) -> Extracted:
    """Normalise, refuse empty text, truncate to the limit, and fill the common metadata."""
    text = normalize_text(draft.text)
    if not text:
        raise NoText()
    metadata = {"ocr": False, "truncated": False, **draft.metadata}
    if len(text) > limits.max_chars:
        text = text[: limits.max_chars].rstrip() or text[: limits.max_chars]
        metadata["truncated"] = True
    metadata["chars"] = len(text)
    return Extracted(
        text=text,
        detected_type=detected_type,
        title=clean_title(draft.title),
        metadata=metadata,
    )
