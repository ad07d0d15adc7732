"""HTML pages (and HTML email bodies) to readable text with beautifulsoup4 and lxml."""

from __future__ import annotations

import re
import warnings

from bs4 import BeautifulSoup, NavigableString, Tag

from services.errors import CorruptFile
from services.extraction.guard import parser_errors
from services.extraction.limits import ExtractionLimits
from services.extraction.result import Draft

_DROPPED = ("script", "style", "noscript", "template", "svg", "iframe", "object", "head")
_BLOCKS = (
    "address", "article", "aside", "blockquote", "dd", "div", "dl", "dt", "fieldset",
    "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header",
    "hr", "li", "main", "nav", "ol", "p", "pre", "section", "table", "tr", "ul",
)  # fmt: skip
_CELLS = ("td", "th")
_SPACES = re.compile(r"[ \u00a0\u200b]+")  # tabs separate table cells


def extract_html(data: bytes, limits: ExtractionLimits) -> Draft:
    """Visible text of an HTML page; the title is its <title>, else its first <h1>."""
    del limits  # the input size bounds the work; the caller truncates the text
    text, title = html_to_text(data)
    return Draft(text=text, title=title)


def html_to_text(markup: bytes | str) -> tuple[str, str | None]:
    """(visible text with one line per block, title) of an HTML document or fragment."""
    with parser_errors(CorruptFile), warnings.catch_warnings():
        # bs4 warns about markup that looks like a URL or XML; the input is what it is.
        warnings.simplefilter("ignore")
        soup = BeautifulSoup(markup, "lxml")
        title = _title(soup)
        for tag in soup(_DROPPED):
            tag.decompose()
        _mark_layout(soup)
        return _tidy(soup.get_text()), title


def _title(soup: BeautifulSoup) -> str | None:
    for tag in (soup.title, soup.find("h1")):
        if isinstance(tag, Tag) and tag.get_text(strip=True):
            return tag.get_text(" ", strip=True)
    return None


def _mark_layout(soup: BeautifulSoup) -> None:
    """Put line breaks around blocks and separators between table cells."""
    for br in soup.find_all("br"):
        br.replace_with(NavigableString("\n"))
    for tag in soup.find_all(_BLOCKS):
        tag.insert_before(NavigableString("\n"))
        tag.insert_after(NavigableString("\n"))
    for cell in soup.find_all(_CELLS):
        cell.insert_after(NavigableString("\t"))


def _tidy(text: str) -> str:
    lines = (_SPACES.sub(" ", line).strip() for line in text.splitlines())
    return "\n".join(lines)
