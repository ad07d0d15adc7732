"""Shared fixtures: real databases (SQLite and PostgreSQL), real Redis, a real runtime.

Every test that takes `db_url` runs once per database. PostgreSQL is expected at
CONTENTMIND_TEST_POSTGRES_URL (default: the local server's `test` database); when it cannot be
reached those runs are removed and the summary says so plainly — unless
CONTENTMIND_REQUIRE_POSTGRES=1 (CI), which turns that into a failure. Redis is
CONTENTMIND_TEST_REDIS_URL when set, else a local server the suite starts itself. Tests that
need a program this machine lacks (dovecot, tesseract) are skipped, and the summary ends with a
note for each (see tests/optional_tools.py).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis as redis_sync
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from services.db import migrate
from services.local_redis import LocalRedis
from services.runtime import Runtime
from services.settings import Settings, normalize_database_url
from tests.optional_tools import missing_tool_notes
from workers.pool import AnalysisPool

os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

PG_ADMIN_URL = normalize_database_url(
    os.environ.get("CONTENTMIND_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
)
REQUIRE_PG = os.environ.get("CONTENTMIND_REQUIRE_POSTGRES") == "1"
_pg_problem: list[str] = []


def _postgres_reachable() -> str | None:
    host_port = PG_ADMIN_URL.split("@", 1)[-1].split("/", 1)[0]
    host, _, port = host_port.partition(":")
    try:
        with socket.create_connection((host or "127.0.0.1", int(port or 5432)), timeout=2):
            return None
    except OSError as error:
        return f"{host_port} unreachable ({error.strerror or error})"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    problem = _postgres_reachable()
    if problem is None:
        return
    if REQUIRE_PG:
        raise pytest.UsageError(
            f"PostgreSQL is required (CONTENTMIND_REQUIRE_POSTGRES=1): {problem}"
        )
    pg_items = [item for item in items if "[postgres" in item.nodeid]
    if pg_items:
        _pg_problem.append(f"{len(pg_items)} PostgreSQL runs did not run: {problem}")
        config.hook.pytest_deselected(items=pg_items)
        items[:] = [item for item in items if item not in pg_items]


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    skipped = terminalreporter.stats.get("skipped", [])
    for line in [*_pg_problem, *missing_tool_notes(skipped)]:
        terminalreporter.write_sep("=", "NOTE: " + line, yellow=True, bold=True)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite database, copied for each test."""
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    migrate(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_db() -> Iterator[str]:
    """A database of our own on the PostgreSQL server, migrated once, dropped at the end."""
    name = f"contentmind_test_{uuid.uuid4().hex[:10]}"

    async def admin(statement: str) -> None:
        engine = create_async_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        async with engine.connect() as connection:
            await connection.execute(text(statement))
        await engine.dispose()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    migrate(url)
    yield url
    asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


TABLES = "analytics_event, knowledge_item, file_record, inbound_message, app_user, tenant"
TABLES += ", imap_processed_message, imap_folder_state"  # IMAP ingest bookkeeping


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A clean database for one test, on each engine."""
    if request.param == "sqlite":
        path = tmp_path / "contentmind.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    url = request.getfixturevalue("postgres_db")
    yield url
    asyncio.run(_truncate(url))


async def _truncate(url: str) -> None:
    engine = create_async_engine(url)
    async with engine.begin() as connection:
        await connection.execute(text(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE"))
    await engine.dispose()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    configured = os.environ.get("CONTENTMIND_TEST_REDIS_URL")
    if configured:
        yield configured
        return
    with LocalRedis(tmp_path_factory.mktemp("redis")) as local:
        yield local.url


@pytest.fixture
def redis_url(redis_server: str) -> Iterator[str]:
    """The test Redis, emptied before and after each test."""
    client = redis_sync.Redis.from_url(redis_server)
    client.flushdb()
    yield redis_server
    client.flushdb()
    client.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def settings(tmp_path: Path, db_url: str, redis_url: str) -> Settings:
    """Settings for one test: its own data dir, database, queue and SMTP port; no relay, no LLM."""
    return Settings(
        data_dir=tmp_path / "data",
        database_url=db_url,
        redis_url=redis_url,
        queue_name=f"test:{uuid.uuid4().hex[:8]}",
        smtp_port=free_port(),
        ingest_addresses=["files@ingest.test"],
        ingest_domain="ingest.test",
        relay_host=None,
        llm_base_url=None,
        job_timeout_s=30,
        job_retry_backoff_s=0.2,
        analytics_flush_interval_s=0.05,
    )


@pytest.fixture(scope="session")
def analysis_pool() -> Iterator[AnalysisPool]:
    """One analysis process pool for the whole run (its start-up is the slow part)."""
    pool = AnalysisPool(2, memory_limit_bytes=2048 * 1024 * 1024, preload=["agents.pipeline"])
    yield pool
    pool.shutdown()


@pytest.fixture
async def rt(settings: Settings) -> AsyncIterator[Runtime]:
    runtime = await Runtime.open(settings, redis_url=settings.redis_url, migrate=False)
    yield runtime
    await runtime.close()
