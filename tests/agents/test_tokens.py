"""The offline BPE token-count estimate."""

from __future__ import annotations

from agents.tokens import count_tokens


def test_empty_text_has_no_tokens() -> None:
    """Empty text counts zero tokens."""
    assert count_tokens("") == 0


def test_common_short_words_are_one_token_each() -> None:
    """Short words, with their leading space, are one token each; punctuation is one more."""
    assert count_tokens("The cat sat on the mat.") == 7


def test_long_words_cost_more_than_short_ones() -> None:
    """A long word is split into several pieces, one more per four letters past six."""
    assert count_tokens("cat") == 1
    assert count_tokens("internationalisation") == 5  # 20 letters: 1 + ceil(14 / 4)


def test_numbers_are_split_in_groups_of_three_digits() -> None:
    """Digits are grouped by three, as cl100k-style tokenizers do."""
    assert count_tokens("1234567") == 3


def test_cjk_characters_count_one_token_each() -> None:
    """Each CJK character is a token of its own."""
    assert count_tokens("日本語") == 3


def test_english_prose_costs_one_to_two_tokens_per_word(quarterly_report: str) -> None:
    """English prose lands in the usual range of 1-2 tokens per word."""
    words = len(quarterly_report.split())

    assert words <= count_tokens(quarterly_report) <= 2 * words


def test_count_is_deterministic_and_additive_over_paragraphs(quarterly_report: str) -> None:
    """The same text always gives the same count, close to the sum of its parts."""
    parts = quarterly_report.split("\n\n")

    assert count_tokens(quarterly_report) == count_tokens(quarterly_report)
    assert abs(count_tokens(quarterly_report) - sum(map(count_tokens, parts))) <= len(parts)
