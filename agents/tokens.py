"""Deterministic token-count *estimate* for BPE-style LLM tokenizers.

No tokenizer vocabulary may be downloaded at run time, so this module approximates
what an OpenAI-style byte-pair tokenizer (cl100k-like) would produce:

1. Pre-tokenize with the same kind of regular expression GPT tokenizers use
   (contractions, words with one leading space or symbol, numbers in groups of up to
   three digits, punctuation runs, whitespace runs).
2. Cost each piece: short Latin words are one token, longer ones one more token per
   four further letters; CJK characters one token each; other scripts one token per
   two letters; punctuation about one token per three UTF-8 bytes.

For English prose this gives roughly 1.1-1.5 tokens per word, close to real
tokenizers; treat the result as an estimate, never as an exact count.
"""

from __future__ import annotations

import math
from functools import lru_cache

import regex

_PRETOKENIZE = (
    r"'(?i:[sdmt]|ll|ve|re)"
    r"|[^\r\n\p{L}\p{N}]?+\p{L}+"
    r"|\p{N}{1,3}"
    r"| ?[^\s\p{L}\p{N}]++[\r\n]*"
    r"|\s*[\r\n]"
    r"|\s+(?!\S)"
    r"|\s+"
)
_CJK = r"[\p{Han}\p{Hiragana}\p{Katakana}\p{Hangul}]"
_LATIN_MAX = 0x24F  # end of Latin Extended-B: Latin letters with diacritics
_SHORT_WORD = 6  # Latin words up to this length are usually a single token
_LETTERS_PER_EXTRA_TOKEN = 4


@lru_cache(maxsize=1)
def _pretokenizer() -> regex.Pattern[str]:
    return regex.compile(_PRETOKENIZE)


@lru_cache(maxsize=1)
def _cjk() -> regex.Pattern[str]:
    return regex.compile(_CJK)


def count_tokens(text: str) -> int:
    """Return an estimate of how many BPE tokens ``text`` takes (0 for empty text)."""
    return sum(_piece_cost(match.group()) for match in _pretokenizer().finditer(text))


def _piece_cost(piece: str) -> int:
    if piece.isspace():
        return math.ceil(len(piece) / 8)
    core = piece.lstrip()
    if core[-1].isalpha() and (len(core) == 1 or core[1:].isalpha()):
        word = core if core[0].isalpha() else core[1:]
        return _word_cost(word)
    if core.isdigit():
        return 1
    return max(1, math.ceil(len(core.encode("utf-8")) / 3))


def _word_cost(word: str) -> int:
    cjk = len(_cjk().findall(word))
    latin = sum(1 for char in word if ord(char) <= _LATIN_MAX)
    other = len(word) - cjk - latin
    return cjk + _latin_cost(latin) + math.ceil(other / 2)


def _latin_cost(letters: int) -> int:
    if letters == 0:
        return 0
    extra = max(0, letters - _SHORT_WORD)
    return 1 + math.ceil(extra / _LETTERS_PER_EXTRA_TOKEN)
