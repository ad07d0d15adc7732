"""Keyword extraction with YAKE (statistical, offline), plus near-duplicate removal."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable

import yake

from agents.ranking import stemmer_for
from agents.text import LANGUAGE_NAMES, split_sentences, squash, words

MAX_KEYWORDS = 10
MIN_KEYWORDS = 5
_MAX_NGRAM = 3
_CANDIDATES = 40
_NEAR_DUPLICATE = 0.5  # stem-set Jaccard from which two keyphrases count as one
_EDGE_CHARS = " \t\"'`.,;:!?()[]{}<>-–—*#/\\|"
_MAX_KEYWORD_CHARS = 60
# Letter salutations and closings: frequent and early in letters, never what a letter is about.
_BOILERPLATE = (
    "sehr geehrte damen und herren",
    "sehr geehrter herr",
    "sehr geehrte frau",
    "mit freundlichen grüßen",
    "mit freundlichem gruß",
    "dear sir or madam",
    "kind regards",
    "best regards",
    "yours sincerely",
    "yours faithfully",
)

Stem = Callable[[str], str]
_Keyed = tuple[str, frozenset[str]]


def extract_keywords(text: str, language: str, *, limit: int = MAX_KEYWORDS) -> list[str]:
    """Return up to ``limit`` lower-case keywords/keyphrases, best first, deduplicated."""
    # One sentence per paragraph, so that no keyphrase spans a heading and the next line.
    text = "\n\n".join(split_sentences(text))
    extractor = yake.KeywordExtractor(lan=language, n=_MAX_NGRAM, dedup_lim=0.7, top=_CANDIDATES)
    candidates = [phrase for phrase, _score in extractor.extract_keywords(text)]
    candidates += _frequent_words(text, extractor.stopword_set)
    stem = stemmer_for(LANGUAGE_NAMES.get(language, "english"))
    return dedupe_keywords(candidates, stem, limit=limit)


def dedupe_keywords(
    candidates: Iterable[str], stem: Stem, *, limit: int = MAX_KEYWORDS
) -> list[str]:
    """Lower-case and clean keywords, keeping the first of each group of near-duplicates.

    Near-duplicates share most stems ("invoice" / "invoices", "slides" / "bring the
    slides", "northwind analytics closed" / "northwind analytics quarterly"). If that
    leaves fewer than ``MIN_KEYWORDS``, overlapping (not identical) keywords top it up.
    """
    usable = [item for item in (_keyed(c, stem) for c in candidates) if item is not None]
    chosen: dict[frozenset[str], str] = {}
    for keyword, key in usable:
        if len(chosen) < limit and not any(_near(key, other) for other in chosen):
            chosen[key] = keyword
    for keyword, key in usable:
        if len(chosen) < min(limit, MIN_KEYWORDS) and key not in chosen:
            chosen[key] = keyword
    return list(chosen.values())


def _keyed(candidate: str, stem: Stem) -> _Keyed | None:
    """The cleaned keyword and its stem set, or ``None`` for a keyword not worth keeping."""
    keyword = _balanced(squash(candidate.lower()).strip(_EDGE_CHARS))
    tokens = keyword.split()
    if not tokens or len(keyword) > _MAX_KEYWORD_CHARS or _is_boilerplate(keyword):
        return None
    if not (_has_letter(tokens[0]) and _has_letter(tokens[-1])):
        return None  # e.g. "2024-0815 sehr geehrte": a number glued to a phrase
    key = frozenset(stem(word) for word in words(keyword))
    return (keyword, key) if key else None


def _balanced(keyword: str) -> str:
    """Drop brackets left open or closed by the phrase cut:
    "budget 2026 (eur" → "budget 2026 eur"."""
    for opening, closing in ("()", "[]", "{}"):
        if keyword.count(opening) != keyword.count(closing):
            keyword = keyword.replace(opening, " ").replace(closing, " ")
    return squash(keyword).strip(_EDGE_CHARS)


def _has_letter(token: str) -> bool:
    return any(char.isalpha() for char in token)


def _is_boilerplate(keyword: str) -> bool:
    return any(keyword in phrase or phrase in keyword for phrase in _BOILERPLATE)


def _near(key: frozenset[str], other: frozenset[str]) -> bool:
    if key <= other or key >= other:
        return True
    return len(key & other) / len(key | other) >= _NEAR_DUPLICATE


def _frequent_words(text: str, stopwords: set[str]) -> list[str]:
    """Most frequent content words: a fallback for texts too short for YAKE's statistics."""
    counts = Counter(word for word in words(text) if len(word) > 2 and word not in stopwords)
    return [word for word, _count in counts.most_common(MAX_KEYWORDS)]
