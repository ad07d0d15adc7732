"""Digest test helpers: users and items with chosen times, a real SMTP relay, event reads."""

from __future__ import annotations

import asyncio
import email
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import default as default_policy
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import Envelope, Session
from sqlmodel import col, select

from models import AnalyticsEvent, Digest, FileRecord, FileStatus, KnowledgeItem, Tenant, User
from models.base import new_id
from services.digest_delivery import DigestKit, build_kit
from services.knowledge import add_item
from services.runtime import Runtime
from services.settings import Settings

LONG_AGO = datetime(2020, 1, 1, tzinfo=UTC)


@dataclass
class Factory:
    """Rows for one test, with the times the test chooses."""

    rt: Runtime
    _tenants: dict[str, str] = field(default_factory=dict)

    async def user(
        self,
        address: str,
        *,
        timezone: str = "UTC",
        hour: int = 8,
        minute: int = 0,
        weekdays_only: bool = False,
        channel: str = "email",
        enabled: bool = True,
        created_at: datetime = LONG_AGO,
    ) -> User:
        domain = address.rpartition("@")[2]
        async with self.rt.sessions() as session:
            if domain not in self._tenants:
                statement = select(Tenant).where(Tenant.email_domain == domain)
                tenant = (await session.exec(statement)).first()
                if tenant is None:
                    tenant = Tenant(name=domain, email_domain=domain)
                    session.add(tenant)
                    await session.flush()
                self._tenants[domain] = tenant.id
            user = User(
                tenant_id=self._tenants[domain], email=address, timezone=timezone,
                digest_hour=hour, digest_minute=minute, digest_weekdays_only=weekdays_only,
                digest_channel=channel, digest_enabled=enabled, created_at=created_at,
                slack_user_id=f"U{new_id()[:8].upper()}",
            )  # fmt: skip
            session.add(user)
            await session.commit()
            return user

    async def item(
        self,
        user: User,
        title: str,
        *,
        at: datetime,
        summary: str = "",
        key_points: list[str] | None = None,
        keywords: list[str] | None = None,
        source: str = "email",
        filename: str | None = None,
    ) -> KnowledgeItem:
        """A knowledge item (and its completed file) created at `at`."""
        record = await self._file(user, filename or f"{title}.pdf", at, FileStatus.COMPLETED)
        item = KnowledgeItem(
            tenant_id=user.tenant_id, user_id=user.id, file_id=record.id, sha256=new_id() * 2,
            title=title, summary=summary or f"About {title}.", key_points=key_points or [],
            keywords=keywords or [], full_text=f"{title}. {summary}", token_count=120,
            source=source, original_filename=record.original_filename, created_at=at,
        )  # fmt: skip
        async with self.rt.sessions() as session:
            await add_item(session, item)
            await session.commit()
        return item

    async def failed_file(
        self,
        user: User,
        filename: str,
        *,
        at: datetime,
        reason: str,
        message: str,
        sha256: str | None = None,
    ) -> FileRecord:
        return await self._file(user, filename, at, FileStatus.FAILED, reason, message, sha256)

    async def _file(
        self,
        user: User,
        filename: str,
        at: datetime,
        status: FileStatus,
        reason: str | None = None,
        message: str | None = None,
        sha256: str | None = None,
    ) -> FileRecord:
        record = FileRecord(
            tenant_id=user.tenant_id, user_id=user.id, source="email", original_filename=filename,
            sha256=sha256 or new_id() * 2, status=status, reason=reason, reason_message=message,
            correlation_id=new_id(), created_at=at, updated_at=at, completed_at=at,
        )  # fmt: skip
        async with self.rt.sessions() as session:
            session.add(record)
            await session.commit()
        return record


@pytest.fixture
def factory(rt: Runtime) -> Factory:
    return Factory(rt)


@pytest.fixture
def kit(rt: Runtime) -> DigestKit:
    return build_kit(rt)


async def events(rt: Runtime, event_type: str | None = None) -> list[AnalyticsEvent]:
    """Every event written so far (the buffer flushed first), oldest first."""
    await rt.analytics.flush()
    async with rt.sessions() as session:
        statement = select(AnalyticsEvent).order_by(col(AnalyticsEvent.id))
        if event_type:
            statement = statement.where(AnalyticsEvent.event_type == event_type)
        return list((await session.exec(statement)).all())


async def digests(rt: Runtime) -> list[Digest]:
    async with rt.sessions() as session:
        statement = select(Digest).order_by(col(Digest.created_at), col(Digest.id))
        return list((await session.exec(statement)).all())


@dataclass
class Relay:
    """A plain aiosmtpd handler: DATA answered from `script` first, then 250 (message kept)."""

    port: int = 0
    script: list[str] = field(default_factory=list)
    received: list[EmailMessage] = field(default_factory=list)
    raw: list[bytes] = field(default_factory=list)  # the DATA as it came over the wire
    data_commands: int = 0

    async def handle_DATA(self, server: SMTPServer, session: Session, envelope: Envelope) -> str:
        self.data_commands += 1
        if self.script:
            return self.script.pop(0)
        content = envelope.content if isinstance(envelope.content, bytes) else b""
        parsed = email.message_from_bytes(content, policy=default_policy)
        assert isinstance(parsed, EmailMessage)
        self.received.append(parsed)
        self.raw.append(content)
        return "250 2.0.0 OK"


@pytest.fixture
async def relay() -> AsyncIterator[Relay]:
    """A real SMTP server on a free port in this event loop."""
    handler = Relay()
    server = await asyncio.get_running_loop().create_server(
        lambda: SMTPServer(handler, hostname="relay.test"), host="127.0.0.1", port=0
    )
    handler.port = server.sockets[0].getsockname()[1]
    yield handler
    server.close()
    await server.wait_closed()


RuntimeFactory = Callable[..., Any]


@pytest.fixture
async def runtime_with(settings: Settings) -> AsyncIterator[RuntimeFactory]:
    """Open more Runtimes on the test's database and Redis, with settings overrides."""
    opened: list[Runtime] = []

    async def open_runtime(**overrides: Any) -> Runtime:
        changed = settings.model_copy(update=overrides)
        runtime = await Runtime.open(changed, redis_url=changed.redis_url, migrate=False)
        opened.append(runtime)
        return runtime

    yield open_runtime
    for runtime in reversed(opened):
        await runtime.close()
