"""The Slack door's part of intake: recognise repeated deliveries, then enqueue the fetch job.

This runs before Slack gets its answer (the app processes before responding), so an event is
acknowledged only once its work is queued in Redis; if queueing fails the markers are removed
and the non-2xx answer makes Slack deliver it again. Redis calls are bounded in time, so the
answer always leaves well within Slack's 3 seconds.

Slack redelivers an event (same event_id, X-Slack-Retry-Num ≥ 1) when it saw no timely answer,
and one upload arrives twice (a message event and a file_shared event, in either order). Markers
by event id and by share (the message that carried the file) live a day — far past Slack's last
retry — so neither creates work twice, while a retry whose first delivery never arrived is
processed like a first delivery, and sharing the file again is a new share.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

import structlog
from arq.connections import ArqRedis

from bot.keys import (
    EVENT_TTL_S,
    FETCH_SLACK_FILE,
    IN_MESSAGE_TTL_S,
    event_key,
    fetch_job_id,
    in_message_key,
    share_key,
)
from bot.shares import FileShare
from services.analytics import EventType
from services.queue import enqueue_once
from services.runtime import Runtime

log = structlog.get_logger(__name__)
REDIS_BUDGET_S = 2.0


def retry_num(headers: dict[str, Any] | None) -> int:
    """X-Slack-Retry-Num of the delivery (bolt gives header values as lists)."""
    value = (headers or {}).get("x-slack-retry-num")
    if isinstance(value, (list, tuple)):
        value = value[0] if value else None
    try:
        return int(value) if value is not None else 0
    except ValueError:
        return 0


async def first_delivery(rt: Runtime, body: dict[str, Any], *, retry: int) -> bool:
    """True the first time an event id is seen; a repeat is logged as SLACK_EVENT_DUPLICATE."""
    event_id = body.get("event_id")
    if not isinstance(event_id, str) or not event_id:
        return True
    key = event_key(str(body.get("team_id") or ""), event_id)
    if await _claim(rt.require_redis(), key):
        return True
    log_duplicate(rt, kind="event", event_id=event_id, retry=retry)
    return False


async def enqueue_shares(
    rt: Runtime, shares: Iterable[FileShare], *, body: dict[str, Any], retry: int
) -> int:
    """Queue one fetch job per new share; returns how many were queued.

    A share from a message event is keyed by its message (a re-share in the same channel is a
    new message, so it is answered again). A file_shared event names no message: when a message
    event already brought the file to that channel it is the same upload and is dropped here;
    otherwise its job waits `slack_file_shared_delay_s` and drops itself if the message event
    came meanwhile (Slack does not order the two). On any failure every marker this call set
    (and the event's) is removed before re-raising.
    """
    redis = rt.require_redis()
    claimed: list[str] = []
    try:
        queued = 0
        for share in shares:
            if share.message_ts is None:
                queued += await _enqueue_announced(rt, share, retry=retry)
                continue
            key = share_key(share.team_id, share.file_id, share.channel_id, share.message_ts)
            if not await _claim(redis, key):
                log_duplicate(rt, kind="file", event_id=share.event_id, retry=retry,
                               file_id=share.file_id)  # fmt: skip
                continue
            claimed.append(key)
            async with asyncio.timeout(REDIS_BUDGET_S):
                await redis.set(
                    in_message_key(share.team_id, share.file_id, share.channel_id),
                    share.message_ts,
                    ex=IN_MESSAGE_TTL_S,
                )
            await _enqueue(rt, share, share.message_ts)
            queued += 1
        return queued
    except BaseException:
        await _release(redis, [*claimed, _event_marker(body)])
        raise


async def _enqueue_announced(rt: Runtime, share: FileShare, *, retry: int) -> int:
    """A file_shared event's share: queued (after a short wait) unless a message brought it."""
    if await seen_in_message(rt, share):
        log_duplicate(rt, kind="file", event_id=share.event_id, retry=retry,
                       file_id=share.file_id)  # fmt: skip
        return 0
    await _enqueue(
        rt, share, f"fs-{share.event_id or share.correlation_id}",
        defer_s=rt.settings.slack_file_shared_delay_s,
    )  # fmt: skip
    return 1


async def seen_in_message(rt: Runtime, share: FileShare) -> bool:
    """True when a message event brought this file to this channel in the last minutes."""
    key = in_message_key(share.team_id, share.file_id, share.channel_id)
    async with asyncio.timeout(REDIS_BUDGET_S):
        return bool(await rt.require_redis().exists(key))


async def _enqueue(rt: Runtime, share: FileShare, which: str, *, defer_s: float = 0) -> None:
    async with asyncio.timeout(REDIS_BUDGET_S):
        await enqueue_once(
            rt.require_redis(),
            rt.analytics,
            queue_name=rt.settings.queue_name,
            function=FETCH_SLACK_FILE,
            job_id=fetch_job_id(share.team_id, share.file_id, share.channel_id, which),
            args=(share.as_job(),),
            event_ids={"correlation_id": share.correlation_id},
            defer_s=defer_s,
        )
    log.info("slack_file_queued", file_id=share.file_id, channel_id=share.channel_id)


async def _claim(redis: ArqRedis, key: str) -> bool:
    async with asyncio.timeout(REDIS_BUDGET_S):
        return bool(await redis.set(key, "1", nx=True, ex=EVENT_TTL_S))


def _event_marker(body: dict[str, Any]) -> str | None:
    event_id = body.get("event_id")
    if not isinstance(event_id, str) or not event_id:
        return None
    return event_key(str(body.get("team_id") or ""), event_id)


async def _release(redis: ArqRedis, keys: list[str | None]) -> None:
    wanted = [key for key in keys if key]
    if not wanted:
        return
    try:
        async with asyncio.timeout(REDIS_BUDGET_S):
            await redis.delete(*wanted)
    except Exception:  # Redis itself is failing; the markers expire on their own
        log.warning("slack_marker_release_failed", keys=len(wanted))


def log_duplicate(
    rt: Runtime, *, kind: str, event_id: str | None, retry: int, **extra: Any
) -> None:
    log.info("slack_event_duplicate", kind=kind, event_id=event_id, retry_num=retry, **extra)
    rt.analytics.log_event(
        EventType.SLACK_EVENT_DUPLICATE,
        metadata={"kind": kind, "event_id": event_id, "retry_num": retry, **extra},
    )
