"""Plain-text helpers shared by the analysis backends: cleaning, sentences, titles, language.

Everything here is offline and needs no downloaded data: sentence splitting and word
tokenization use ``segtok``'s rule-based segmenter, not NLTK's punkt model.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from segtok.segmenter import split_single
from segtok.tokenizer import word_tokenizer

TITLE_CHARS = 80
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_SPACES = re.compile(r"\s+")
_WORD = re.compile(r"^[^\W\d_](?:[^\W\d_]|['’-])*$")
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
_TITLE_NOISE = re.compile(r"^(?:[#>*=\-–•·\s]+|(?:subject|betreff|re|fwd?|aw|wg)\s*:\s*)+", re.I)
_TERMINAL = ".!?:;…\"'”)"
_WRAPPED_LINE_CHARS = 40
_WRAP_SHARE = 0.7  # a line this share of the paragraph's longest line was wrapped, not ended
_CONTINUATION_STARTS = ",;:)]}%–-"
_LIST_ITEM = re.compile(r"^(?:[-*•·▪–]\s|\d{1,3}[.)]\s|[a-z][.)]\s)")
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
    """Yield the sentences of ``text``, one line each.

    Hard-wrapped lines (as PDFs give them) are re-joined, while a heading on a line of its
    own stays apart from the sentence under it; see ``unwrap``.
    """
    for paragraph in _PARAGRAPH_BREAK.split(text):
        for block in unwrap(paragraph):
            for sentence in split_single(block):
                sentence = squash(sentence)
                if any(char.isalnum() for char in sentence):
                    yield sentence


def unwrap(paragraph: str) -> list[str]:
    """The paragraph's lines joined into blocks of running text, one line each.

    A line continues into the next unless it is a heading or label (short for this
    paragraph, no closing punctuation, and the next line starts a new thought with a capital
    or a digit) or the next line starts a list item. A line with closing punctuation continues
    too: the sentence splitter separates the sentences in the joined text.
    """
    lines = [line.strip() for line in paragraph.split("\n")]
    lines = [line for line in lines if line]
    if not lines:
        return []
    width = max(len(line) for line in lines)
    blocks: list[str] = []
    current = [lines[0]]
    for line, following in zip(lines, lines[1:], strict=False):
        if _continues(line, following, width):
            current.append(following)
        else:
            blocks.append(" ".join(current))
            current = [following]
    blocks.append(" ".join(current))
    return blocks


def _continues(line: str, following: str, width: int) -> bool:
    if _LIST_ITEM.match(following):
        return False
    first = following[0]
    if first.islower() or first in _CONTINUATION_STARTS:
        return True
    if line[-1] in _TERMINAL:
        return True
    return len(line) >= _WRAP_SHARE * width and len(line) >= _WRAPPED_LINE_CHARS


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
