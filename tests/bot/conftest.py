"""The Slack bot on the real path: a local fake of Slack, the API server with /slack/events
(uvicorn), real signed HTTP requests, Redis, the database and an arq worker in this loop."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from pydantic import SecretStr
from slack_sdk.signature import SignatureVerifier
from sqlmodel import col, select

from api import health, items
from api.server import start_api
from bot.server import slack_routes
from models import AnalyticsEvent, FileRecord, FileStatus, KnowledgeItem, Tenant, User
from services.runtime import Runtime
from services.settings import Settings
from tests.bot.fake_slack import BOT_TOKEN, TEAM_ID, FakeFile, FakeSlack
from tests.e2e.conftest import written_events
from workers.pool import AnalysisPool
from workers.worker import worker_running

SIGNING_SECRET = "test-signing-secret-0123456789"
USER = "U000FAKE1"
CHANNEL = "C000FAKE1"
TEAM_2 = "T000TEAM2"
USER_2 = "U000TEAM2"
_ts = itertools.count(1)


def next_ts() -> str:
    return f"1709626{next(_ts):03d}.000100"


def slack_settings(settings: Settings, slack: FakeSlack, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "slack_bot_token": SecretStr(BOT_TOKEN),
        "slack_signing_secret": SecretStr(SIGNING_SECRET),
        "slack_api_base_url": slack.api_url,
        "public_base_url": "http://contentmind.test",
        "slack_file_shared_delay_s": 0.5,
        **overrides,
    }
    return settings.model_copy(update=values)


def sign(body: str, timestamp: int, secret: str = SIGNING_SECRET) -> str:
    signature = SignatureVerifier(secret).generate_signature(timestamp=str(timestamp), body=body)
    assert signature is not None
    return signature


def message_event(
    files: list[dict[str, Any]],
    *,
    event_id: str,
    user: str = USER,
    team: str = TEAM_ID,
    channel: str = CHANNEL,
    channel_type: str = "channel",
    ts: str | None = None,
    thread_ts: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    ts = ts or next_ts()
    event: dict[str, Any] = {
        "type": "message", "subtype": "file_share", "text": "sharing a file", "user": user,
        "channel": channel, "channel_type": channel_type, "ts": ts, "event_ts": ts,
        "files": files,
    }  # fmt: skip
    if thread_ts:
        event["thread_ts"] = thread_ts
    return {"token": "fake-verification-token", "team_id": team, "api_app_id": "A000FAKE1",
            "event": event, "type": "event_callback", "event_id": event_id,
            "event_time": int(float(ts)), **extra}  # fmt: skip


def file_shared_event(file_id: str, *, event_id: str, channel: str = CHANNEL,
                      user: str = USER) -> dict[str, Any]:  # fmt: skip
    return {"token": "fake-verification-token", "team_id": TEAM_ID, "api_app_id": "A000FAKE1",
            "event": {"type": "file_shared", "channel_id": channel, "file_id": file_id,
                      "user_id": user, "file": {"id": file_id}, "event_ts": next_ts()},
            "type": "event_callback", "event_id": event_id, "event_time": 1709626500}  # fmt: skip


@dataclass
class Bot:
    rt: Runtime
    slack: FakeSlack
    url: str
    http: httpx.AsyncClient
    timings: list[float] = field(default_factory=list)

    async def post(self, path: str, body: str, content_type: str, *, timestamp: int | None = None,
                   secret: str = SIGNING_SECRET, headers: dict[str, str] | None = None
                   ) -> httpx.Response:  # fmt: skip
        """A signed request, as Slack sends it; its answer time is kept in `timings`."""
        stamp = int(time.time()) if timestamp is None else timestamp
        sent = {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": str(stamp),
            "X-Slack-Signature": sign(body, stamp, secret),
            **(headers or {}),
        }
        started = time.perf_counter()
        response = await self.http.post(self.url + path, content=body, headers=sent)
        self.timings.append(time.perf_counter() - started)
        return response

    async def event(
        self,
        payload: dict[str, Any],
        *,
        retry_num: int | None = None,
        retry_reason: str = "http_timeout",
        **kwargs: Any,
    ) -> httpx.Response:
        headers = kwargs.pop("headers", {})
        if retry_num is not None:
            headers = {**headers, "X-Slack-Retry-Num": str(retry_num),
                       "X-Slack-Retry-Reason": retry_reason}  # fmt: skip
        return await self.post("/slack/events", json.dumps(payload), "application/json",
                               headers=headers, **kwargs)  # fmt: skip

    async def command(self, command: str, text: str = "", *, user: str = USER,
                      team: str = TEAM_ID, channel: str = CHANNEL, path: str = "/slack/events",
                      response: str = "fake") -> httpx.Response:  # fmt: skip
        form = {
            "token": "fake-verification-token", "team_id": team, "team_domain": "example",
            "channel_id": channel, "channel_name": "general", "user_id": user,
            "user_name": "dana", "command": command, "text": text, "api_app_id": "A000FAKE1",
            "response_url": self.slack.response_url(response), "trigger_id": "000.000.fakefake",
        }  # fmt: skip
        return await self.post(path, urlencode(form), "application/x-www-form-urlencoded")

    async def files(self) -> list[FileRecord]:
        async with self.rt.sessions() as session:
            statement = select(FileRecord).order_by(col(FileRecord.created_at))
            return list((await session.exec(statement)).all())

    async def items(self) -> list[KnowledgeItem]:
        async with self.rt.sessions() as session:
            return list((await session.exec(select(KnowledgeItem))).all())

    async def users(self) -> list[User]:
        async with self.rt.sessions() as session:
            return list((await session.exec(select(User))).all())

    async def tenants(self) -> list[Tenant]:
        async with self.rt.sessions() as session:
            return list((await session.exec(select(Tenant))).all())

    async def events(self, event_type: str | None = None) -> list[AnalyticsEvent]:
        return await written_events(self.rt, event_type)

    async def wait_events(
        self, event_type: str, count: int = 1, *, timeout: float = 60.0
    ) -> list[AnalyticsEvent]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = await self.events(event_type)
            if len(found) >= count:
                return found
        raise AssertionError(f"{count} {event_type} not seen in {timeout}s")

    async def wait_final(self, count: int, *, timeout: float = 60.0) -> list[FileRecord]:
        """Wait until `count` files are final and the thread replies for them are posted."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            files = await self.files()
            final = [f for f in files if FileStatus(f.status).is_final]
            if len(final) >= count and len(await self.events("REPLY_SENT")) >= count:
                return files
            await asyncio.sleep(0.1)
        state = [(f.original_filename, f.status) for f in await self.files()]
        raise AssertionError(f"not final in {timeout}s: {state}")

    def share(self, file: FakeFile) -> dict[str, Any]:
        """The file object of a message event (as Slack sends it for a normal upload)."""
        return self.slack.file_object(file)


@pytest.fixture
async def fake_slack() -> AsyncIterator[FakeSlack]:
    slack = FakeSlack()
    await slack.start()
    slack.add_user(USER, email="dana@example.com")
    slack.add_user("U000FAKE2", email="lee@example.com")
    slack.add_user(USER_2, email="ola@other.example", team_id=TEAM_2)
    yield slack
    await slack.stop()


@contextlib.asynccontextmanager
async def running_bot(
    settings: Settings, slack: FakeSlack, pool: AnalysisPool, **overrides: Any
) -> AsyncIterator[Bot]:
    """The API server with the Slack routes on a free port, and one worker, for one block."""
    changed = slack_settings(settings, slack, **overrides)
    # The pool's first use starts its fork server, which blocks this loop for seconds: do it
    # before the server runs, so no request waits on it (as in production, where it is warm).
    await pool.warm_up()
    rt = await Runtime.open(changed, redis_url=changed.redis_url, migrate=False)
    try:
        server = await start_api(rt, host="127.0.0.1", port=0,
                                 routers=[health.routes, items.routes, slack_routes])  # fmt: skip
        host, port = server.address
        try:
            async with (
                worker_running(changed, changed.redis_url or "", pool=pool),
                httpx.AsyncClient(timeout=30) as http,
            ):
                yield Bot(rt, slack, f"http://{host}:{port}", http)
        finally:
            await server.stop()
    finally:
        await rt.close()


@pytest.fixture
async def bot(
    settings: Settings, fake_slack: FakeSlack, analysis_pool: AnalysisPool
) -> AsyncIterator[Bot]:
    """The bot in HTTP mode with a worker, on the test's database and Redis."""
    async with running_bot(settings, fake_slack, analysis_pool) as running:
        yield running
