"""Reading IMAP server responses (pure): FETCH data, SEARCH, SELECT, LIST, mailbox names.

aioimaplib hands a command's response over as a list of pieces: text lines (`bytes`) and the
literals announced by a line ending in `{n}` (`bytearray`, exactly n bytes). FETCH data is parsed
here as the grammar says — a parenthesised list of item/value pairs in any order — never by the
position of an item: servers put UID or FLAGS after the message literal (case 016), send a subject
as a literal when it holds a double quote, and mix unsolicited FETCH updates into the answer.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from email.header import decode_header, make_header
from email.parser import BytesHeaderParser
from email.policy import compat32
from email.utils import getaddresses
from typing import Any

Piece = bytes | bytearray

_LITERAL_AT_END = re.compile(rb"\{(\d+)\+?\}$")
_UIDVALIDITY = re.compile(rb"\[UIDVALIDITY (\d+)\]", re.I)
_UIDNEXT = re.compile(rb"\[UIDNEXT (\d+)\]", re.I)
_EXISTS = re.compile(rb"^(\d+) EXISTS$", re.I)
_ATOM_END = b' ()"'


class ResponseParseError(ValueError):
    """Server data that does not follow the IMAP grammar."""


class _Open:
    pass


class _Close:
    pass


OPEN, CLOSE = _Open(), _Close()


@dataclass(frozen=True)
class _Atom:
    text: str


Token = _Open | _Close | _Atom | bytes | None  # bytes: a quoted string or a literal; None: NIL


def _quoted(line: bytes, pos: int) -> tuple[bytes, int]:
    """The quoted string starting at line[pos] (a double quote) and the position after it."""
    out = bytearray()
    pos += 1
    while pos < len(line):
        char = line[pos : pos + 1]
        if char == b"\\" and pos + 1 < len(line):
            out += line[pos + 1 : pos + 2]
            pos += 2
        elif char == b'"':
            return bytes(out), pos + 1
        else:
            out += char
            pos += 1
    raise ResponseParseError("unterminated quoted string")


def _atom(line: bytes, pos: int) -> tuple[str, int]:
    """An atom; a `[...]` section inside it (BODY[HEADER.FIELDS (FROM)]) is kept whole."""
    start, depth = pos, 0
    while pos < len(line):
        char = line[pos : pos + 1]
        if char == b"[":
            depth += 1
        elif char == b"]":
            depth -= 1
        elif depth <= 0 and char in _ATOM_END:
            break
        pos += 1
    return line[start:pos].decode("utf-8", "replace"), pos


def _line_tokens(line: bytes) -> tuple[list[Token], int | None]:
    """Tokens of one text line, and the size of the literal it announces at its end, if any."""
    tokens: list[Token] = []
    pos = 0
    while pos < len(line):
        char = line[pos : pos + 1]
        if char == b" ":
            pos += 1
        elif char in (b"(", b")"):
            tokens.append(OPEN if char == b"(" else CLOSE)
            pos += 1
        elif char == b'"':
            value, pos = _quoted(line, pos)
            tokens.append(value)
        elif char == b"{" and (literal := _LITERAL_AT_END.match(line, pos)):
            return tokens, int(literal.group(1))
        else:
            text, pos = _atom(line, pos)
            tokens.append(None if text.upper() == "NIL" else _Atom(text))
    return tokens, None


def tokenize(pieces: Sequence[Piece]) -> list[Token]:
    """All tokens of a response: text lines tokenized, each literal one bytes token."""
    tokens: list[Token] = []
    index = 0
    while index < len(pieces):
        piece = pieces[index]
        index += 1
        if isinstance(piece, bytearray):
            raise ResponseParseError("literal data without a {n} announcement")
        line_tokens, literal_size = _line_tokens(bytes(piece))
        tokens.extend(line_tokens)
        if literal_size is None:
            continue
        if index >= len(pieces) or not isinstance(pieces[index], bytearray):
            raise ResponseParseError("announced literal is missing")
        literal = bytes(pieces[index])
        if len(literal) != literal_size:
            raise ResponseParseError("literal length differs from its announcement")
        tokens.append(literal)
        index += 1
    return tokens


def _value(tokens: Sequence[Token], pos: int) -> tuple[Any, int]:
    """One value (a parenthesised list becomes a Python list) and the position after it."""
    if pos >= len(tokens):
        raise ResponseParseError("response ends early")
    token = tokens[pos]
    if token is CLOSE:
        raise ResponseParseError("unexpected ')'")
    if token is not OPEN:
        return (token.text if isinstance(token, _Atom) else token), pos + 1
    items: list[Any] = []
    pos += 1
    while pos < len(tokens) and tokens[pos] is not CLOSE:
        item, pos = _value(tokens, pos)
        items.append(item)
    if pos >= len(tokens):
        raise ResponseParseError("unbalanced parentheses")
    return items, pos + 1


@dataclass
class FetchedMessage:
    """One message's FETCH data: item name (upper case) → value, whatever their order."""

    seq: int
    items: dict[str, Any] = field(default_factory=dict)

    @property
    def uid(self) -> int | None:
        value = self.items.get("UID")
        return int(value) if isinstance(value, str) and value.isdigit() else None

    @property
    def size(self) -> int | None:
        value = self.items.get("RFC822.SIZE")
        return int(value) if isinstance(value, str) and value.isdigit() else None

    @property
    def flags(self) -> tuple[str, ...]:
        value = self.items.get("FLAGS")
        return tuple(str(flag) for flag in value) if isinstance(value, list) else ()

    def body(self) -> bytes | None:
        """The whole message (BODY[] or RFC822), or None when the server sent none (or NIL)."""
        for name in ("BODY[]", "RFC822", "BODY[]<0>"):
            value = self.items.get(name)
            if isinstance(value, bytes):
                return value
        return None

    def header_block(self) -> bytes | None:
        """The header fields fetched with BODY.PEEK[HEADER...], whatever the section's spelling."""
        for name, value in self.items.items():
            if name.startswith(("BODY[HEADER", "RFC822.HEADER")) and isinstance(value, bytes):
                return value
        return None


def _message(tokens: Sequence[Token], pos: int) -> tuple[FetchedMessage, int]:
    """`<seq> FETCH (<item> <value> ...)` at pos, and the position after it."""
    seq, name = tokens[pos], tokens[pos + 1] if pos + 1 < len(tokens) else None
    if not (isinstance(seq, _Atom) and seq.text.isdigit()):
        raise ResponseParseError("FETCH data does not start with a sequence number")
    if not (isinstance(name, _Atom) and name.text.upper() == "FETCH"):
        raise ResponseParseError("untagged data other than FETCH in a FETCH response")
    values, pos = _value(tokens, pos + 2)
    if not isinstance(values, list) or len(values) % 2:
        raise ResponseParseError("FETCH items and values do not pair up")
    message = FetchedMessage(seq=int(seq.text))
    for key, value in zip(values[::2], values[1::2], strict=True):
        if not isinstance(key, str):
            raise ResponseParseError("FETCH item name is not an atom")
        message.items[key.upper()] = value
    return message, pos


def parse_fetch(pieces: Sequence[Piece]) -> list[FetchedMessage]:
    """Every message in the untagged FETCH data of a response (without its tagged status line)."""
    tokens = tokenize(pieces)
    messages: list[FetchedMessage] = []
    pos = 0
    while pos < len(tokens):
        message, pos = _message(tokens, pos)
        messages.append(message)
    return messages


def by_uid(messages: Sequence[FetchedMessage]) -> dict[int, FetchedMessage]:
    """Messages keyed by their UID. Data without a UID (unsolicited updates) is left out; two
    responses for one UID (e.g. a flag update besides the answer) are merged, never replaced."""
    out: dict[int, FetchedMessage] = {}
    for message in messages:
        uid = message.uid
        if uid is None:
            continue
        if uid in out:
            out[uid].items.update(message.items)
        else:
            out[uid] = FetchedMessage(seq=message.seq, items=dict(message.items))
    return out


def parse_search(pieces: Sequence[Piece]) -> list[int]:
    """The numbers of the untagged SEARCH data (aioimaplib has already removed `* SEARCH`)."""
    numbers: list[int] = []
    for piece in pieces:
        numbers.extend(int(word) for word in bytes(piece).split() if word.isdigit())
    return numbers


@dataclass(frozen=True)
class SelectInfo:
    uidvalidity: int
    uidnext: int | None
    exists: int | None


def parse_select(pieces: Sequence[Piece]) -> SelectInfo:
    """UIDVALIDITY (required), UIDNEXT and EXISTS from a SELECT response."""
    uidvalidity = uidnext = exists = None
    for piece in pieces:
        line = bytes(piece).strip()
        if match := _UIDVALIDITY.search(line):
            uidvalidity = int(match.group(1))
        if match := _UIDNEXT.search(line):
            uidnext = int(match.group(1))
        if match := _EXISTS.match(line):
            exists = int(match.group(1))
    if uidvalidity is None:
        raise ResponseParseError("SELECT response without UIDVALIDITY")
    return SelectInfo(uidvalidity=uidvalidity, uidnext=uidnext, exists=exists)


def parse_list_delimiter(pieces: Sequence[Piece]) -> str | None:
    """The hierarchy delimiter from the answer to `LIST "" ""` (None: a flat namespace)."""
    for piece in pieces:
        tokens = tokenize([piece])
        try:
            flags, pos = _value(tokens, 0)
            delimiter, _ = _value(tokens, pos)
        except (ResponseParseError, IndexError):
            continue
        if isinstance(flags, list):
            return delimiter.decode() if isinstance(delimiter, bytes) else None
    return None


def pushes_new_mail(lines: Sequence[Piece]) -> bool:
    """Whether untagged data received during IDLE announces new messages (EXISTS or RECENT)."""
    return any(re.match(rb"^\d+ (EXISTS|RECENT)$", bytes(line).strip(), re.I) for line in lines)


# --- mailbox names and message sets ---------------------------------------------------------


def encode_mailbox(name: str) -> str:
    """A mailbox name in IMAP's modified UTF-7 (RFC 3501 5.1.3): "Entwürfe" → "Entw&APw-rfe"."""
    out: list[str] = []
    pending: list[str] = []

    def flush() -> None:
        if pending:
            data = base64.b64encode("".join(pending).encode("utf-16-be")).decode()
            out.append("&" + data.rstrip("=").replace("/", ",") + "-")
            pending.clear()

    for char in name:
        if 0x20 <= ord(char) <= 0x7E:
            flush()
            out.append("&-" if char == "&" else char)
        else:
            pending.append(char)
    flush()
    return "".join(out)


def quote(text: str) -> str:
    """An IMAP quoted string."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def uid_set(uids: Sequence[int]) -> str:
    """A compact UID set: [1, 2, 3, 7] → "1:3,7"."""
    ordered = sorted(set(uids))
    runs: list[str] = []
    for run in _runs(ordered):
        runs.append(str(run[0]) if run[0] == run[1] else f"{run[0]}:{run[1]}")
    return ",".join(runs)


def _runs(ordered: Sequence[int]) -> Iterator[tuple[int, int]]:
    start = previous = None
    for uid in ordered:
        if previous is not None and uid == previous + 1:
            previous = uid
            continue
        if start is not None and previous is not None:
            yield start, previous
        start = previous = uid
    if start is not None and previous is not None:
        yield start, previous


# --- the headers of a message ---------------------------------------------------------------


@dataclass(frozen=True)
class MessageHeaders:
    message_id: str | None
    sender: str | None  # the first From address
    subject: str | None


def read_headers(block: bytes | None) -> MessageHeaders:
    """Message-ID (normalised as intake does), the From address and the decoded Subject."""
    if not block:
        return MessageHeaders(None, None, None)
    headers = BytesHeaderParser(policy=compat32).parsebytes(block)
    message_id = str(headers.get("Message-ID") or "").strip().strip("<>").strip()[:900] or None
    addresses = [address for _, address in getaddresses([str(headers.get("From") or "")])]
    sender = next((address for address in addresses if "@" in address), None)
    return MessageHeaders(message_id, sender, _decoded(headers.get("Subject")))


def _decoded(value: Any) -> str | None:
    if value is None:
        return None
    try:
        return str(make_header(decode_header(str(value))))
    except (UnicodeError, LookupError, ValueError):  # a broken encoded-word: keep it raw
        return str(value)
