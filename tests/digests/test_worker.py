"""The digest job in a real arq worker: the cron's claim is enqueued, the worker delivers it."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

from models.base import utcnow
from services.runtime import Runtime
from services.settings import Settings
from tests.digests.conftest import Factory, digests, events
from workers.digests import digest_cron
from workers.pool import AnalysisPool
from workers.worker import BACKSTOP_S, build_worker, worker_running


def test_only_scheduling_workers_run_the_digest_cron(settings: Settings) -> None:
    """`contentmind worker`/`up` build the worker with the cron; in-process helpers do not."""
    scheduled = build_worker(settings, settings.redis_url or "", schedule=True)
    plain = build_worker(settings, settings.redis_url or "")
    assert [job.name for job in scheduled.cron_jobs] == ["digest_cron"]
    assert plain.cron_jobs == []
    assert "send_digest" in scheduled.functions and "send_digest" in plain.functions
    # the cron must not stretch how long a crashed worker's job stays "in progress"
    assert scheduled.in_progress_timeout_s == plain.in_progress_timeout_s
    assert plain.in_progress_timeout_s == settings.job_timeout_s + BACKSTOP_S + 10


async def test_worker_sends_the_digest_the_cron_claimed(
    rt: Runtime, factory: Factory, analysis_pool: AnalysisPool
) -> None:
    """digest_cron enqueues send_digest; a running worker delivers it to the outbox, once."""
    now = utcnow()
    dana = await factory.user("dana@acme.example", hour=now.hour)
    await factory.item(dana, "Harbour survey", at=now - timedelta(minutes=30))
    assert await digest_cron({"rt": rt, "clock": lambda: now}) == 1

    async with worker_running(rt.settings, rt.settings.redis_url or "", pool=analysis_pool):
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and (await digests(rt))[0].status != "sent":
            await asyncio.sleep(0.1)
    [row] = await digests(rt)
    assert (row.status, row.attempts, row.item_count) == ("sent", 1, 1)
    assert len(list(rt.settings.outbox_dir.glob("*.eml"))) == 1
    [sent] = await events(rt, "DIGEST_SENT")
    assert sent.correlation_id == row.correlation_id and sent.event_metadata["via"] == "outbox"
