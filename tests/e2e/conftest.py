"""The real path: SMTP ingest server and arq worker running in the test's event loop."""

from __future__ import annotations

import asyncio
import contextlib
import email
import smtplib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from email.message import EmailMessage, Message
from email.policy import SMTP as SMTP_POLICY
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import col, select

from mail.smtp import start_smtp_server
from models import AnalyticsEvent, FileRecord, FileStatus, InboundMessage, KnowledgeItem
from services.runtime import Runtime
from services.settings import Settings
from workers.pool import AnalysisPool
from workers.worker import worker_running

SENDER = "alice@acme.example"


@dataclass
class Pipeline:
    rt: Runtime

    @property
    def port(self) -> int:
        return self.rt.settings.smtp_port

    @property
    def ingest_address(self) -> str:
        return self.rt.settings.ingest_addresses[0]

    async def send(self, raw: bytes | EmailMessage, *, sender: str = SENDER) -> dict:
        """Deliver over a real SMTP session; returns smtplib's refused-recipients dict."""
        data = raw.as_bytes(policy=SMTP_POLICY) if isinstance(raw, EmailMessage) else raw
        return await asyncio.to_thread(_smtp_send, self.port, sender, self.ingest_address, data)

    async def messages(self) -> list[InboundMessage]:
        async with self.rt.sessions() as session:
            return list((await session.exec(select(InboundMessage))).all())

    async def files(self) -> list[FileRecord]:
        async with self.rt.sessions() as session:
            statement = select(FileRecord).order_by(
                col(FileRecord.created_at), col(FileRecord.external_id)
            )
            return list((await session.exec(statement)).all())

    async def items(self) -> list[KnowledgeItem]:
        async with self.rt.sessions() as session:
            return list((await session.exec(select(KnowledgeItem))).all())

    async def events(self, event_type: str | None = None) -> list[AnalyticsEvent]:
        return await written_events(self.rt, event_type)

    async def wait_done(self, *, messages: int = 1, timeout: float = 60.0) -> list[FileRecord]:
        """Wait until `messages` emails are parsed and every file is final and replied to."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            inbound = await self.messages()
            files = await self.files()
            parsed = [m for m in inbound if m.status != "received"]
            if (
                len(parsed) >= messages
                and all(FileStatus(f.status).is_final for f in files)
                and all(m.reply_sent_at is not None for m in parsed)
                and len(await self.events("REPLY_SENT")) >= len(parsed)
            ):
                return files
            await asyncio.sleep(0.1)
        states = [(f.original_filename, f.status) for f in await self.files()]
        raise AssertionError(f"not done in {timeout}s: {states}")

    def outbox(self) -> list[Message]:
        """Replies written to the local outbox, oldest first."""
        folder: Path = self.rt.settings.outbox_dir
        paths = (
            sorted(p for p in folder.glob("*.eml") if not p.name.startswith("."))
            if folder.exists()
            else []
        )
        return [email.message_from_bytes(p.read_bytes(), policy=default_policy) for p in paths]


def _smtp_send(port: int, sender: str, to: str, data: bytes) -> dict:
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
        return client.sendmail(sender, [to], data)


@pytest.fixture
async def pipeline(rt: Runtime, analysis_pool: AnalysisPool) -> AsyncIterator[Pipeline]:
    """SMTP ingest and one worker on real Redis and the test's database."""
    server = await start_smtp_server(rt)
    try:
        async with worker_running(rt.settings, rt.settings.redis_url or "", pool=analysis_pool):
            yield Pipeline(rt)
    finally:
        server.close()
        await server.wait_closed()


@contextlib.asynccontextmanager
async def pipeline_with(
    settings: Settings, pool: AnalysisPool, **overrides: Any
) -> AsyncIterator[Pipeline]:
    """Like the `pipeline` fixture, on a copy of `settings` with `overrides` (e.g. ocr_enabled).

    Use it inside a test (or a module's own fixture) that takes `settings` and `analysis_pool`
    instead of `pipeline`; several may run one after another on the same database and Redis.
    """
    changed = settings.model_copy(update=overrides)
    rt = await Runtime.open(changed, redis_url=changed.redis_url, migrate=False)
    try:
        server = await start_smtp_server(rt)
        try:
            async with worker_running(changed, changed.redis_url or "", pool=pool):
                yield Pipeline(rt)
        finally:
            server.close()
            await server.wait_closed()
    finally:
        await rt.close()


async def written_events(rt: Runtime, event_type: str | None = None) -> list[AnalyticsEvent]:
    """Events in order; waits a few flush intervals so the worker's buffer is written."""
    await asyncio.sleep(rt.settings.analytics_flush_interval_s * 4)
    await rt.analytics.flush()
    async with rt.sessions() as session:
        statement = select(AnalyticsEvent).order_by(col(AnalyticsEvent.id))
        if event_type:
            statement = statement.where(AnalyticsEvent.event_type == event_type)
        return list((await session.exec(statement)).all())
