"""Analytics events: a cheap `log_event` on the hot path, batched inserts in the background.

Events are appended to an in-memory buffer and written in one multi-row INSERT per batch by a
background task (every `flush_interval_s`, or sooner when the batch fills). `close()` writes what
is left, so a clean stop loses nothing.
"""

from __future__ import annotations

import asyncio
import functools
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, ParamSpec, TypeVar

import structlog
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from models.analytics import AnalyticsEvent
from models.base import utcnow

log = structlog.get_logger(__name__)
EVENTS_TABLE = AnalyticsEvent.__table__  # type: ignore[attr-defined]  # set by SQLModel

P = ParamSpec("P")
R = TypeVar("R")

# Keys that name a credential: "token", "bot_token", "api-key", "password"… (not "tokens_used").
_SECRET_KEY = re.compile(
    r"(^|[_-])(token|secret|password|passwd|authorization|api[_-]?key|cookie|signature|credentials?)$",
    re.I,
)


class EventType(StrEnum):
    """Every interaction the product records."""

    EMAIL_RECEIVED = "EMAIL_RECEIVED"
    EMAIL_DUPLICATE = "EMAIL_DUPLICATE"
    EMAIL_PARSE_DEFECT = "EMAIL_PARSE_DEFECT"
    EMAIL_PARSE_FAILED = "EMAIL_PARSE_FAILED"
    INGEST_REJECTED = "INGEST_REJECTED"
    IMAP_DISCONNECTED = "IMAP_DISCONNECTED"  # metadata reason: bye | reset | timeout | error
    IMAP_ERROR = "IMAP_ERROR"  # metadata reason: auth_failed | quarantined | …
    FILE_UPLOAD_INITIATED = "FILE_UPLOAD_INITIATED"
    FILE_RECEIVED = "FILE_RECEIVED"
    FILE_UNPACKED = "FILE_UNPACKED"
    FILE_SKIPPED = "FILE_SKIPPED"
    FILE_DEDUPED = "FILE_DEDUPED"
    JOB_DEDUPED = "JOB_DEDUPED"
    AGENT_STARTED = "AGENT_STARTED"
    FILE_PROCESSED = "FILE_PROCESSED"
    FILE_RETRYING = "FILE_RETRYING"
    FILE_FAILED = "FILE_FAILED"
    REPLY_SENT = "REPLY_SENT"
    DIGEST_GENERATED = "DIGEST_GENERATED"
    DIGEST_SENT = "DIGEST_SENT"
    DIGEST_FAILED = "DIGEST_FAILED"
    DIGEST_DUPLICATE_SUPPRESSED = "DIGEST_DUPLICATE_SUPPRESSED"
    DIGEST_UNSUBSCRIBED = "DIGEST_UNSUBSCRIBED"
    API_CALLED = "API_CALLED"
    COMMAND_USED = "COMMAND_USED"
    COMMAND_COMPLETED = "COMMAND_COMPLETED"
    COMMAND_FAILED = "COMMAND_FAILED"
    SLACK_EVENT_DUPLICATE = "SLACK_EVENT_DUPLICATE"


# Values stored as they are; checked by exact type, the hot path of log_event.
_PLAIN = frozenset({str, int, float, bool, type(None)})


def scrub(metadata: Mapping[str, Any] | None) -> dict[str, Any]:
    """Drop anything that looks like a secret; analytics never stores credentials."""
    if not metadata:
        return {}
    clean: dict[str, Any] = {}
    for key, value in metadata.items():
        if _is_secret(key):
            continue
        if type(value) in _PLAIN:
            clean[key] = value
        elif isinstance(value, Mapping):
            clean[key] = scrub(value)
        else:
            clean[key] = _jsonable(value)
    return clean


@functools.lru_cache(maxsize=4096)
def _is_secret(key: str) -> bool:
    """Metadata keys are few and repeat (file_id, size…): each is matched once."""
    return _SECRET_KEY.search(key) is not None


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, StrEnum):
        return value.value
    if isinstance(value, (list, tuple)):
        return [_jsonable(item) for item in value]
    return value


@dataclass
class Analytics:
    """Buffered writer of AnalyticsEvent rows."""

    engine: AsyncEngine
    flush_interval_s: float = 0.5
    batch_size: int = 500
    _buffer: list[dict[str, Any]] = field(default_factory=list)
    _task: asyncio.Task[None] | None = None
    _wake: asyncio.Event | None = None
    _lock: asyncio.Lock | None = None
    _stopping: bool = False

    def log_event(
        self,
        event_type: EventType | str,
        *,
        user_id: str | None = None,
        tenant_id: str | None = None,
        correlation_id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        """Record one event; ids missing here are taken from the bound log context."""
        bound = structlog.contextvars.get_contextvars()
        self._buffer.append(
            {
                "event_type": str(event_type),
                "user_id": user_id or bound.get("user_id"),
                "tenant_id": tenant_id or bound.get("tenant_id"),
                "correlation_id": correlation_id or bound.get("correlation_id"),
                "metadata": scrub(metadata),
                "created_at": utcnow(),
            }
        )
        if len(self._buffer) >= self.batch_size and self._wake is not None:
            self._wake.set()

    async def start(self) -> None:
        """Start the background flusher (call inside the running loop)."""
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()
        self._task = asyncio.create_task(self._run(), name="analytics-flusher")

    async def _run(self) -> None:
        assert self._wake is not None
        while not self._stopping:
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self.flush_interval_s)
            except TimeoutError:
                pass
            self._wake.clear()
            try:
                await self.flush()
            except Exception:  # keep the events and try again at the next tick
                log.exception("analytics_flush_failed", pending=len(self._buffer))

    async def flush(self) -> int:
        """Write everything buffered so far; returns the number of rows written."""
        lock = self._lock or asyncio.Lock()
        async with lock:
            written = 0
            while self._buffer:
                batch, self._buffer = (
                    self._buffer[: self.batch_size],
                    self._buffer[self.batch_size :],
                )
                try:
                    async with self.engine.begin() as connection:
                        await connection.execute(insert(EVENTS_TABLE), batch)
                except BaseException:  # failed or cancelled mid-write: the batch goes back
                    self._buffer[:0] = batch
                    raise
                written += len(batch)
            return written

    async def close(self) -> None:
        """Stop the flusher after its current write, then write what is left."""
        if self._task is not None and self._wake is not None:
            self._stopping = True
            self._wake.set()
            await self._task
            self._task = None
        await self.flush()


_active: Analytics | None = None


def install(analytics: Analytics | None) -> None:
    """Make `analytics` the target of the module-level `log_event` (set by each entry point)."""
    global _active
    _active = analytics


def log_event(
    event_type: EventType | str,
    *,
    user_id: str | None = None,
    tenant_id: str | None = None,
    correlation_id: str | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> None:
    """Record an event on the installed Analytics (a no-op with a warning if none is installed)."""
    if _active is None:
        log.warning("analytics_not_installed", event_type=str(event_type))
        return
    _active.log_event(
        event_type,
        user_id=user_id,
        tenant_id=tenant_id,
        correlation_id=correlation_id,
        metadata=metadata,
    )


def track_api_call(
    endpoint: str,
) -> Callable[[Callable[P, Awaitable[R]]], Callable[P, Awaitable[R]]]:
    """Record API_CALLED with endpoint, user, duration and status for an async handler.

    The handler's status is read from an integer `status_code` attribute on its result (HTTP
    responses have one); an exception counts as status 500 and is re-raised.
    """

    def decorate(handler: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
        @functools.wraps(handler)
        async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            started = time.perf_counter()
            status = 500
            try:
                result = await handler(*args, **kwargs)
                status = int(getattr(result, "status_code", 200))
                return result
            finally:
                log_event(
                    EventType.API_CALLED,
                    metadata={
                        "endpoint": endpoint,
                        "status": status,
                        "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                    },
                )

        return wrapper

    return decorate
