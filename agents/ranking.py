"""Rank sentences by centrality with sumy's TextRank, using segtok instead of NLTK data."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sumy.models.dom import ObjectDocumentModel, Paragraph, Sentence
from sumy.nlp.stemmers import Stemmer, null_stemmer
from sumy.summarizers.text_rank import TextRankSummarizer
from sumy.utils import get_stop_words

from agents.text import LANGUAGE_NAMES, SegtokTokenizer

RANKED_SENTENCE_CHARS = 500  # longer "sentences" (lists, OCR) are ranked on their start only


def rank_sentences(sentences: Sequence[str], language: str) -> list[int]:
    """Return the indices of ``sentences``, most central first (ties: document order).

    The sentences should be distinct; work is quadratic in their number, so callers
    bound it.
    """
    if not sentences:
        return []
    name = LANGUAGE_NAMES.get(language, "english")
    tokenizer = SegtokTokenizer(name)
    nodes = [Sentence(text[:RANKED_SENTENCE_CHARS], tokenizer) for text in sentences]
    summarizer = TextRankSummarizer(stemmer_for(name))
    summarizer.stop_words = _stop_words(name)
    ratings = summarizer.rate_sentences(ObjectDocumentModel([Paragraph(nodes)]))
    scores = [float(ratings[node]) for node in nodes]
    return sorted(range(len(nodes)), key=lambda index: (-scores[index], index))


def stemmer_for(language_name: str) -> Callable[[str], str]:
    """sumy's Snowball stemmer (pure code, no NLTK data); lower-casing only if unavailable."""
    try:
        return Stemmer(language_name)
    except LookupError:
        return null_stemmer


def _stop_words(language_name: str) -> frozenset[str]:
    try:
        return frozenset(get_stop_words(language_name))
    except LookupError:
        return frozenset()
