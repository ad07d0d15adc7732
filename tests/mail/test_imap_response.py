"""Reading IMAP responses (pure): FETCH items in any order, literals, SEARCH, SELECT, names."""

from __future__ import annotations

import pytest

from mail.imap_response import (
    ResponseParseError,
    by_uid,
    encode_mailbox,
    parse_fetch,
    parse_list_delimiter,
    parse_search,
    parse_select,
    pushes_new_mail,
    read_headers,
    uid_set,
)

MAIL = b"From: Bob <bob@example.com>\r\nMessage-ID: <m1@example.com>\r\n\r\nHello (world\r\n"


def test_uid_before_and_after_the_literal_are_both_found() -> None:
    """Items are read by name: UID before or after the body literal, FLAGS anywhere."""
    pieces: list[bytes | bytearray] = [
        b"1 FETCH (UID 7 BODY[] {%d}" % len(MAIL),
        bytearray(MAIL),
        b" FLAGS (\\Seen))",
        b"2 FETCH (FLAGS () BODY[] {%d}" % len(MAIL),
        bytearray(MAIL),
        b" UID 9)",
        b"1 FETCH (FLAGS (\\Seen \\Flagged) UID 7)",  # an unsolicited update of the same message
    ]
    messages = by_uid(parse_fetch(pieces))
    assert sorted(messages) == [7, 9]
    assert messages[7].body() == MAIL and messages[7].flags == ("\\Seen", "\\Flagged")
    assert messages[9].body() == MAIL and messages[9].flags == ()


def test_header_section_with_spaces_and_quoted_values() -> None:
    """A section name with spaces and parentheses is one item; NIL and quoted strings read."""
    pieces: list[bytes | bytearray] = [
        b'3 FETCH (UID 12 RFC822.SIZE 4410 INTERNALDATE "05-Mar-2024 09:15:00 +0100" '
        b"BODY[HEADER.FIELDS (MESSAGE-ID FROM)] {%d}" % len(MAIL.split(b"\r\n\r\n")[0]),
        bytearray(MAIL.split(b"\r\n\r\n")[0]),
        b" X-EXTRA NIL)",
    ]
    (message,) = parse_fetch(pieces)
    assert (message.seq, message.uid, message.size) == (3, 12, 4410)
    assert message.items["INTERNALDATE"] == b"05-Mar-2024 09:15:00 +0100"
    assert message.items["X-EXTRA"] is None
    headers = read_headers(message.header_block())
    assert (headers.message_id, headers.sender) == ("m1@example.com", "bob@example.com")


def test_nil_body_and_empty_literal() -> None:
    """BODY[] NIL means no body; an empty literal is an empty body."""
    pieces: list[bytes | bytearray] = [
        b"1 FETCH (UID 1 BODY[] NIL)",
        b"2 FETCH (UID 2 BODY[] {0}",
        bytearray(),
        b")",
    ]
    messages = by_uid(parse_fetch(pieces))
    assert messages[1].body() is None and messages[2].body() == b""


@pytest.mark.parametrize(
    "pieces",
    [
        [b"1 FETCH (UID 1 BODY[] {5}"],  # the literal never came
        [b"1 FETCH (UID 1 BODY[] {5}", bytearray(b"abc"), b")"],  # a short literal
        [b"1 FETCH (UID 1 FLAGS (\\Seen)"],  # unbalanced
        [b"1 FETCH (UID 1 FLAGS)"],  # an item without a value
        [b"3 EXPUNGE"],
    ],
)
def test_broken_fetch_data_raises(pieces: list[bytes | bytearray]) -> None:
    """Data that breaks the grammar is an error, never a silently wrong match."""
    with pytest.raises(ResponseParseError):
        parse_fetch(pieces)


def test_search_select_list_and_idle_pushes() -> None:
    """SEARCH numbers, SELECT's UIDVALIDITY/UIDNEXT/EXISTS, LIST's delimiter, IDLE pushes."""
    assert parse_search([b"4 5 17", b""]) == [4, 5, 17]
    select = parse_select(
        [b"3 EXISTS", b"OK [UIDVALIDITY 1700000000] UIDs valid", b"OK [UIDNEXT 104] next", b"x"]
    )
    assert (select.uidvalidity, select.uidnext, select.exists) == (1700000000, 104, 3)
    with pytest.raises(ResponseParseError):
        parse_select([b"3 EXISTS"])
    assert parse_list_delimiter([b'(\\Noselect) "." ""']) == "."
    assert parse_list_delimiter([b'(\\Noselect) NIL ""']) is None
    assert pushes_new_mail([b"4 EXISTS"]) and pushes_new_mail([b"1 RECENT"])
    assert not pushes_new_mail([b"OK Still here", b"3 EXPUNGE"])


def test_mailbox_names_and_uid_sets() -> None:
    """Modified UTF-7 for non-ASCII names (RFC 3501); compact UID sets."""
    assert encode_mailbox("Entwürfe") == "Entw&APw-rfe"
    assert encode_mailbox("R&D/日本") == "R&-D/&ZeVnLA-"
    assert uid_set([7, 1, 2, 3, 9, 10]) == "1:3,7,9:10"


def test_read_headers_of_odd_mail() -> None:
    """No From, an encoded subject, and a Message-ID normalised as intake does."""
    headers = read_headers(b"Subject: =?utf-8?q?R=C3=A9sum=C3=A9?=\r\nMessage-ID:  <a@b> \r\n\r\n")
    assert headers == type(headers)("a@b", None, "Résumé")
    assert read_headers(b"just words, no headers\r\n").sender is None
