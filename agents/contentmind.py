"""The ContentMind agent: extracted text in, title/summary/key points/keywords out.

Offline by default (sumy TextRank over segtok sentences, YAKE keywords, table
descriptions for CSV-like text); optionally an OpenAI-compatible LLM, with the offline
analysis as the fallback whenever the LLM fails. Work is bounded for huge inputs:
only the first ``max_input_chars`` are analysed, and the sentence ranking (quadratic)
and keyword extraction see smaller prefixes of those.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass

import structlog

from agents.keywords import MAX_KEYWORDS, MIN_KEYWORDS, extract_keywords
from agents.llm import LLMConfig, LLMError, request_analysis
from agents.ranking import rank_sentences
from agents.tables import (
    Table,
    parse_table,
    sheet_point,
    sheets,
    table_keywords,
    table_points,
    table_summary,
)
from agents.text import (
    TITLE_CHARS,
    clean,
    derive_title,
    guess_language,
    is_heading,
    split_sentences,
    squash,
    trim,
    words,
)
from agents.tokens import count_tokens

SUMMARY_PREFIX_CHARS = 20_000
KEYWORD_PREFIX_CHARS = 50_000
MAX_SENTENCES = 150
SUMMARY_SENTENCE_CHARS = 300
POINT_CHARS = 200
MIN_POINTS = 3
MAX_POINTS = 7
SHORT_TEXT_CHARS = 300
_SIMILAR = 0.6  # word-set Jaccard above which two sentences say the same thing
_UNTITLED = "Untitled"

logger = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Analysis:
    title: str
    summary: str
    key_points: list[str]
    keywords: list[str]
    token_count: int  # estimated tokens of the whole input text (see agents.tokens)
    tokens_used: int  # offline: token_count; llm: the API's usage.total_tokens
    backend: str  # "offline" | "llm"


@dataclass(frozen=True)
class _Content:
    summary: str
    key_points: list[str]
    keywords: list[str]


class ContentMindAgent:
    """Analyses text; pure and synchronous apart from the optional LLM call."""

    def __init__(self, *, llm: LLMConfig | None = None, max_input_chars: int = 200_000) -> None:
        if max_input_chars < 1:
            raise ValueError("max_input_chars must be positive")
        self._llm = llm
        self._max_input_chars = max_input_chars

    def analyze(
        self, text: str, *, title: str | None = None, filename: str | None = None
    ) -> Analysis:
        """Analyse ``text``; never raises for an LLM failure (falls back to offline)."""
        title = squash(title) if title else None
        token_count = count_tokens(text)
        body = clean(text[: self._max_input_chars]).strip()
        if not body:
            return _empty(title, filename, token_count)
        if self._llm is not None:
            try:
                return _analyze_llm(self._llm, body, title, filename, token_count)
            except LLMError as exc:
                logger.warning("llm_fallback", reason=str(exc), model=self._llm.model)
        complete = len(text) <= self._max_input_chars
        return _analyze_offline(body, title, filename, token_count, complete=complete)


def _empty(title: str | None, filename: str | None, token_count: int) -> Analysis:
    name = title or _name(filename) or _UNTITLED
    return Analysis(name, "", [], [], token_count, token_count, "offline")


def _analyze_llm(
    config: LLMConfig, body: str, title: str | None, filename: str | None, token_count: int
) -> Analysis:
    reply = request_analysis(config, body, title=title, filename=filename)
    result = reply.analysis
    name = title or result.title or derive_title(body) or _name(filename) or _UNTITLED
    return Analysis(
        name,
        result.summary,
        result.key_points,
        result.keywords,
        token_count,
        reply.total_tokens,
        "llm",
    )


def _analyze_offline(
    body: str, title: str | None, filename: str | None, token_count: int, *, complete: bool
) -> Analysis:
    table = parse_table(body, filename=filename, complete=complete)
    if table is not None:
        content = _describe_table(table, body)
        title = title or _name(filename) or trim("Table: " + ", ".join(table.columns), TITLE_CHARS)
    else:
        title = title or derive_title(body)
        content = _describe_prose(body, title)
    name = title or _name(filename) or _UNTITLED
    return Analysis(
        name,
        content.summary,
        content.key_points,
        content.keywords,
        token_count,
        token_count,
        "offline",
    )


def _name(filename: str | None) -> str | None:
    """The file's name without directories or extension (a label, never used as a path)."""
    if not filename:
        return None
    base = filename.replace("\\", "/").rsplit("/", 1)[-1]
    stem = base.rsplit(".", 1)[0] if "." in base.strip(".") else base
    return trim(stem, TITLE_CHARS) or None


def _describe_table(table: Table, body: str) -> _Content:
    keywords = table_keywords(table, limit=MAX_KEYWORDS)
    if len(keywords) < MIN_KEYWORDS:
        extra = extract_keywords(body[:KEYWORD_PREFIX_CHARS], guess_language(body))
        keywords = list(dict.fromkeys([*keywords, *extra]))[:MAX_KEYWORDS]
    summary, points = table_summary(table), table_points(table)
    workbook = sheets(body)
    if len(workbook) > 1:  # the first sheet is the table above; the others get a point each
        names = ", ".join(sheet.name for sheet in workbook)
        first = summary[0].lower() + summary[1:]
        summary = f"A workbook of {len(workbook)} sheets ({names}). {workbook[0].name}: {first}"
        further = [sheet_point(sheet) for sheet in workbook[1:MAX_POINTS]]
        points = points[: max(MIN_POINTS, MAX_POINTS - len(further))] + further
        points = points[:MAX_POINTS]
    return _Content(summary, points, keywords)


def _describe_prose(body: str, title: str | None) -> _Content:
    language = guess_language(body)
    sentences = _distinct(split_sentences(body[:SUMMARY_PREFIX_CHARS]), MAX_SENTENCES)
    sentences = sentences or [trim(body[:SUMMARY_PREFIX_CHARS], SUMMARY_SENTENCE_CHARS)]
    # the title is shown above the summary: a sentence that only repeats it is left out
    as_title = {i for i, sentence in enumerate(sentences) if _repeats_title(sentence, title)}
    summary_ids, point_ids = _select(
        sentences, rank_sentences(sentences, language), titles=as_title
    )
    if "\n" not in body and len(body) <= SHORT_TEXT_CHARS:
        summary = squash(body)
    else:
        summary = " ".join(trim(sentences[i], SUMMARY_SENTENCE_CHARS) for i in summary_ids)
    points = [trim(sentences[i], POINT_CHARS) for i in point_ids]
    keywords = extract_keywords(body[:KEYWORD_PREFIX_CHARS], language)
    return _Content(summary, points, keywords)


def _distinct(sentences: Iterable[str], limit: int) -> list[str]:
    """The first ``limit`` sentences, exact repeats (ignoring case) dropped."""
    unique: dict[str, str] = {}
    for sentence in sentences:
        unique.setdefault(sentence.casefold(), sentence)
        if len(unique) == limit:
            break
    return list(unique.values())


def _repeats_title(sentence: str, title: str | None) -> bool:
    """The sentence is the title, but for case, spacing and end punctuation."""

    def plain(text: str) -> str:
        return squash(text).rstrip(".:;!? ").casefold()

    return title is not None and plain(sentence) == plain(title)


def _select(
    sentences: Sequence[str], order: Sequence[int], *, titles: Collection[int] = ()
) -> tuple[list[int], list[int]]:
    """Pick summary and key-point sentences (indices, in document order) from a ranking;
    headings and `titles` (sentences that repeat the title) only when nothing else is left."""
    bags = [frozenset(words(sentence)) for sentence in sentences]
    prose = [i for i in order if not is_heading(sentences[i])]
    statements = [i for i in prose if i not in titles] or prose or list(order)
    # as long as it would be with the title sentence in it: what the title says is shown anyway
    summary = _distinct_top(statements, bags, _summary_size(len(prose)), taken=[])
    rest = [i for i in order if i not in summary]
    wanted = min(MAX_POINTS, max(MIN_POINTS, len(statements) // 4))
    points = _distinct_top([i for i in statements if i in rest], bags, wanted, taken=summary)
    headings = [i for i in order if i not in statements]  # only when nothing else is left
    points = _fill(points, [*(i for i in rest if i in statements), *summary, *headings], MIN_POINTS)
    return sorted(summary), sorted(points)


def _summary_size(statements: int) -> int:
    return 1 if statements <= 3 else 2 if statements <= 8 else 3


def _distinct_top(
    candidates: Sequence[int], bags: Sequence[frozenset[str]], count: int, *, taken: Sequence[int]
) -> list[int]:
    """The first ``count`` candidates that do not repeat a taken or chosen sentence."""
    chosen: list[int] = []
    for index in candidates:
        if len(chosen) == count:
            break
        if all(_jaccard(bags[index], bags[other]) < _SIMILAR for other in [*taken, *chosen]):
            chosen.append(index)
    return chosen


def _jaccard(left: frozenset[str], right: frozenset[str]) -> float:
    union = left | right
    return len(left & right) / len(union) if union else 1.0


def _fill(points: list[int], pool: Iterable[int], target: int) -> list[int]:
    """Top ``points`` up to ``target`` from ``pool`` (for texts with few distinct sentences)."""
    filled = list(points)
    for index in pool:
        if len(filled) >= target:
            break
        if index not in filled:
            filled.append(index)
    return filled
