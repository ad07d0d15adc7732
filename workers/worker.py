"""The arq worker: job functions, their limits, and the clients they share (built at start-up)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import structlog
from arq import Worker
from arq.connections import RedisSettings
from arq.cron import CronJob, cron
from arq.worker import func
from sqlmodel import col, select

from bot.keys import FETCH_SLACK_FILE, SLACK_COMMAND
from models import FileRecord, FileStatus, InboundMessage, MessageStatus
from services.digest_delivery import build_kit
from services.intake import enqueue_file, enqueue_parse
from services.queue import DIGEST_CRON, PARSE_EMAIL, PROCESS_FILE, SEND_DIGEST
from services.runtime import Runtime
from services.settings import Settings
from workers.digests import KIT, digest_cron, recover_digests, send_digest
from workers.parse_email import parse_email
from workers.pool import AnalysisPool
from workers.process_file import process_file
from workers.slack_commands import slack_command
from workers.slack_files import fetch_slack_file

log = structlog.get_logger(__name__)

# arq's own timeout is a backstop a little past the analysis bound the job enforces itself.
BACKSTOP_S = 5.0
# How long a stopping worker lets its running jobs finish before it cancels them.
STOP_GRACE_S = 3.0


class ContentMindWorker(Worker):
    """arq's Worker, polling again as soon as a job ends, and not asking Redis about the jobs it
    is running itself.

    arq polls every `poll_delay`: a job queued by the job before it (parse_email queues
    process_file) or waiting for the slot a job just freed sat idle until the next poll, 10 ms on
    average at the default delay. This worker waits out the delay itself and starts the next poll
    the moment one of its jobs ends (arq's loop is given a delay of 0, so it adds none).

    A running job stays among the queue's due ids until it ends, and every poll with a free slot
    reads them again: arq's own Worker checks each one against Redis (WATCH, EXISTS, ZSCORE,
    UNWATCH) before it skips it. During a burst of mail that was a quarter of the worker's Redis
    commands. A job that another worker runs is still checked and skipped as before.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.idle_wait_s, self.poll_delay_s = self.poll_delay_s, 0.0
        self._job_ended = asyncio.Event()

    async def _poll_iteration(self) -> None:
        self._job_ended.clear()
        await super()._poll_iteration()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._job_ended.wait(), self.idle_wait_s)

    def _release_sem_dec_counter_on_complete(self) -> None:
        super()._release_sem_dec_counter_on_complete()
        self._job_ended.set()

    async def start_jobs(self, job_ids: list[bytes]) -> None:
        running = {job_id for job_id, task in self.tasks.items() if not task.done()}
        await super().start_jobs([job_id for job_id in job_ids if job_id.decode() not in running])


def build_worker(
    settings: Settings,
    redis_url: str,
    *,
    handle_signals: bool = True,
    burst: bool = False,
    pool: AnalysisPool | None = None,
    schedule: bool = False,
) -> Worker:
    """An arq Worker whose jobs share one Runtime and one analysis pool via ctx.

    A caller may lend its own `pool` (kept open after the worker stops), e.g. tests.
    `schedule` adds the digest cron (long-running workers: `contentmind worker`, `up`).
    """

    async def startup(ctx: dict[str, Any]) -> None:
        rt = await Runtime.open(settings, redis_url=redis_url)
        ctx["rt"] = rt
        ctx["pool"] = pool or AnalysisPool(
            settings.analysis_processes,
            memory_limit_bytes=settings.analysis_memory_limit_mb * 1024 * 1024,
            preload=["agents.pipeline"],
        )
        await ctx["pool"].warm_up()
        ctx[KIT] = build_kit(rt)
        await recover_unfinished(rt)
        if schedule:
            await recover_digests(rt)

    async def shutdown(ctx: dict[str, Any]) -> None:
        if "pool" in ctx and pool is None:
            ctx["pool"].shutdown()
        if "rt" in ctx:
            await ctx["rt"].close()

    timeout = settings.job_timeout_s + BACKSTOP_S
    return ContentMindWorker(
        functions=[
            func(
                process_file,
                name=PROCESS_FILE,
                timeout=timeout,
                max_tries=settings.job_max_tries + 1,
            ),
            func(parse_email, name=PARSE_EMAIL, timeout=timeout, max_tries=settings.job_max_tries),
            func(
                fetch_slack_file,
                name=FETCH_SLACK_FILE,
                timeout=timeout,
                max_tries=settings.job_max_tries + 1,
            ),
            func(
                slack_command,
                name=SLACK_COMMAND,
                timeout=timeout,
                max_tries=settings.digest_max_tries + 1,
            ),
            func(
                send_digest,
                name=SEND_DIGEST,
                timeout=timeout,
                max_tries=settings.digest_max_tries + 3,  # our own attempt count ends it first
            ),
        ],
        cron_jobs=[digest_schedule(settings, timeout)] if schedule else None,
        redis_settings=RedisSettings.from_dsn(redis_url),
        queue_name=settings.queue_name,
        on_startup=startup,
        on_shutdown=shutdown,
        max_jobs=settings.worker_concurrency,
        keep_result=settings.keep_result_s,
        handle_signals=handle_signals,
        burst=burst,
        poll_delay=settings.worker_poll_delay_s,
    )


def digest_schedule(settings: Settings, timeout: float) -> CronJob:
    """The digest cron: every `digest_cron_minutes` (unique per slot; the database decides).

    Its timeout is the other jobs' one: arq keeps every job's in-progress key for the longest
    function timeout (+ 10 s), so a cron left at arq's default (300 s) would keep a crashed
    worker's job from being picked up for five minutes.
    """
    step = max(1, min(settings.digest_cron_minutes, 60))
    minutes = set(range(0, 60, step))
    return cron(digest_cron, name=DIGEST_CRON, minute=minutes, second=0, timeout=timeout)


async def recover_unfinished(rt: Runtime) -> None:
    """Re-enqueue work whose enqueue was lost (ids are fixed, so live jobs are not doubled)."""
    async with rt.sessions() as session:
        messages = (
            await session.exec(
                select(InboundMessage).where(InboundMessage.status == MessageStatus.RECEIVED)
            )
        ).all()
        files = (
            await session.exec(
                select(FileRecord).where(
                    col(FileRecord.status).in_([FileStatus.PENDING, FileStatus.PROCESSING])
                )
            )
        ).all()
    for message in messages:
        await enqueue_parse(rt, message)
    for record in files:
        await enqueue_file(rt, record)
    if messages or files:
        log.info("recovered_unfinished", messages=len(messages), files=len(files))


@contextlib.asynccontextmanager
async def worker_running(
    settings: Settings, redis_url: str, *, pool: AnalysisPool | None = None
) -> AsyncIterator[None]:
    """An arq worker in this event loop for the duration of the block."""
    worker = build_worker(settings, redis_url, handle_signals=False, pool=pool)
    task = asyncio.create_task(worker.async_run())
    reason = "interrupted"
    try:
        yield
        reason = "done"
    finally:
        await stop_worker(worker, task, reason=reason)


class _CloseCallsItSigusr1(logging.Filter):
    """arq's Worker.close(), on a worker without signal handlers of its own (ours: the process
    handles the signals and stops it), logs "shutdown on SIGUSR1", a signal nobody sent. This
    drops that line; stop_worker logs `worker_stopped` with the real reason instead."""

    def filter(self, record: logging.LogRecord) -> bool:
        fake = str(record.msg).startswith("shutdown on %s") and record.args
        return not (fake and isinstance(record.args, tuple) and record.args[0] == "SIGUSR1")


_CLOSE_LINE = _CloseCallsItSigusr1()


async def stop_worker(
    worker: Worker, run_task: asyncio.Task[None], *, reason: str, grace_s: float = STOP_GRACE_S
) -> None:
    """Stop a worker started with async_run(): no new jobs, the running ones get `grace_s` to
    finish, the rest are cancelled (arq runs them again later), then the shutdown hooks run.
    `reason` (the signal's name, or `done`) is logged with the job counts as `worker_stopped`.

    arq's close() alone cancels running jobs at once, and a cancellation that lands while a job
    stores its result escapes close(): on_shutdown is skipped and the process exits with an error.
    """
    worker.allow_pick_jobs = False
    cancelled = await _finish_running_jobs(worker, grace_s)
    arq_log = logging.getLogger("arq.worker")
    arq_log.addFilter(_CLOSE_LINE)  # close() logs that line before its first await
    try:
        await worker.close()
    finally:
        arq_log.removeFilter(_CLOSE_LINE)
    run_task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await run_task
    log.info(
        "worker_stopped", reason=reason, jobs_complete=worker.jobs_complete,
        jobs_failed=worker.jobs_failed, jobs_retried=worker.jobs_retried, jobs_cancelled=cancelled,
    )  # fmt: skip


async def _finish_running_jobs(worker: Worker, grace_s: float) -> int:
    """Give the running jobs `grace_s` to finish, cancel the rest; returns how many were."""
    running = [job for job in worker.tasks.values() if not job.done()]
    late: set[asyncio.Future[None]] = set()
    if running:
        _, late = await asyncio.wait(running, timeout=grace_s)
        for job in late:
            job.cancel()
        if late:
            await asyncio.wait(late)
    for job_id, job in list(worker.tasks.items()):
        if job.done():  # as arq's own poll loop does; close() would re-raise their cancellation
            del worker.tasks[job_id]
    return len(late)
