"""A worker process SIGKILLed in the middle of a job: another worker finishes the file.

The worker runs as its own `contentmind worker` process on the test's Redis and database. Its
job is held mid-flight by a local LLM endpoint that does not answer; the worker is then killed
like the OOM killer would (SIGKILL to the main process only), and a new worker picks the job up
once arq's in-progress key expires (about job_timeout_s + 15 s).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import col, select

from mail.smtp import start_smtp_server
from models import AnalyticsEvent, FileRecord, FileStatus, KnowledgeItem
from services.runtime import Runtime
from services.settings import Settings
from tests.e2e.conftest import SENDER, Pipeline
from tests.e2e.llm_server import TOKENS, HeldLLM, held_llm_server
from tests.e2e.processes import CommandProcess, settings_environment, wait_gone
from tests.factories.files import make_docx
from workers.worker import BACKSTOP_S

JOB_TIMEOUT_S = 5.0
ARQ_IN_PROGRESS_EXTRA_S = 10.0  # arq keeps a job's in-progress key for its timeout + 10 s
# the job's own bound, not any other function's: arq's timeout for it, plus the key's extra time
PICKUP_BOUND_S = JOB_TIMEOUT_S + BACKSTOP_S + ARQ_IN_PROGRESS_EXTRA_S

StartWorker = Callable[[str], CommandProcess]


@pytest.fixture
def llm() -> Iterator[HeldLLM]:
    """An LLM endpoint that holds every request until told to answer at once."""
    with held_llm_server(hold=lambda document: True) as server:
        yield server


@pytest.fixture
def settings(settings: Settings, llm: HeldLLM) -> Settings:
    """A short job bound; the LLM's own timeout is longer, so only a kill can stop the job."""
    return settings.model_copy(
        update={
            "job_timeout_s": JOB_TIMEOUT_S,
            "llm_base_url": llm.base_url,
            "llm_timeout_s": 60.0,
            "analysis_processes": 1,
            "log_format": "json",
        }
    )


@pytest.fixture
def start_worker(settings: Settings, tmp_path: Path) -> Iterator[StartWorker]:
    """Start `contentmind worker` processes; none of them or their children outlive the test."""
    started: list[CommandProcess] = []

    def start(name: str) -> CommandProcess:
        process = CommandProcess(
            ["worker"], settings_environment(settings), tmp_path, tmp_path / f"{name}.log"
        )
        started.append(process)
        return process

    yield start
    for process in started:
        process.cleanup()


@pytest.fixture
async def ingest(rt: Runtime) -> AsyncIterator[Pipeline]:
    """The SMTP ingest server in this process (the worker is a separate process)."""
    server = await start_smtp_server(rt)
    try:
        yield Pipeline(rt)
    finally:
        server.close()
        await server.wait_closed()


def _email(to: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = SENDER
    message["To"] = to
    message["Subject"] = "Crash drill"
    message["Message-ID"] = "<crash-drill-1@acme.example>"
    message.set_content("One document attached.")
    message.add_attachment(
        make_docx(["Evacuation drill", "The Thistlewick drill starts at the north stairwell."]),
        maintype="application",
        subtype="vnd.openxmlformats-officedocument.wordprocessingml.document",
        filename="drill.docx",
    )
    return message


async def _agent_started(rt: Runtime) -> list[AnalyticsEvent]:
    async with rt.sessions() as session:
        statement = (
            select(AnalyticsEvent)
            .where(AnalyticsEvent.event_type == "AGENT_STARTED")
            .order_by(col(AnalyticsEvent.created_at), col(AnalyticsEvent.id))
        )
        return list((await session.exec(statement)).all())


async def _until(
    check: Callable[[], object], timeout_s: float, what: str, worker: CommandProcess
) -> Any:
    """Poll `check` (sync or async) until it returns something truthy; returns that."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        worker.watch()
        await asyncio.sleep(0.1)
    raise AssertionError(f"{what} not within {timeout_s}s; worker log:\n{worker.output()}")


async def test_killed_worker_job_is_finished_by_the_next_worker(
    ingest: Pipeline, llm: HeldLLM, start_worker: StartWorker
) -> None:
    """SIGKILL mid-job: its analysis processes die too; a new worker completes the file once."""
    rt = ingest.rt
    first = start_worker("worker-1")
    assert await ingest.send(_email(ingest.ingest_address).as_bytes(policy=SMTP)) == {}
    await _until(lambda: llm.received() == 1, 60, "the analysis calling the LLM", first)
    await _until(lambda: _agent_started(rt), 10, "AGENT_STARTED", first)
    children = first.watch()
    assert len(children) >= 2, children  # the forkserver and the analysis process in the call

    first.kill()
    survivors = wait_gone(children, timeout_s=10)
    assert not survivors, f"analysis processes outlived the killed worker: {survivors}"
    [record] = await ingest.files()
    assert record.status == FileStatus.PROCESSING and record.attempts == 1

    llm.answer_at_once()
    second = start_worker("worker-2")
    [done] = await _until(
        lambda: _final_files(rt), PICKUP_BOUND_S + 30, "the file finishing", second
    )
    assert second.stop() == 0, second.output()
    assert not wait_gone(second.seen.values(), timeout_s=10), "worker-2 left processes behind"

    assert done.status == FileStatus.COMPLETED, (done.reason, second.output())
    assert done.attempts == 2
    async with rt.sessions() as session:
        assert (
            await session.exec(select(FileRecord).where(FileRecord.status == "processing"))
        ).all() == []
        [item] = (await session.exec(select(KnowledgeItem))).all()
    assert item.id == done.knowledge_id
    assert item.backend == "llm" and item.tokens_used == TOKENS
    assert llm.received() == 2  # one call per attempt: the killed one never came back

    events = sorted(
        (e for e in await ingest.events() if e.correlation_id == done.correlation_id),
        key=lambda e: (e.created_at, e.id or 0),
    )
    started = [e for e in events if e.event_type == "AGENT_STARTED"]
    assert [e.event_metadata["attempt"] for e in started] == [1, 2]
    pickup_s = (started[1].created_at - started[0].created_at).total_seconds()
    assert pickup_s < PICKUP_BOUND_S + 3, pickup_s  # 3 s: polling and the new worker's start
    kinds = [e.event_type for e in events]
    assert kinds.count("FILE_PROCESSED") == 1 and "FILE_FAILED" not in kinds
    [reply] = ingest.outbox()
    assert "drill.docx: added to your knowledge base" in reply.get_body(("plain",)).get_content()


async def _final_files(rt: Runtime) -> list[FileRecord] | None:
    async with rt.sessions() as session:
        files = list((await session.exec(select(FileRecord))).all())
    return files if files and all(FileStatus(f.status).is_final for f in files) else None
