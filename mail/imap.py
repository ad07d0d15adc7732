"""IMAP ingest: read the configured mailboxes and hand every message, once, to intake.

One task per account: connect, log in, then passes over the folder — every message after the
last UID handled, in UID order — separated by IDLE (re-issued every `idle_timeout_s`) or, when
the server has no IDLE, by `poll_interval_s`. Each message goes through
`services.intake.receive_email(channel="imap")`, the path SMTP uses, so every attachment rule is
the same. Exactly once:

- a message is recorded in `imap_processed_message` (account, folder, UIDVALIDITY, UID, plus its
  Message-ID) before the folder's last UID moves past it, and a recorded UID is never fetched
  again; after a UIDVALIDITY change the folder is read again from the start and messages whose
  Message-ID was handled before are recognised without another intake;
- a failure of our own storage (database, Redis, disk) stops the pass *before* the message and
  it is tried again after a back-off: nothing is skipped;
- a message that cannot be handled (no sender, refused sender, larger than the limit, unreadable,
  or refused by intake) is recorded as quarantined, moved to the error folder or flagged, and
  never fetched in a loop.

Disconnects (BYE, reset, timeout) are logged once each (IMAP_DISCONNECTED) and retried with a
growing back-off; a refused login is reported once (IMAP_ERROR auth_failed) and retried only
after `auth_retry_s`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from mail.imap_client import (
    ImapCommandError,
    ImapConnection,
    ImapDisconnected,
    ImapProblem,
)
from mail.imap_response import MessageHeaders, by_uid, read_headers
from mail.imap_state import (
    FolderKey,
    folder_state,
    handled_messages,
    handled_uids,
    record_handled,
    save_folder_state,
)
from models import ImapMessageStatus, ImapProcessedMessage
from services.analytics import EventType
from services.errors import TransientError
from services.identity import SenderRefused
from services.intake import receive_email
from services.runtime import Runtime
from services.settings import ImapAccount, ImapSecurity

log = structlog.get_logger(__name__)

HEADER_ITEMS = "(UID FLAGS RFC822.SIZE BODY.PEEK[HEADER.FIELDS (MESSAGE-ID FROM SUBJECT)])"
BODY_ITEMS = "(UID BODY.PEEK[])"
# messages whose headers are fetched in one command (aioimaplib recurses once per line read)
HEADER_CHUNK = 50
BODY_BATCH_BYTES = 8 * 1024 * 1024  # whole messages fetched in one command, at most
BODY_BATCH_COUNT = 20
STOP_GRACE_S = 5.0
LOCAL_HOSTS = ("127.0.0.1", "::1", "localhost")
TRANSIENT_SERVER_CODES = ("[UNAVAILABLE]", "[INUSE]")  # other NOs to a FETCH: unreadable


class IntakeUnavailable(ImapProblem):
    """Our own storage failed (database, Redis, disk): the message is tried again later."""

    reason = "intake_unavailable"


@dataclass(frozen=True)
class MailboxAction:
    """What happens to a handled message: `seen`, `keyword:<name>` or `move:<folder>`."""

    kind: str
    target: str = ""

    @classmethod
    def parse(cls, value: str) -> MailboxAction:
        kind, _, target = value.partition(":")
        return cls(kind, target)

    @property
    def flag(self) -> str:
        return "\\Seen" if self.kind == "seen" else self.target


@dataclass
class AccountStatus:
    """What one account's watcher is doing (for `up`'s output, health checks and tests)."""

    label: str
    folder: str
    connected: bool = False
    idling: bool = False
    connects: int = 0
    passes: int = 0  # completed passes over the folder
    idle_cycles: int = 0
    ingested: int = 0
    quarantined: int = 0
    last_problem: str | None = None


@dataclass
class _Planned:
    """One UID of a pass and what to do with it."""

    uid: int
    kind: str  # again | gone | known | too_large | fetch
    headers: MessageHeaders = MessageHeaders(None, None, None)
    size: int = 0
    record: ImapProcessedMessage | None = None


def _is_transient(error: BaseException) -> bool:
    """A failure of our own services that is worth retrying, not a problem of the message."""
    if isinstance(error, DBAPIError) and error.connection_invalidated:
        return True
    return isinstance(
        error,
        (
            TransientError,
            OSError,
            TimeoutError,
            RedisConnectionError,
            RedisTimeoutError,
            OperationalError,
            InterfaceError,
        ),
    )


def _chunks(items: Sequence[int], size: int) -> Iterator[Sequence[int]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _intake_runtime(rt: Runtime, account: ImapAccount) -> Runtime:
    """The runtime intake sees for this account: its own sender mapping, if it has one."""
    update: dict[str, Any] = {}
    if account.sender_policy is not None:
        update["sender_policy"] = account.sender_policy
    if account.allowed_senders is not None:
        update["allowed_senders"] = [s.strip().lower() for s in account.allowed_senders if s]
    if not update:
        return rt
    return dataclasses.replace(rt, settings=rt.settings.model_copy(update=update))


class FolderPass:
    """One pass over the watched folder on an open connection."""

    def __init__(self, watcher: AccountWatcher, conn: ImapConnection) -> None:
        self.watcher = watcher
        self.rt = watcher.rt
        self.conn = conn
        self.key = watcher.key
        self.uidvalidity = 0
        limit = watcher.account.max_message_bytes
        self.max_bytes = limit if limit is not None else self.rt.settings.smtp_max_message_bytes

    async def run(self) -> None:
        info = await self.conn.select(self.key.folder)
        self.uidvalidity = info.uidvalidity
        state = await folder_state(self.rt, self.key)
        first = 1
        if state is not None and state.uidvalidity == info.uidvalidity:
            first = state.last_uid + 1
        else:
            if state is not None:
                log.warning(
                    "imap_uidvalidity_changed",
                    folder=self.key.folder,
                    old=state.uidvalidity,
                    new=info.uidvalidity,
                )
            await save_folder_state(self.rt, self.key, uidvalidity=info.uidvalidity, last_uid=0)
        uids = await self.conn.uids_from(first)
        for chunk in _chunks(uids, HEADER_CHUNK):
            await self._carry_out(await self._plan(chunk))

    async def _plan(self, uids: Sequence[int]) -> list[_Planned]:
        """Decide per UID from its headers and our records, before any message is downloaded."""
        heads = by_uid(await self.conn.fetch(uids, HEADER_ITEMS))
        done = await handled_uids(self.rt, self.key, self.uidvalidity, uids)
        headers = {uid: read_headers(head.header_block()) for uid, head in heads.items()}
        ids = [h.message_id for uid, h in headers.items() if h.message_id and uid not in done]
        known = await handled_messages(self.rt, self.key, ids)
        plan = []
        for uid in uids:
            if uid in done:
                plan.append(_Planned(uid, "again", record=done[uid]))
            elif uid not in heads:
                plan.append(_Planned(uid, "gone"))
            else:
                plan.append(self._decide(uid, headers[uid], heads[uid].size or 0, known))
        return plan

    def _decide(
        self, uid: int, headers: MessageHeaders, size: int, known: dict[str, ImapProcessedMessage]
    ) -> _Planned:
        record = known.get(headers.message_id) if headers.message_id else None
        if record is not None:
            return _Planned(uid, "known", headers, size, record)
        if size > self.max_bytes:
            return _Planned(uid, "too_large", headers, size)
        return _Planned(uid, "fetch", headers, size)

    async def _carry_out(self, plan: list[_Planned]) -> None:
        """Handle the UIDs in order; the folder's last UID follows each one handled."""
        bodies: dict[int, bytes | None] = {}
        for index, item in enumerate(plan):
            if item.kind == "fetch" and item.uid not in bodies:
                bodies.update(await self._fetch_bodies(self._batch(plan[index:])))
            with structlog.contextvars.bound_contextvars(imap_uid=item.uid):
                await self._handle(item, bodies.pop(item.uid, None))
            await save_folder_state(
                self.rt, self.key, uidvalidity=self.uidvalidity, last_uid=item.uid
            )

    @staticmethod
    def _batch(rest: Sequence[_Planned]) -> list[int]:
        """The next messages to download together (bounded in count and bytes; at least one)."""
        batch: list[int] = []
        total = 0
        for item in (i for i in rest if i.kind == "fetch"):
            if batch and (len(batch) >= BODY_BATCH_COUNT or total + item.size > BODY_BATCH_BYTES):
                break
            batch.append(item.uid)
            total += item.size
        return batch

    async def _fetch_bodies(self, uids: list[int]) -> dict[int, bytes | None]:
        """Whole messages by UID (None: the server sent none); a batch that fails or misses
        some message is retried message by message."""
        try:
            fetched = by_uid(await self.conn.fetch(uids, BODY_ITEMS, whole_messages=True))
        except ImapCommandError as error:
            if any(code in error.detail.upper() for code in TRANSIENT_SERVER_CODES):
                raise
            log.warning("imap_fetch_failed", uids=uids, detail=error.detail)
            fetched = {}
        bodies = {uid: fetched[uid].body() if uid in fetched else None for uid in uids}
        if len(uids) > 1:
            for uid in [uid for uid, body in bodies.items() if body is None]:
                bodies.update(await self._fetch_bodies([uid]))
        return bodies

    async def _handle(self, item: _Planned, body: bytes | None) -> None:
        if item.kind == "again" and item.record is not None:  # recorded, then interrupted
            await self._act(ImapMessageStatus(item.record.status), item.uid)
        elif item.kind == "known" and item.record is not None:
            await self._known(item, item.record)
        elif item.kind == "too_large":
            await self._quarantine(item, "too_large")
        elif item.kind == "fetch":
            await self._ingest(item, body)
        # "gone": expunged since the search; nothing to do

    async def _ingest(self, item: _Planned, body: bytes | None) -> None:
        if body is None:
            await self._quarantine(item, "unreadable")
            return
        headers = read_headers(body)
        item.headers = headers
        if headers.sender is None:
            await self._quarantine(item, "no_sender")
            return
        try:
            receipt = await receive_email(
                self.watcher.intake_rt, body, envelope_from=headers.sender, channel="imap"
            )
        except SenderRefused as refused:
            await self._quarantine(item, refused.reason, detail=refused.user_message)
            return
        except Exception as error:
            if _is_transient(error):
                raise IntakeUnavailable(f"{type(error).__name__}: {error}") from error
            log.exception("imap_intake_failed", error_type=type(error).__name__)
            await self._quarantine(item, "intake_failed")
            return
        await self._record(item, ImapMessageStatus.OK, inbound_message_id=receipt.message.id)
        log.info(
            "imap_message_received",
            inbound_message_id=receipt.message.id,
            correlation_id=receipt.message.correlation_id,
            duplicate=receipt.duplicate,
            size=len(body),
        )
        self.watcher.status.ingested += 1
        await self._act(ImapMessageStatus.OK, item.uid)

    async def _known(self, item: _Planned, earlier: ImapProcessedMessage) -> None:
        """Handled before under another UID (a UIDVALIDITY change, or the same mail twice)."""
        log.info("imap_message_known", message_id=item.headers.message_id, earlier_uid=earlier.uid)
        await self._record(
            item, ImapMessageStatus.OK, inbound_message_id=earlier.inbound_message_id
        )
        await self._act(ImapMessageStatus.OK, item.uid)

    async def _quarantine(self, item: _Planned, reason: str, *, detail: str | None = None) -> None:
        await self._record(item, ImapMessageStatus.QUARANTINED, reason=reason)
        log.warning(
            "imap_message_quarantined",
            reason=reason,
            detail=detail,
            message_id=item.headers.message_id,
            action=self.watcher.on_error.kind,
        )
        self.watcher.event(
            EventType.IMAP_ERROR,
            reason="quarantined",
            cause=reason,
            uid=item.uid,
            message_id=item.headers.message_id,
        )
        self.watcher.status.quarantined += 1
        await self._act(ImapMessageStatus.QUARANTINED, item.uid)

    async def _record(
        self,
        item: _Planned,
        status: ImapMessageStatus,
        *,
        reason: str | None = None,
        inbound_message_id: str | None = None,
    ) -> None:
        await record_handled(
            self.rt,
            self.key,
            uidvalidity=self.uidvalidity,
            uid=item.uid,
            message_id=item.headers.message_id,
            status=status,
            reason=reason,
            inbound_message_id=inbound_message_id,
        )

    async def _act(self, status: ImapMessageStatus, uid: int) -> None:
        """The configured after-success or error action; its failure is logged, not retried."""
        action = self.watcher.success if status is ImapMessageStatus.OK else self.watcher.on_error
        try:
            if action.kind == "move":
                if status is ImapMessageStatus.OK:  # handled: read, as in a mail client
                    await self.conn.add_flag(uid, "\\Seen")
                await self.conn.move(uid, action.target)
            else:
                await self.conn.add_flag(uid, action.flag)
        except ImapCommandError as error:
            log.warning("imap_action_failed", action=action.kind, detail=error.detail)


class AccountWatcher:
    """One account: connect, pass over the folder, wait for mail, again; recover from failures."""

    def __init__(self, rt: Runtime, account: ImapAccount, stop: asyncio.Event) -> None:
        self.rt = rt
        self.intake_rt = _intake_runtime(rt, account)
        self.account = account
        self.key = FolderKey(account.label, account.folder)
        self.stop = stop
        self.status = AccountStatus(account.label, account.folder)
        self.success = MailboxAction.parse(account.after_success)
        self.on_error = MailboxAction.parse(account.on_error)
        self._failures = 0  # consecutive: the back-off grows with them
        self._reported: str | None = None  # the persistent problem reported already
        self._idle_refused = False

    async def run(self) -> None:
        """Until stop is set; never raises (one account's trouble never stops another)."""
        structlog.contextvars.bind_contextvars(imap_account=self.account.label)
        if self.account.security is ImapSecurity.PLAIN and self.account.host not in LOCAL_HOSTS:
            log.warning("imap_unencrypted", host=self.account.host, hint="use tls or starttls")
        while not self.stop.is_set():
            try:
                await self._session()
                continue
            except ImapProblem as problem:
                wait = self._on_problem(problem)
            except Exception as error:
                log.exception("imap_watcher_error", error_type=type(error).__name__)
                self.event(EventType.IMAP_ERROR, reason="internal", detail=type(error).__name__)
                wait = self._backoff()
            await self._sleep(wait)

    async def _session(self) -> None:
        self.status.connects += 1
        conn = await self._connect()
        if conn is None:
            return
        if self._reported is not None:
            log.info("imap_account_recovered", previous=self._reported)
            self._reported = None
        elif self._failures:  # back after a disconnect or an unreachable server
            log.info("imap_reconnected", failed_attempts=self._failures)
        self.status.connected = True
        try:
            while not self.stop.is_set():
                await FolderPass(self, conn).run()
                self.status.passes += 1
                self._failures = 0
                await self._wait_for_mail(conn)
        finally:
            self.status.connected = self.status.idling = False
            await conn.close()

    async def _connect(self) -> ImapConnection | None:
        """A logged-in connection, or None when stop is set first (a server may take its time
        to refuse a login)."""
        opening = asyncio.ensure_future(ImapConnection.open(self.account))
        stopping = asyncio.ensure_future(self.stop.wait())
        try:
            await asyncio.wait({opening, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
            if not opening.done():
                opening.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await opening
        return None if opening.cancelled() else opening.result()

    async def _wait_for_mail(self, conn: ImapConnection) -> None:
        if not (self.account.use_idle and conn.can_idle and not self._idle_refused):
            await conn.pause(self.account.poll_interval_s, self.stop)
            return
        self.status.idling = True
        try:
            await conn.idle(self.account.idle_timeout_s, self.stop)
            self.status.idle_cycles += 1
        except ImapCommandError as error:
            log.warning("imap_idle_refused", detail=error.detail)
            self._idle_refused = True  # poll from now on
        finally:
            self.status.idling = False

    def _on_problem(self, problem: ImapProblem) -> float:
        """Log and record the problem once; return how long to wait before reconnecting."""
        self.status.last_problem = problem.reason
        if problem.persistent:
            self._report_once(problem)
            return self.account.auth_retry_s
        first_of_streak = self._failures == 0
        wait = self._backoff()
        fields = {"reason": problem.reason, "detail": problem.detail, "retry_in_s": round(wait, 2)}
        if isinstance(problem, ImapDisconnected):
            log.warning("imap_disconnected", **fields)
            self.event(EventType.IMAP_DISCONNECTED, reason=problem.reason, detail=problem.detail)
            return wait
        log.warning("imap_unavailable", **fields)
        if first_of_streak:
            self.event(EventType.IMAP_ERROR, reason=problem.reason, detail=problem.detail)
        return wait

    def _report_once(self, problem: ImapProblem) -> None:
        if self._reported == problem.reason:
            log.debug("imap_account_still_refused", reason=problem.reason)
            return
        self._reported = problem.reason
        log.error(
            "imap_account_refused",
            reason=problem.reason,
            detail=problem.detail,
            host=self.account.host,
            username=self.account.username,
            retry_in_s=self.account.auth_retry_s,
        )
        self.event(EventType.IMAP_ERROR, reason=problem.reason, detail=problem.detail)

    def _backoff(self) -> float:
        self._failures += 1
        delay = self.account.reconnect_backoff_s * 2 ** min(self._failures - 1, 16)
        return float(min(delay, self.account.reconnect_backoff_max_s))

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stop.wait(), seconds)

    def event(self, event_type: EventType, **metadata: Any) -> None:
        self.rt.analytics.log_event(
            event_type,
            metadata={"account": self.account.label, "folder": self.account.folder, **metadata},
        )


class ImapIngest:
    """Every configured account watched by its own task; `stop()` ends them cleanly."""

    def __init__(self, rt: Runtime, accounts: Sequence[ImapAccount] | None = None) -> None:
        chosen = list(rt.settings.imap_accounts if accounts is None else accounts)
        keys = [(account.label, account.folder) for account in chosen]
        if len(set(keys)) != len(keys):
            raise ValueError("two IMAP accounts watch the same folder under the same name")
        self._stop = asyncio.Event()
        self.watchers = [AccountWatcher(rt, account, self._stop) for account in chosen]
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(w.run(), name=f"imap:{w.account.label}") for w in self.watchers
        ]
        log.info("imap_started", accounts=[w.account.label for w in self.watchers])

    @property
    def statuses(self) -> list[AccountStatus]:
        return [watcher.status for watcher in self.watchers]

    async def stop(self, *, grace_s: float = STOP_GRACE_S) -> None:
        """Let each watcher finish its message and log out; cancel what is still running."""
        self._stop.set()
        if not self._tasks:
            return
        _, late = await asyncio.wait(self._tasks, timeout=grace_s)
        for task in late:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        log.info("imap_stopped")


async def start_imap_ingest(
    rt: Runtime, accounts: Sequence[ImapAccount] | None = None
) -> ImapIngest:
    """Watch the accounts (default: the settings' imap_accounts) in the current event loop."""
    ingest = ImapIngest(rt, accounts)
    ingest.start()
    return ingest
