"""Titles from document metadata, kept only when a person wrote them.

Authoring tools fill the title field with placeholders — reportlab's "(anonymous)", Word's
"Microsoft Word - report.docx", PowerPoint's "PowerPoint Presentation", a file name — which
would name every item the same. Those are dropped, so the title comes from the text instead.
"""

from __future__ import annotations

import re

_PLACEHOLDERS = frozenset(
    {
        "", "(anonymous)", "anonymous", "untitled", "untitled document", "no title", "title",
        "document", "presentation", "powerpoint presentation", "slide 1", "unknown", "none",
        "null", "microsoft word", "workbook", "sheet1",
    }
)  # fmt: skip
_GENERATED = re.compile(
    r"^(?:microsoft (?:word|powerpoint|excel) - .*"  # "Microsoft Word - report.docx"
    r"|(?:document|presentation|book|untitled)\s*\d*"  # "Document1", "Book1", "Untitled 3"
    r"|[^\s/\\]+\.(?:pdf|docx?|pptx?|xlsx?|odt|rtf|txt|md|html?|csv))$",  # a bare file name
    re.IGNORECASE,
)


def metadata_title(value: object) -> str | None:
    """The metadata title, or None when it is missing or a tool's placeholder."""
    if not isinstance(value, str):
        return None
    title = " ".join(value.split())
    if title.lower() in _PLACEHOLDERS or _GENERATED.match(title):
        return None
    return title
