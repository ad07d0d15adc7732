"""IMAP fixtures: a real dovecot (one per session, a fresh user and mailbox per test) and the
real pipeline (the poller, intake and an arq worker in the test's event loop).

Dovecot is Debian's `dovecot-imapd` (`.ci/run` installs it). Without it these tests are skipped
with a note, unless CONTENTMIND_REQUIRE_DOVECOT=1 (CI), which makes that a failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import pytest
from sqlmodel import col, select

from mail.imap import ImapIngest, start_imap_ingest
from models import ImapFolderState, ImapProcessedMessage
from services.runtime import Runtime
from services.settings import ImapAccount, ImapSecurity
from tests.e2e.conftest import Pipeline
from tests.imap.dovecot import DOVECOT, Dovecot, MailboxClient, start_dovecot, stop_dovecot
from tests.optional_tools import DOVECOT_MISSING
from workers.pool import AnalysisPool
from workers.worker import worker_running

REQUIRE_DOVECOT = os.environ.get("CONTENTMIND_REQUIRE_DOVECOT") == "1"

# Small timings so that recovery is quick in tests; production defaults are in ImapAccount.
FAST = {
    "timeout_s": 5.0,
    "reconnect_backoff_s": 0.1,
    "reconnect_backoff_max_s": 0.5,
    "poll_interval_s": 0.5,
    "idle_timeout_s": 30.0,
    "auth_retry_s": 60.0,
}


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Dovecot]:
    """One private dovecot for the session, on a free port."""
    if DOVECOT is None:
        if REQUIRE_DOVECOT:
            pytest.fail(DOVECOT_MISSING + " but CONTENTMIND_REQUIRE_DOVECOT=1")
        pytest.skip(DOVECOT_MISSING)
    server = start_dovecot()
    yield server
    stop_dovecot(server)


@dataclass
class Mailbox:
    """A fresh dovecot user: its account settings and a plain IMAP client to fill it."""

    server: Dovecot
    username: str
    password: str

    @property
    def client(self) -> MailboxClient:
        return MailboxClient(self.server.port, self.username, self.password)

    def account(self, **overrides: Any) -> ImapAccount:
        values: dict[str, Any] = {
            "host": "127.0.0.1",
            "port": self.server.port,
            "security": ImapSecurity.PLAIN,
            "username": self.username,
            "password": self.password,
            **FAST,
        }
        values.update(overrides)
        return ImapAccount(**values)

    async def append(self, raw: bytes, folder: str = "INBOX", flags: str | None = None) -> None:
        await asyncio.to_thread(self.client.append, raw, folder, flags)

    async def messages(self, folder: str = "INBOX") -> dict[int, set[str]]:
        return await asyncio.to_thread(self.client.messages, folder)

    async def folders(self) -> list[str]:
        return await asyncio.to_thread(self.client.folders)


@pytest.fixture
def mailbox(dovecot: Dovecot) -> Iterator[Mailbox]:
    """A new user with an empty INBOX; its mail is deleted after the test."""
    username = f"u{uuid.uuid4().hex[:10]}"
    yield Mailbox(dovecot, username, dovecot.password)
    dovecot.remove_user(username)


@pytest.fixture
async def imap_pipeline(rt: Runtime, analysis_pool: AnalysisPool) -> AsyncIterator[Pipeline]:
    """The worker on real Redis and the test's database; tests start the poller themselves."""
    async with worker_running(rt.settings, rt.settings.redis_url or "", pool=analysis_pool):
        yield Pipeline(rt)


@contextlib.asynccontextmanager
async def ingest_running(rt: Runtime, accounts: Sequence[ImapAccount]) -> AsyncIterator[ImapIngest]:
    """The IMAP poller for `accounts` in this event loop for the duration of the block."""
    ingest = await start_imap_ingest(rt, accounts)
    try:
        yield ingest
    finally:
        await ingest.stop()


async def wait_until(
    check: Callable[[], Awaitable[object]] | Callable[[], object],
    *,
    timeout: float = 20.0,
    what: str = "condition",
) -> float:
    """Poll `check` until true; returns the seconds it took."""
    started = time.monotonic()
    while True:
        result = check()
        if isinstance(result, Awaitable):
            result = await result
        if result:
            return time.monotonic() - started
        if time.monotonic() - started > timeout:
            raise AssertionError(f"{what} not reached in {timeout} s")
        await asyncio.sleep(0.05)


async def wait_passes(ingest: ImapIngest, passes: int, *, timeout: float = 20.0) -> None:
    """Wait until every account completed at least `passes` passes over its folder."""
    await wait_until(
        lambda: all(status.passes >= passes for status in ingest.statuses),
        timeout=timeout,
        what=f"{passes} passes",
    )


async def processed(rt: Runtime) -> list[ImapProcessedMessage]:
    async with rt.sessions() as session:
        statement = select(ImapProcessedMessage).order_by(
            col(ImapProcessedMessage.uidvalidity), col(ImapProcessedMessage.uid)
        )
        return list((await session.exec(statement)).all())


async def folder_states(rt: Runtime) -> list[ImapFolderState]:
    async with rt.sessions() as session:
        return list((await session.exec(select(ImapFolderState))).all())


def require_tls(server: Dovecot) -> None:
    """TLS tests need the certificate openssl makes: a skip on a laptop, a failure in CI."""
    if server.cert_file is None or server.tls_port is None:
        message = "openssl is not installed: dovecot runs without TLS"
        if REQUIRE_DOVECOT:
            pytest.fail(message + " but CONTENTMIND_REQUIRE_DOVECOT=1")
        pytest.skip(message)
