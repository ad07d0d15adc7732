"""The worker's polling: its own running jobs cost no Redis round trips; other workers' still do."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis as redis_sync
from arq import create_pool
from arq.connections import RedisSettings
from arq.worker import func

from services.local_redis import LocalRedis
from workers.worker import ContentMindWorker, stop_worker


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[str]:
    """A Redis server of this test's own: its command counts are this test's alone."""
    with LocalRedis(tmp_path / "redis") as local:
        yield local.url


def watch_calls(url: str) -> int:
    client = redis_sync.Redis.from_url(url)
    try:
        stats: dict[str, Any] = client.info("commandstats")
        return int(stats.get("cmdstat_watch", {}).get("calls", 0))
    finally:
        client.close()


async def test_a_running_job_is_not_checked_again_on_every_poll(private_redis: str) -> None:
    started, release = asyncio.Event(), asyncio.Event()

    async def slow(ctx: dict[str, Any]) -> str:
        started.set()
        await release.wait()
        return "done"

    settings = RedisSettings.from_dsn(private_redis)
    worker = ContentMindWorker(
        functions=[func(slow, name="slow")],
        redis_settings=settings,
        queue_name="polling",
        max_jobs=4,  # free slots: the worker keeps polling while the job runs
        poll_delay=0.01,
        handle_signals=False,
    )
    queue = await create_pool(settings, default_queue_name="polling")
    run = asyncio.create_task(worker.async_run())
    try:
        await queue.enqueue_job("slow", _job_id="slow:1")
        await asyncio.wait_for(started.wait(), 5)
        before = watch_calls(private_redis)
        await asyncio.sleep(0.5)  # ~50 polls, each of which reads the running job's id again
        assert watch_calls(private_redis) - before == 0

        # a job that another worker holds (its in-progress key is set) is still checked and left
        await queue.set("arq:in-progress:elsewhere:1", b"1")
        await queue.enqueue_job("slow", _job_id="elsewhere:1")
        await asyncio.sleep(0.1)
        assert watch_calls(private_redis) - before > 0
        assert "elsewhere:1" not in worker.tasks
    finally:
        release.set()
        await stop_worker(worker, run, reason="done")
        await queue.aclose()


async def test_a_job_queued_by_the_job_before_it_starts_without_waiting_for_the_next_poll(
    private_redis: str,
) -> None:
    """parse_email queues process_file and ends: the worker polls again at once, not after
    `poll_delay` (here far longer than the whole test is allowed to take)."""
    moments: dict[str, float] = {}
    second_ran = asyncio.Event()

    async def first(ctx: dict[str, Any]) -> None:
        await ctx["redis"].enqueue_job("second", _job_id="second:1", _queue_name="chain")
        moments["first_ended"] = asyncio.get_running_loop().time()

    async def second(ctx: dict[str, Any]) -> None:
        moments["second_started"] = asyncio.get_running_loop().time()
        second_ran.set()

    settings = RedisSettings.from_dsn(private_redis)
    queue = await create_pool(settings, default_queue_name="chain")
    await queue.enqueue_job("first", _job_id="first:1")  # due at the worker's first poll
    worker = ContentMindWorker(
        functions=[func(first, name="first"), func(second, name="second")],
        redis_settings=settings,
        queue_name="chain",
        poll_delay=30,
        handle_signals=False,
    )
    run = asyncio.create_task(worker.async_run())
    try:
        await asyncio.wait_for(second_ran.wait(), 10)
        assert moments["second_started"] - moments["first_ended"] < 5
        assert worker.idle_wait_s == 30  # an idle worker still polls at the configured pace
    finally:
        await stop_worker(worker, run, reason="done")
        await queue.aclose()
