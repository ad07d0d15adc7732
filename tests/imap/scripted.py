"""A small IMAP server over real TCP for the scripted cases (015, 016): one folder of messages,
enough of IMAP4rev1 for the poller, and scripted misbehaviour — IDLE answered with BYE and a
close or a hang, and recorded server bytes replayed verbatim for a given command."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections import Counter
from collections.abc import Callable

CAPABILITIES = "IMAP4rev1 IDLE UIDPLUS MOVE"


def _header_block(raw: bytes, fields: list[str]) -> bytes:
    """The requested header fields of a message, as a server returns HEADER.FIELDS."""
    head = raw.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
    wanted = {name.upper().encode() for name in fields}
    lines = [line for line in head if line.split(b":", 1)[0].strip().upper() in wanted]
    return b"\r\n".join(lines) + b"\r\n\r\n"


def _uids(spec: str, existing: list[int]) -> list[int]:
    """The existing UIDs in a UID set such as `1:3,7` or `104:*` (`n:*` matches the newest)."""
    top = max(existing, default=0)
    chosen: set[int] = set()
    for part in spec.split(","):
        low, _, high = part.partition(":")
        first = top if low == "*" else int(low)
        last = first if not high else (top if high == "*" else int(high))
        first, last = min(first, last), max(first, last)
        chosen.update(uid for uid in existing if first <= uid <= last)
    return sorted(chosen)


class ScriptedImapServer:
    def __init__(self, *, uidvalidity: int, messages: dict[int, bytes]) -> None:
        self.uidvalidity = uidvalidity
        self.messages = dict(sorted(messages.items()))
        self.flags: dict[int, set[str]] = {uid: set() for uid in self.messages}
        self.idle_script: list[str] = []  # per connection: normal | bye_close | bye_hang | silent
        self.replays: dict[str, bytes] = {}  # "UID FETCH <args>" → untagged bytes sent verbatim
        self.on_connect: Callable[[int], None] | None = None
        self.commands: list[str] = []
        self.body_fetches: Counter[int] = Counter()
        self.replayed: Counter[str] = Counter()
        self.connections = 0
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._idlers: set[asyncio.Event] = set()

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def stop(self) -> None:
        for writer in list(self._writers):
            writer.close()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def add_message(self, uid: int, raw: bytes) -> None:
        self.messages[uid] = raw
        self.flags[uid] = set()
        for idler in self._idlers:
            idler.set()

    # --- one connection ---------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        number = self.connections
        self._writers.add(writer)
        if self.on_connect is not None:
            self.on_connect(number)
        try:
            writer.write(f"* OK [CAPABILITY {CAPABILITIES}] Fake server ready\r\n".encode())
            while line := await reader.readline():
                if not await self._command(line, number, reader, writer):
                    break
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()

    async def _command(
        self, line: bytes, number: int, reader: asyncio.StreamReader, w: asyncio.StreamWriter
    ) -> bool:
        tag, _, rest = line.decode().rstrip("\r\n").partition(" ")
        self.commands.append(rest)
        name, _, args = rest.partition(" ")
        name = name.upper()
        if name == "UID":
            sub, _, args = args.partition(" ")
            name = f"UID {sub.upper()}"
        if name == "IDLE":
            return await self._idle(tag, number, reader, w)
        if name == "LOGOUT":
            w.write(f"* BYE Logging out\r\n{tag} OK LOGOUT completed\r\n".encode())
            return False
        handler = {
            "UID SEARCH": self._search,
            "UID FETCH": self._fetch,
            "UID STORE": self._store,
            "UID MOVE": self._move,
            "SELECT": self._select,
            "CAPABILITY": lambda a: f"* CAPABILITY {CAPABILITIES}\r\n".encode(),
            "LIST": lambda a: b'* LIST (\\Noselect) "/" ""\r\n',
        }.get(name, lambda a: b"")
        w.write(handler(args) + f"{tag} OK {name} completed\r\n".encode())
        await w.drain()
        return True

    def _select(self, args: str) -> bytes:
        uidnext = max(self.messages, default=0) + 1
        return (
            f"* {len(self.messages)} EXISTS\r\n* OK [UIDVALIDITY {self.uidvalidity}] UIDs valid\r\n"
            f"* OK [UIDNEXT {uidnext}] Predicted next UID\r\n"
        ).encode()

    def _search(self, args: str) -> bytes:
        spec = args.split()[-1]
        found = _uids(spec, list(self.messages))
        return ("* SEARCH" + "".join(f" {uid}" for uid in found) + "\r\n").encode()

    def _fetch(self, args: str) -> bytes:
        spec, _, items = args.partition(" ")
        uids = _uids(spec, list(self.messages))
        whole = "BODY.PEEK[]" in items.upper() or "RFC822)" in items.upper()
        if whole:
            self.body_fetches.update(uids)
        if f"UID FETCH {args}" in self.replays:
            self.replayed[f"UID FETCH {args}"] += 1
            return self.replays[f"UID FETCH {args}"]
        out = b""
        for uid in uids:
            out += self._message_data(uid, items, whole)
        return out

    def _message_data(self, uid: int, items: str, whole: bool) -> bytes:
        """Generated FETCH data; the UID comes after the literal, as some servers send it."""
        seq = list(self.messages).index(uid) + 1
        raw = self.messages[uid]
        if whole:
            literal, name = raw, "BODY[]"
        else:
            match = re.search(r"HEADER\.FIELDS \(([^)]*)\)", items, re.I)
            fields = match.group(1).split() if match else []
            literal, name = _header_block(raw, fields), f"BODY[HEADER.FIELDS ({' '.join(fields)})]"
        flags = " ".join(sorted(self.flags[uid]))
        head = f"* {seq} FETCH (RFC822.SIZE {len(raw)} {name} {{{len(literal)}}}\r\n".encode()
        return head + literal + f" UID {uid} FLAGS ({flags}))\r\n".encode()

    def _store(self, args: str) -> bytes:
        spec, _, change = args.partition(" ")
        flags = change.split("(", 1)[1].rstrip(")").split()
        for uid in _uids(spec, list(self.messages)):
            self.flags[uid].update(flags)
        return b""

    def _move(self, args: str) -> bytes:
        spec, _, _target = args.partition(" ")
        out = b""
        for uid in _uids(spec, list(self.messages)):
            seq = list(self.messages).index(uid) + 1
            del self.messages[uid]
            out += f"* {seq} EXPUNGE\r\n".encode()
        return out

    async def _idle(
        self, tag: str, number: int, reader: asyncio.StreamReader, w: asyncio.StreamWriter
    ) -> bool:
        behaviour = self.idle_script[number - 1] if number <= len(self.idle_script) else "normal"
        if behaviour != "normal":
            if behaviour.startswith("bye"):
                w.write(b"* BYE idle session timed out\r\n")
                await w.drain()
            if behaviour == "bye_close":
                return False
            while await reader.read(1024):  # bye_hang, silent: never answer, until the client goes
                pass
            return False
        return await self._idle_normally(tag, reader, w)

    async def _idle_normally(
        self, tag: str, reader: asyncio.StreamReader, w: asyncio.StreamWriter
    ) -> bool:
        w.write(b"+ idling\r\n")
        await w.drain()
        arrived = asyncio.Event()
        self._idlers.add(arrived)
        done = asyncio.ensure_future(reader.readline())
        try:
            while True:
                waiter = asyncio.ensure_future(arrived.wait())
                await asyncio.wait({done, waiter}, return_when=asyncio.FIRST_COMPLETED)
                waiter.cancel()
                if done.done():
                    break
                arrived.clear()
                w.write(f"* {len(self.messages)} EXISTS\r\n".encode())
                await w.drain()
        finally:
            self._idlers.discard(arrived)
            if not done.done():
                done.cancel()
        if not done.result():
            return False
        w.write(f"{tag} OK IDLE terminated\r\n".encode())
        await w.drain()
        return True


@contextlib.asynccontextmanager
async def scripted_server(server: ScriptedImapServer):  # type: ignore[no-untyped-def]
    await server.start()
    try:
        yield server
    finally:
        await server.stop()
