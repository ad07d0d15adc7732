"""One IMAP connection that never hangs: aioimaplib underneath, every command raced against a
time limit and the loss of the connection.

aioimaplib leaves a command waiting forever when the server closes the connection (case 015:
IDLE answered with `* BYE` and a close), so every call here waits on the command *and* on a
"connection lost" future fed by the protocol: a BYE (outside LOGOUT), a reset or an EOF ends
the wait at once with ImapDisconnected, and so does a command that takes longer than the
account's timeout. A connection that raised is finished; the caller opens a new one.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Awaitable, Sequence
from typing import Any, TypeVar

import structlog
from aioimaplib.aioimaplib import (
    AUTH,
    AioImapException,
    Command,
    CommandTimeout,
    IMAP4ClientProtocol,
    Response,
)

from mail.imap_response import (
    FetchedMessage,
    ResponseParseError,
    SelectInfo,
    encode_mailbox,
    parse_fetch,
    parse_list_delimiter,
    parse_search,
    parse_select,
    pushes_new_mail,
    quote,
    uid_set,
)
from services.settings import ImapAccount, ImapSecurity

log = structlog.get_logger(__name__)
T = TypeVar("T")

LOGOUT_TIMEOUT_S = 2.0


class ImapProblem(Exception):
    """Base of what ends an IMAP session. `reason` is the stable code used in events."""

    reason = "error"
    persistent = False  # True: retrying soon will not help (wrong password, wrong setting)

    def __init__(self, detail: str = "", *, reason: str | None = None) -> None:
        self.detail = detail
        if reason is not None:
            self.reason = reason
        super().__init__(f"{self.reason}: {detail}" if detail else self.reason)


class ImapDisconnected(ImapProblem):
    """The connection was lost: reason `bye`, `reset`, `timeout` or `error` (protocol)."""


class ImapConnectFailed(ImapProblem):
    reason = "connect_failed"


class ImapAuthFailed(ImapProblem):
    reason = "auth_failed"
    persistent = True


class ImapConfigError(ImapProblem):
    """A setting the server cannot work with (no STARTTLS, missing folder, bad certificate)."""

    reason = "config_error"
    persistent = True


class ImapCommandError(ImapProblem):
    """The server answered NO or BAD to a command the session cannot do without."""

    reason = "command_failed"


# What OpenSSL says when the other side answers a TLS handshake in plain text.
_NOT_TLS_REASONS = frozenset({"WRONG_VERSION_NUMBER", "UNKNOWN_PROTOCOL", "HTTP_REQUEST"})


class _Protocol(IMAP4ClientProtocol):
    """aioimaplib's protocol, telling its owner at once about a BYE or a lost connection."""

    def __init__(self, loop: asyncio.AbstractEventLoop, connection: ImapConnection) -> None:
        super().__init__(loop, conn_lost_cb=self._connection_lost)
        self._owner = connection
        self.logging_out = False
        self.bye: str | None = None

    def _handle_line(self, line: bytes, current_cmd: Command) -> Command | None:
        if line[:5].upper() == b"* BYE" and not self.logging_out:
            self.bye = line[5:].strip().decode("utf-8", "replace")[:200]
            self._owner.lost("bye", self.bye)
            if self.state == "CONNECTED":  # a BYE greeting: nothing more to read
                return None
        result: Command | None = super()._handle_line(line, current_cmd)
        return result

    def _connection_lost(self, error: Exception | None) -> None:
        if self.bye is not None:
            self._owner.lost("bye", self.bye)
        else:
            self._owner.lost("reset", type(error).__name__ if error else "eof")


def _tls_context(account: ImapAccount) -> ssl.SSLContext:
    cafile = str(account.tls_ca_file) if account.tls_ca_file else None
    return ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=cafile)


def _text(response: Response) -> str:
    """The server's words on a tagged status line (for logs; never holds a password)."""
    last = response.lines[-1] if response.lines else b""
    return bytes(last).decode("utf-8", "replace")[:200]


class ImapConnection:
    """A logged-in connection to one account's server."""

    def __init__(self, account: ImapAccount) -> None:
        self.account = account
        self.timeout_s = account.timeout_s
        self._lost: asyncio.Future[tuple[str, str]] = asyncio.get_running_loop().create_future()
        self.protocol = _Protocol(asyncio.get_running_loop(), self)
        self.delimiter: str | None = "/"
        self._ensured: set[str] = set()

    # --- the connection ---------------------------------------------------------------------

    @classmethod
    async def open(cls, account: ImapAccount) -> ImapConnection:
        """Connect, (STARTTLS,) log in and learn the capabilities and the folder delimiter."""
        connection = cls(account)
        try:
            await connection._connect()
            await connection._login()
            await connection._call(connection.protocol.capability())
            connection.delimiter = await connection._delimiter()
        except BaseException:
            connection.abort()
            raise
        return connection

    async def _connect(self) -> None:
        loop = asyncio.get_running_loop()
        account = self.account
        tls = _tls_context(account) if account.security is ImapSecurity.TLS else None
        try:
            await asyncio.wait_for(
                loop.create_connection(
                    lambda: self.protocol, account.host, account.effective_port, ssl=tls
                ),
                self.timeout_s,
            )
        except ssl.SSLCertVerificationError as error:
            raise ImapConfigError(f"TLS certificate not trusted: {error.verify_message}") from None
        except ssl.SSLError as error:
            if error.reason in _NOT_TLS_REASONS:  # a plaintext port answered the TLS handshake
                raise ImapConfigError(
                    f"port {account.effective_port} does not speak TLS; for a plaintext port "
                    'set "security": "starttls" (or "plain" on this machine), or use port 993'
                ) from None
            raise ImapConnectFailed(f"{type(error).__name__}: {error}") from None
        except (OSError, TimeoutError) as error:
            raise ImapConnectFailed(f"{type(error).__name__}: {error}") from None
        await self._call(self.protocol.wait("AUTH|NONAUTH"))  # the greeting
        if account.security is ImapSecurity.STARTTLS:
            await self._starttls()

    async def _starttls(self) -> None:
        if "STARTTLS" not in self.protocol.capabilities:
            raise ImapConfigError("the server does not offer STARTTLS", reason="starttls_missing")
        command = Command("STARTTLS", self.protocol.new_tag(), loop=self.protocol.loop)
        response = await self._call(self.protocol.execute(command))
        if response.result != "OK":
            raise ImapConfigError(f"STARTTLS refused: {_text(response)}", reason="starttls_missing")
        loop = asyncio.get_running_loop()
        try:
            transport = await self._call(
                loop.start_tls(
                    self.protocol.transport,
                    self.protocol,
                    _tls_context(self.account),
                    server_hostname=self.account.host,
                )
            )
        except ssl.SSLCertVerificationError as error:
            raise ImapConfigError(f"TLS certificate not trusted: {error.verify_message}") from None
        self.protocol.transport = transport
        await self._call(self.protocol.capability())

    async def _login(self) -> None:
        if self.protocol.state == AUTH:  # PREAUTH greeting
            return
        if "LOGINDISABLED" in self.protocol.capabilities:
            raise ImapConfigError(
                "the server refuses LOGIN on an unencrypted connection; use tls or starttls",
                reason="login_disabled",
            )
        password = self.account.password.get_secret_value()
        response = await self._call(self.protocol.login(quote(self.account.username), password))
        if response.result == "OK":
            return
        words = _text(response)
        if "[UNAVAILABLE]" in words.upper():
            raise ImapDisconnected(words, reason="unavailable")
        raise ImapAuthFailed(words)

    async def _delimiter(self) -> str | None:
        response = await self._call(self.protocol.simple_command("LIST", '""', '""'))
        if response.result != "OK":
            return "/"
        return parse_list_delimiter(response.lines[:-1])

    def lost(self, reason: str, detail: str) -> None:
        """Called by the protocol: the connection is gone (or going: BYE)."""
        if not self._lost.done():
            self._lost.set_result((reason, detail))

    @property
    def is_lost(self) -> bool:
        return self._lost.done()

    def abort(self) -> None:
        """Drop the connection now."""
        transport = self.protocol.transport
        if transport is not None and not transport.is_closing():
            transport.abort()

    async def close(self) -> None:
        """LOGOUT when the connection is healthy (briefly), then drop it."""
        if not self.is_lost and self.protocol.state in ("AUTH", "SELECTED"):
            self.protocol.logging_out = True
            try:
                await asyncio.wait_for(self.protocol.logout(), LOGOUT_TIMEOUT_S)
            except (TimeoutError, AioImapException, OSError):
                pass
        self.abort()

    # --- racing commands against time and the connection -----------------------------------

    async def _call(self, awaitable: Awaitable[T], *, timeout: float | None = -1) -> T:
        """The awaitable's result; ImapDisconnected when the connection goes first or it takes
        longer than `timeout` (default: the account's timeout; None: no overall limit)."""
        limit = self.timeout_s if timeout == -1 else timeout
        self._raise_if_lost()
        task = asyncio.ensure_future(awaitable)
        try:
            waiting: set[asyncio.Future[Any]] = {task, self._lost}
            done, _ = await asyncio.wait(
                waiting, timeout=limit, return_when=asyncio.FIRST_COMPLETED
            )
        except asyncio.CancelledError:
            _discard(task)
            raise
        if task in done:
            return self._result(task)
        _discard(task)
        self._raise_if_lost()
        self.abort()
        raise ImapDisconnected(f"no answer within {limit} s", reason="timeout")

    def _result(self, task: asyncio.Future[T]) -> T:
        try:
            return task.result()
        except (CommandTimeout, TimeoutError):
            self.abort()
            raise ImapDisconnected("no answer in time", reason="timeout") from None
        except (AioImapException, ResponseParseError) as error:
            self.abort()
            self._raise_if_lost()
            raise ImapDisconnected(f"{type(error).__name__}: {error}", reason="error") from None
        except ssl.SSLCertVerificationError:
            raise  # a setting to fix, reported as such by the caller
        except OSError as error:  # e.g. a TLS failure during STARTTLS
            self.abort()
            raise ImapDisconnected(f"{type(error).__name__}: {error}", reason="reset") from None

    def _raise_if_lost(self) -> None:
        if self._lost.done():
            reason, detail = self._lost.result()
            self.abort()
            raise ImapDisconnected(detail, reason=reason)

    async def _ok(self, awaitable: Awaitable[Response], what: str, **kwargs: Any) -> Response:
        response = await self._call(awaitable, **kwargs)
        if response.result != "OK":
            raise ImapCommandError(f"{what}: {response.result} {_text(response)}")
        return response

    # --- mailbox commands -------------------------------------------------------------------

    def mailbox(self, folder: str) -> str:
        """A folder name as the server spells it: `/` as its delimiter, modified UTF-7, quoted."""
        if self.delimiter and self.delimiter != "/":
            folder = folder.replace("/", self.delimiter)
        return quote(encode_mailbox(folder))

    async def select(self, folder: str) -> SelectInfo:
        response = await self._call(self.protocol.select(self.mailbox(folder)))
        if response.result != "OK":
            raise ImapConfigError(
                f"cannot open folder {folder!r}: {_text(response)}", reason="folder_missing"
            )
        try:
            return parse_select(response.lines)
        except ResponseParseError:  # without UIDVALIDITY, UIDs cannot be remembered safely
            raise ImapConfigError(
                f"the server sent no UIDVALIDITY for {folder!r}", reason="no_uidvalidity"
            ) from None

    async def uids_from(self, first: int) -> list[int]:
        """UIDs >= first, ascending (`n:*` always matches the newest message: filtered out)."""
        response = await self._ok(
            self.protocol.search("UID", f"{first}:*", charset=None, by_uid=True), "UID SEARCH"
        )
        return sorted({uid for uid in parse_search(response.lines[:-1]) if uid >= first})

    async def fetch(
        self, uids: Sequence[int], items: str, *, whole_messages: bool = False
    ) -> list[FetchedMessage]:
        """FETCH data of the UIDs. Whole messages have no overall time limit: the command times
        out only when the server stops sending for `timeout_s`."""
        response = await self._ok(
            self.protocol.fetch(uid_set(uids), items, by_uid=True, timeout=self.timeout_s),
            "UID FETCH",
            timeout=None if whole_messages else -1,
        )
        try:
            return parse_fetch(response.lines[:-1])
        except ResponseParseError as error:
            raise ImapCommandError(f"unreadable FETCH response: {error}") from None

    async def add_flag(self, uid: int, flag: str) -> None:
        await self._ok(
            self.protocol.store(str(uid), "+FLAGS.SILENT", f"({flag})", by_uid=True), "UID STORE"
        )

    async def move(self, uid: int, folder: str) -> None:
        """Move a message, creating the target folder first if needed (once per connection)."""
        await self.ensure_folder(folder)
        target = self.mailbox(folder)
        if "MOVE" in self.protocol.capabilities:
            await self._ok(self.protocol.move(str(uid), target, by_uid=True), "UID MOVE")
            return
        await self._ok(self.protocol.copy(str(uid), target, by_uid=True), "UID COPY")
        await self.add_flag(uid, "\\Deleted")
        if "UIDPLUS" in self.protocol.capabilities:
            await self._ok(self.protocol.expunge(str(uid), by_uid=True), "UID EXPUNGE")

    async def ensure_folder(self, folder: str) -> None:
        if folder in self._ensured:
            return
        response = await self._call(self.protocol.simple_command("CREATE", self.mailbox(folder)))
        if response.result == "OK":
            log.info("imap_folder_created", folder=folder)
        self._ensured.add(folder)  # NO [ALREADYEXISTS] is fine; a real failure shows at MOVE

    # --- waiting for new mail ---------------------------------------------------------------

    @property
    def can_idle(self) -> bool:
        return "IDLE" in self.protocol.capabilities

    async def idle(self, max_s: float, stop: asyncio.Event) -> bool:
        """IDLE until the server announces new mail (True), `max_s` passes or `stop` is set."""
        queue = self.protocol.idle_queue
        while not queue.empty():
            queue.get_nowait()
        idle = asyncio.ensure_future(self.protocol.idle())
        acknowledged = asyncio.ensure_future(self.protocol.wait_for_idle_response())
        stopping = asyncio.ensure_future(stop.wait())
        try:
            started: set[asyncio.Future[Any]] = {idle, acknowledged, stopping}
            await self._call(asyncio.wait(started, return_when=asyncio.FIRST_COMPLETED))
            if idle.done():  # answered NO/BAD instead of "+ idling"
                response = self._result(idle)
                raise ImapCommandError(f"IDLE: {response.result} {_text(response)}")
            if not acknowledged.done():  # stopping while the server keeps us waiting: drop it
                self.lost("stopped", "")
                self.abort()
                return False
            changed = await self._wait_for_push(max_s, stop)
            self.protocol.idle_done()
            await self._ok(idle, "IDLE")
            return changed
        finally:
            for task in (acknowledged, idle, stopping):
                _discard(task)

    async def _wait_for_push(self, max_s: float, stop: asyncio.Event) -> bool:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max_s
        stopping = asyncio.ensure_future(stop.wait())
        try:
            while (remaining := deadline - loop.time()) > 0 and not stop.is_set():
                push = asyncio.ensure_future(self.protocol.idle_queue.get())
                waiting: set[asyncio.Future[Any]] = {push, stopping, self._lost}
                await asyncio.wait(waiting, timeout=remaining, return_when=asyncio.FIRST_COMPLETED)
                _discard(push)
                self._raise_if_lost()
                if push.done() and not push.cancelled() and pushes_new_mail(push.result()):
                    return True
            return False
        finally:
            _discard(stopping)

    async def pause(self, seconds: float, stop: asyncio.Event) -> None:
        """Sleep between polls; ends early on `stop` and raises if the connection goes."""
        stopping = asyncio.ensure_future(stop.wait())
        try:
            waiting: set[asyncio.Future[Any]] = {stopping, self._lost}
            await asyncio.wait(waiting, timeout=seconds)
        finally:
            _discard(stopping)
        self._raise_if_lost()


def _discard(task: asyncio.Future[Any]) -> None:
    """Cancel a task we no longer wait for, and never leave its exception unretrieved."""
    if task.done():
        if not task.cancelled():
            task.exception()
        return
    task.cancel()
    task.add_done_callback(lambda t: t.cancelled() or t.exception())
