"""Order of the job queue: a file's job runs before the mail that arrived just before it."""

from __future__ import annotations

import time

from services.intake import NewFile, enqueue_file, receive_email
from services.queue import (
    FILE_JOB_HEAD_START_S,
    enqueue_once,
    parse_email_job_id,
    process_file_job_id,
)
from services.runtime import Runtime
from tests.factories.emails import build_email
from tests.factories.files import make_pdf
from tests.factories.records import recorded_file

SENDER = "ana@acme.example"


async def test_file_job_is_due_before_the_emails_queued_just_before_it(rt: Runtime) -> None:
    redis = rt.require_redis()
    raw = build_email(
        SENDER,
        "files@ingest.test",
        "Notes",
        "See attached.",
        [("notes.txt", "text/plain", b"Notes.")],
    )
    receipt = await receive_email(rt, raw, envelope_from=SENDER, channel="smtp")
    record, created = await recorded_file(
        rt, SENDER, NewFile(data=make_pdf(["Travel policy"]), filename="policy.pdf")
    )
    assert created and await enqueue_file(rt, record)

    # what an arq worker reads on its next poll: the due jobs, lowest score first
    now_ms = time.time() * 1000
    due = await redis.zrangebyscore(rt.settings.queue_name, "-inf", now_ms, withscores=True)
    assert [job_id.decode() for job_id, _score in due] == [
        process_file_job_id(record.id),
        parse_email_job_id(receipt.message.id),
    ]
    file_score = dict(due)[process_file_job_id(record.id).encode()]
    assert now_ms - 1000 * FILE_JOB_HEAD_START_S - 2000 < file_score < now_ms  # due at once


async def test_a_retry_defer_still_defers_the_job(rt: Runtime) -> None:
    """A deferred enqueue keeps its delay; the head start applies to jobs due now."""
    redis = rt.require_redis()
    await enqueue_once(
        redis,
        rt.analytics,
        queue_name=rt.settings.queue_name,
        function="process_file",
        job_id="process_file:later",
        args=("later",),
        event_ids={},
        defer_s=30,
        head_start_s=FILE_JOB_HEAD_START_S,
    )
    [(job_id, score)] = await redis.zrange(rt.settings.queue_name, 0, -1, withscores=True)
    assert job_id == b"process_file:later"
    assert score > time.time() * 1000 + 25_000
