"""Case 024: a job that hangs stops at its bound and retries a bounded number of times; a file
whose earlier attempts never came back (crashed workers) ends as `worker_crash`.

The hang is genuine: the analysis calls a local LLM endpoint that holds the request, and the
LLM client's own timeout is longer than the job's, so only the per-file bound can stop it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from email.message import EmailMessage
from email.policy import SMTP

import pytest
from arq.jobs import Job, JobStatus
from sqlmodel import col, select

from models import AnalyticsEvent, FileRecord, FileSource, FileStatus, KnowledgeItem
from services.intake import NewFile, enqueue_file
from services.queue import process_file_job_id
from services.runtime import Runtime
from services.settings import Settings
from tests.e2e.conftest import SENDER, Pipeline
from tests.e2e.llm_server import TOKENS, HeldLLM, held_llm_server
from tests.factories.files import make_docx
from tests.factories.records import recorded_file
from workers.outcomes import save_status
from workers.pool import AnalysisPool
from workers.worker import BACKSTOP_S, worker_running

JOB_TIMEOUT_S = 2.0
MAX_TRIES = 2
HANG_WORD = "Quagmirex"  # the LLM endpoint never answers in time for a document with this word
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


@pytest.fixture
def llm() -> Iterator[HeldLLM]:
    with held_llm_server(hold=lambda document: HANG_WORD in document) as server:
        yield server


@pytest.fixture
def settings(settings: Settings, llm: HeldLLM) -> Settings:
    """Two tries of two seconds each; the LLM client would wait 30 s, far past the job bound."""
    return settings.model_copy(
        update={
            "job_timeout_s": JOB_TIMEOUT_S,
            "job_max_tries": MAX_TRIES,
            "llm_base_url": llm.base_url,
            "llm_timeout_s": 30.0,
        }
    )


def _hang_and_sibling(to: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = SENDER
    message["To"] = to
    message["Subject"] = "One that hangs, one that does not"
    message["Message-ID"] = "<case-024-hang@acme.example>"
    message.set_content("Two documents attached.")
    for filename, lines in (
        ("stuck.docx", ["Site survey", f"The {HANG_WORD} survey covers the east quay."]),
        ("fine.docx", ["Crane schedule", "The Brightwater crane is serviced on Mondays."]),
    ):
        message.add_attachment(
            make_docx(lines), maintype="application", subtype=DOCX.split("/")[1], filename=filename
        )
    return message


def _ordered(events: list[AnalyticsEvent], correlation_id: str) -> list[AnalyticsEvent]:
    mine = [e for e in events if e.correlation_id == correlation_id]
    return sorted(mine, key=lambda e: (e.created_at, e.id or 0))


def _seconds(later: AnalyticsEvent, earlier: AnalyticsEvent) -> float:
    return (later.created_at - earlier.created_at).total_seconds()


async def test_hang_stops_at_the_bound_retries_once_then_fails_as_timeout(
    pipeline: Pipeline, llm: HeldLLM
) -> None:
    """Each try stops at job_timeout_s; FILE_RETRYING then FILE_FAILED(timeout); sibling is fine."""
    # CRLF line ends, as on the wire (smtplib sends bytes as they are)
    await pipeline.send(_hang_and_sibling(pipeline.ingest_address).as_bytes(policy=SMTP))
    files = {f.original_filename: f for f in await pipeline.wait_done(timeout=30)}
    stuck, fine = files["stuck.docx"], files["fine.docx"]
    assert (stuck.status, stuck.reason, stuck.attempts) == ("failed", "timeout", MAX_TRIES)
    assert fine.status == "completed" and fine.attempts == 1, fine.reason
    [item] = await pipeline.items()
    assert item.file_id == fine.id and item.backend == "llm" and item.tokens_used == TOKENS

    events = await pipeline.events()
    steps = [
        (e.event_type, e.event_metadata.get("attempt"), e.event_metadata.get("reason"))
        for e in _ordered(events, stuck.correlation_id)
        if e.event_type != "FILE_RECEIVED"
    ]
    assert steps == [
        ("AGENT_STARTED", 1, None),
        ("FILE_RETRYING", 1, "timeout"),
        ("AGENT_STARTED", 2, None),
        ("FILE_FAILED", 2, "timeout"),
    ]
    started_1, retrying, started_2, failed = [
        e for e in _ordered(events, stuck.correlation_id) if e.event_type != "FILE_RECEIVED"
    ]
    for stopped, started in ((retrying, started_1), (failed, started_2)):
        took = _seconds(stopped, started)
        assert JOB_TIMEOUT_S - 0.1 <= took < JOB_TIMEOUT_S + BACKSTOP_S / 2, took

    await asyncio.sleep(1.5)  # several retry back-offs and worker polls: nothing runs again
    assert llm.received(HANG_WORD) == MAX_TRIES
    later = [e.event_type for e in _ordered(await pipeline.events(), stuck.correlation_id)]
    assert later.count("AGENT_STARTED") == MAX_TRIES
    redis = pipeline.rt.require_redis()
    queue = pipeline.rt.settings.queue_name
    assert await redis.zcard(queue) == 0
    job = Job(process_file_job_id(stuck.id), redis, _queue_name=queue)
    assert await job.status() == JobStatus.complete
    result = await job.result_info()
    assert result is not None and result.success and result.job_try == MAX_TRIES

    [reply] = pipeline.outbox()
    text = reply.get_body(("plain",)).get_content()
    assert "stuck.docx: could not be processed" in text
    assert "fine.docx: added to your knowledge base" in text


async def _crashed_record(rt: Runtime, tries: int) -> FileRecord:
    """A file as a worker SIGKILLed on its last allowed try leaves it: processing, tries used."""
    record, _ = await recorded_file(
        rt,
        SENDER,
        NewFile(
            data=make_docx(["Quay lights", "The Embermoor lights were replaced."]),
            filename="crashy.docx",
            declared_type=DOCX,
            external_id="case-024-crash:0",
        ),
        source=FileSource.EMAIL,
    )
    return await save_status(rt, record, status=FileStatus.PROCESSING, attempts=tries)


async def _final(rt: Runtime, file_id: str, timeout_s: float = 20) -> FileRecord:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        async with rt.sessions() as session:
            record = await session.get(FileRecord, file_id)
        assert record is not None
        if FileStatus(record.status).is_final:
            return record
        await asyncio.sleep(0.1)
    raise AssertionError(f"{file_id} not final in {timeout_s}s")


async def test_file_whose_tries_never_came_back_fails_as_worker_crash(
    rt: Runtime, analysis_pool: AnalysisPool, llm: HeldLLM
) -> None:
    """Tries used up by crashed workers → FILE_FAILED(worker_crash) with the attempt; no rerun."""
    record = await _crashed_record(rt, MAX_TRIES)
    assert await enqueue_file(rt, record)
    async with worker_running(rt.settings, rt.settings.redis_url or "", pool=analysis_pool):
        final = await _final(rt, record.id)
    assert (final.status, final.reason, final.attempts) == ("failed", "worker_crash", MAX_TRIES + 1)
    assert final.reason_message and "set aside" in final.reason_message

    await rt.analytics.flush()
    async with rt.sessions() as session:
        events = list(
            (
                await session.exec(
                    select(AnalyticsEvent).where(
                        AnalyticsEvent.correlation_id == record.correlation_id
                    )
                )
            ).all()
        )
        assert (await session.exec(select(KnowledgeItem))).all() == []
        assert (
            await session.exec(select(FileRecord).where(col(FileRecord.status) == "processing"))
        ).all() == []
    [failed] = [e for e in events if e.event_type == "FILE_FAILED"]
    assert failed.event_metadata["reason"] == "worker_crash"
    assert failed.event_metadata["attempt"] == MAX_TRIES + 1
    assert "AGENT_STARTED" not in [e.event_type for e in events]  # the analysis is not run again
    assert llm.received() == 0
