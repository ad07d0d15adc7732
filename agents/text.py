"""Plain-text helpers shared by the analysis backends: cleaning, sentences, titles, language.

Everything here is offline and needs no downloaded data: sentence splitting and word
tokenization use ``segtok``'s rule-based segmenter, not NLTK's punkt model.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from segtok.segmenter import split_multi, split_single
from segtok.tokenizer import word_tokenizer

TITLE_CHARS = 80
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_SPACES = re.compile(r"\s+")
_WORD = re.compile(r"^[^\W\d_](?:[^\W\d_]|['’-])*$")
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
_TITLE_NOISE = re.compile(r"^(?:[#>*=\-–•·\s]+|(?:subject|betreff|re|fwd?|aw|wg)\s*:\s*)+", re.I)
_TERMINAL = ".!?:;…\"'”)"
_WRAPPED_LINE_CHARS = 40
_TITLE_SCAN_LINES = 20

# A few very frequent function words per language, enough to tell these languages apart.
_FUNCTION_WORDS: dict[str, frozenset[str]] = {
    "en": frozenset("the and of to is in that for with was are this on we be you it".split()),
    "de": frozenset("der die das und ist nicht mit sie den ein eine für auf wir zu von".split()),
    "fr": frozenset("le les et est des une pour dans que nous avec pas sur du vous il".split()),
    "es": frozenset("el los las y es que para una con por del está como su al se".split()),
    "it": frozenset("il gli che è per una con del della non sono di nel alla anche".split()),
    "pt": frozenset("o os que é para uma com não dos das em do da ao foi".split()),
}
LANGUAGE_NAMES = {
    "en": "english",
    "de": "german",
    "fr": "french",
    "es": "spanish",
    "it": "italian",
    "pt": "portuguese",
}
_MIN_LANGUAGE_HITS = 3


def clean(text: str) -> str:
    """Normalise line endings and drop control characters (tabs and newlines stay)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROL.sub(" ", text)


def squash(text: str) -> str:
    """Collapse every whitespace run to one space and strip the ends."""
    return _SPACES.sub(" ", text).strip()


def trim(text: str, limit: int) -> str:
    """Return ``text`` on one line, cut at a word boundary to at most ``limit`` chars."""
    text = squash(text)
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:-–") + "…"


def words(text: str) -> list[str]:
    """Lower-cased word tokens of ``text`` (no numbers, no punctuation)."""
    return [token.lower() for token in word_tokenizer(text) if _WORD.match(token)]


class SegtokTokenizer:
    """A sumy-compatible tokenizer built on segtok, so that no NLTK data is needed."""

    def __init__(self, language: str) -> None:
        self.language = language

    def to_sentences(self, paragraph: str) -> tuple[str, ...]:
        return tuple(split_sentences(paragraph))

    def to_words(self, sentence: str) -> tuple[str, ...]:
        return tuple(token for token in word_tokenizer(sentence) if _WORD.match(token))


def split_sentences(text: str) -> Iterator[str]:
    """Yield the sentences of ``text``, one line each; hard-wrapped paragraphs are re-joined."""
    for paragraph in _PARAGRAPH_BREAK.split(text):
        splitter = split_multi if _is_wrapped(paragraph) else split_single
        for sentence in splitter(paragraph.strip()):
            sentence = squash(sentence)
            if any(char.isalnum() for char in sentence):
                yield sentence


def _is_wrapped(paragraph: str) -> bool:
    """Tell whether a paragraph's lines are a hard wrap of running text (as in PDFs)."""
    lines = [line.strip() for line in paragraph.strip().split("\n")]
    if len(lines) < 2:
        return False
    inner = lines[:-1]
    open_ended = [line for line in inner if line and line[-1] not in _TERMINAL]
    long_lines = [line for line in inner if len(line) >= _WRAPPED_LINE_CHARS]
    return len(open_ended) * 2 > len(inner) and len(long_lines) * 2 > len(inner)


def is_heading(sentence: str) -> bool:
    """A short line without closing punctuation, such as a heading or a label."""
    return sentence[-1] not in _TERMINAL and len(sentence.split()) <= 10


def derive_title(text: str) -> str | None:
    """Take a title from the first meaningful line (markdown and mail prefixes removed)."""
    for line in text.lstrip().split("\n", _TITLE_SCAN_LINES)[:_TITLE_SCAN_LINES]:
        line = squash(_TITLE_NOISE.sub("", line.strip()))
        if any(char.isalnum() for char in line):
            return trim(_first_sentence(line), TITLE_CHARS)
    return None


def _first_sentence(line: str) -> str:
    if len(line) <= TITLE_CHARS:
        return line
    return next(iter(split_single(line)), line)


def guess_language(text: str) -> str:
    """Guess a two-letter language code from function words; English unless clearly not."""
    sample = words(text[:5_000])
    hits = {code: sum(word in vocab for word in sample) for code, vocab in _FUNCTION_WORDS.items()}
    best = max(hits, key=lambda code: hits[code])
    return best if hits[best] >= _MIN_LANGUAGE_HITS and hits[best] > hits["en"] else "en"
