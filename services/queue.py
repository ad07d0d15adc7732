"""Queue names, job ids and enqueue helpers shared by every door and the worker."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from arq.connections import ArqRedis
from arq.jobs import Job, JobStatus

from services.analytics import Analytics, EventType

log = structlog.get_logger(__name__)

PARSE_EMAIL = "parse_email"
PROCESS_FILE = "process_file"
SEND_DIGEST = "send_digest"
DIGEST_CRON = "digest_cron"

# arq runs due jobs in the order of their score, the enqueue time. A file's job is scored this
# much earlier, so that it runs before the emails that arrived in the second before it: during a
# burst of mail the files already accepted keep the analysis processes busy, instead of waiting
# behind the parsing of every newer message. (arq's log notes a job as "delayed" only past 1.2 s.)
FILE_JOB_HEAD_START_S = 1.0


def process_file_job_id(file_id: str, generation: int = 0) -> str:
    """Derived from the file, so a duplicate enqueue of the same file runs once."""
    return (
        f"{PROCESS_FILE}:{file_id}" if generation == 0 else f"{PROCESS_FILE}:{file_id}:{generation}"
    )


def parse_email_job_id(message_id: str) -> str:
    return f"{PARSE_EMAIL}:{message_id}"


def send_digest_job_id(digest_id: str) -> str:
    return f"{SEND_DIGEST}:{digest_id}"


async def enqueue_once(
    redis: ArqRedis,
    analytics: Analytics,
    *,
    queue_name: str,
    function: str,
    job_id: str,
    args: tuple[Any, ...],
    event_ids: dict[str, str | None],
    defer_s: float = 0,
    head_start_s: float = 0,
) -> JobStatus | None:
    """Enqueue a job under a fixed id; a refused enqueue is logged as JOB_DEDUPED, never ignored.

    arq refuses an id while the job is queued, running, or its result is still kept. Returns
    None when a new job was queued, else the status of the job that holds the id.
    `head_start_s` queues the job ahead of those enqueued up to that many seconds before it.
    """
    ahead = datetime.now(UTC) - timedelta(seconds=head_start_s) if head_start_s else None
    job = await redis.enqueue_job(
        function,
        *args,
        _job_id=job_id,
        _queue_name=queue_name,
        _defer_by=defer_s or None,
        _defer_until=None if defer_s else ahead,
    )
    if job is not None:
        return None
    status: JobStatus = await Job(job_id, redis, _queue_name=queue_name).status()
    log.info("job_deduped", job_id=job_id, existing_status=status.value)
    analytics.log_event(
        EventType.JOB_DEDUPED,
        user_id=event_ids.get("user_id"),
        tenant_id=event_ids.get("tenant_id"),
        correlation_id=event_ids.get("correlation_id"),
        metadata={"job_id": job_id, "existing_status": status.value},
    )
    return status
