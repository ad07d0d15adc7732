"""The recovery and decoding helpers behind parse_message."""

from __future__ import annotations

import base64

from mail.bodytext import decode_text
from mail.headers import clean_filename, decode_words
from mail.recover import decode_base64, rewrite_boundaries
from mail.sniff import sniff
from mail.tnef import TnefUnreadable, unpack_tnef
from tests.factories import emails as factory
from tests.factories.files import make_pdf


def test_decode_base64_matches_the_stdlib_on_ordinary_input() -> None:
    """Normal base64 (wrapped, padded once) decodes exactly and is not flagged."""
    data = bytes(range(256)) * 3
    result = decode_base64(factory.b64_lines(data))
    assert result.data == data and result.complete and not result.chunked


def test_decode_base64_reads_every_padded_chunk() -> None:
    """Padding in the middle does not stop decoding."""
    text = "\r\n".join(base64.b64encode(chunk).decode() for chunk in (b"a", b"bc", b"def"))
    result = decode_base64(text)
    assert result.data == b"abcdef" and result.chunked and result.complete


def test_decode_base64_reports_a_dangling_character() -> None:
    """Input that cannot be whole bytes is reported incomplete, not returned as is."""
    result = decode_base64("YWJj\r\nZ")
    assert result.data == b"abc" and not result.complete


def test_decode_base64_ignores_and_reports_stray_characters() -> None:
    """Characters outside the alphabet are skipped and flagged."""
    result = decode_base64("YW*Jj")
    assert result.data == b"abc" and result.stray_characters


def test_rewrite_boundaries_only_touches_unsafe_boundaries() -> None:
    """Safe boundaries stay; an angle-bracket boundary is replaced in header and delimiters."""
    assert rewrite_boundaries(factory.case_007_base64_padded_chunks()) is None
    rewritten = rewrite_boundaries(factory.case_005_boundary_angle_brackets())
    assert rewritten is not None
    assert b"<<" not in rewritten and rewritten.count(b"--cm-recovered-") == 3


def test_decode_words_joins_a_character_split_across_words() -> None:
    """Two B-words splitting one UTF-8 character decode to that character."""
    assert decode_words(factory._split_b_words("Grüße.pdf", 3)) == "Grüße.pdf"


def test_clean_filename_rejects_empty_and_dot_names() -> None:
    """Names that are nothing but separators or dots become None (a name is synthesized)."""
    assert clean_filename("../") is None
    assert clean_filename(" . ") is None
    assert clean_filename("a\u202eFDP.exe") == "aFDP.exe"


def test_clean_filename_repairs_raw_utf8_headers() -> None:
    """A raw 8-bit UTF-8 name (surrogate-escaped by the parser) comes out as text."""
    escaped = "Bücher.pdf".encode().decode("ascii", "surrogateescape")
    assert clean_filename(escaped) == "Bücher.pdf"


def test_sniff_recognises_documents_and_mail() -> None:
    """Magic bytes decide the kind, not the declared type."""
    assert sniff(make_pdf(["x"])) == "pdf"
    assert sniff(factory.case_011_winmail()) == "tnef"
    assert sniff(factory.meeting_notes_eml()) == "eml"
    assert sniff(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + "WordDocument".encode("utf-16-le")) == "doc"
    assert sniff(factory.BLOB_BIN) is None


def test_unpack_tnef_rejects_truncated_and_foreign_streams() -> None:
    """tnefparse would return shortened data silently; unpack_tnef refuses it."""
    winmail = factory.case_011_winmail()
    for broken in (winmail[:100], winmail[:-1], b"not tnef at all"):
        try:
            unpack_tnef(broken)
        except TnefUnreadable:
            continue
        raise AssertionError("damaged TNEF accepted")
    content = unpack_tnef(winmail)
    assert [name for name, _ in content.attachments] == ["Q1 Budget.csv", "Notes.txt"]
    assert content.bad_checksums == 0


def test_malformed_charset_names_fall_back_instead_of_raising() -> None:
    """Unknown or malformed charset names decode as UTF-8 rather than crash the part."""
    assert decode_text("Grüße".encode(), "no-such\x00charset") == "Grüße"
    assert decode_words("=?x\x00y?q?abc?=") == "abc"
