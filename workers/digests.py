"""Digest jobs: the cron that claims due users' digests, and `send_digest`, one per digest.

Time comes from `ctx["clock"]` when present (tests), else the wall clock. The cron may fire
twice, on several workers, or again after a restart: claims are rows under a unique key, so
each user gets one daily digest per local day, and `send_digest` for a finished digest only
logs DIGEST_DUPLICATE_SUPPRESSED.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from typing import Any

import structlog
from arq import Retry

from models import DigestStatus
from models.base import utcnow
from services.digest_delivery import DigestKit, build_kit
from services.digests import deliver as deliver_digest
from services.digests import enqueue_send, schedule_due, unfinished
from services.runtime import Runtime

log = structlog.get_logger(__name__)
KIT = "digest_kit"


def now_of(ctx: dict[str, Any]) -> datetime:
    clock: Callable[[], datetime] = ctx.get("clock") or utcnow
    return clock()


def kit_of(ctx: dict[str, Any]) -> DigestKit:
    """The process's DigestKit (built at worker start-up; built here on first use otherwise)."""
    if KIT not in ctx:
        ctx[KIT] = build_kit(ctx["rt"])
    kit: DigestKit = ctx[KIT]
    return kit


async def digest_cron(ctx: dict[str, Any]) -> int:
    """Claim the digests that are due now and enqueue one send job each."""
    rt: Runtime = ctx["rt"]
    structlog.contextvars.clear_contextvars()
    claimed = await schedule_due(rt, now=now_of(ctx))
    for digest in claimed:
        if digest.status == DigestStatus.GENERATED:  # skipped ones had nothing new
            await enqueue_send(rt, digest)
    return len(claimed)


async def send_digest(ctx: dict[str, Any], digest_id: str) -> str:
    """Compose, render and deliver one digest; transient failures come back with back-off."""
    rt: Runtime = ctx["rt"]
    structlog.contextvars.clear_contextvars()
    try:
        outcome = await deliver_digest(rt, kit_of(ctx), digest_id, now=now_of(ctx))
    except (Retry, asyncio.CancelledError):
        raise
    except Exception as error:  # our own I/O failed (database): try again later
        log.exception("send_digest_error", error_type=type(error).__name__)
        tries = ctx.get("job_try", 1)
        if tries > rt.settings.digest_max_tries:
            raise
        raise Retry(defer=rt.settings.digest_retry_backoff_s * tries) from error
    if outcome.retry_in_s is not None:
        raise Retry(defer=outcome.retry_in_s)
    return outcome.status


async def recover_digests(rt: Runtime) -> None:
    """Re-enqueue digests that never ended (ids are fixed, so live jobs are not doubled)."""
    digests = await unfinished(rt, now=utcnow())
    for digest in digests:
        await enqueue_send(rt, digest)
    if digests:
        log.info("recovered_digests", count=len(digests))
