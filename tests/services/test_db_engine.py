"""The engine's pooled connections: no empty ROLLBACK after a commit, nothing left open after a
session that failed or was cancelled mid-transaction (the sessions end their own transactions),
and on PostgreSQL a ping before use only after a connection sat idle."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlmodel import select

from models import Tenant
from services.db import create_engine, migrate, session_factory


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(db_url, pool_size=1)  # one pooled connection, reused by every session
    yield engine
    await engine.dispose()


def count_calls(engine: AsyncEngine, method: str) -> list[int]:
    """Calls of the dialect's `method` (do_rollback: ROLLBACKs sent, do_ping: pings), counted."""
    dialect = engine.sync_engine.dialect
    calls = [0]
    original = getattr(dialect, method)

    def counted(dbapi_connection: Any) -> Any:
        calls[0] += 1
        return original(dbapi_connection)

    setattr(dialect, method, counted)
    return calls


async def nothing_left_open(engine: AsyncEngine, db_url: str) -> None:
    """The pooled connection, idle in the pool, holds no transaction (and so no lock)."""
    if engine.dialect.name == "sqlite":
        other = sqlite3.connect(db_url.split("///", 1)[1], timeout=0)
        try:
            other.execute("BEGIN IMMEDIATE")  # fails at once if a write transaction is open
            other.rollback()
        finally:
            other.close()
        return
    admin = create_async_engine(db_url)
    try:
        async with admin.connect() as connection:
            open_transactions = (
                await connection.execute(
                    text(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                        " AND state LIKE 'idle in transaction%'"
                    )
                )
            ).scalar_one()
        assert open_transactions == 0
    finally:
        await admin.dispose()


async def test_a_committed_session_sends_no_rollback(engine: AsyncEngine) -> None:
    sessions = session_factory(engine)
    async with sessions() as session:  # the pool's connection is made (and checked) once
        await session.exec(select(Tenant))
    rollbacks = count_calls(engine, "do_rollback")

    async with sessions() as session:
        session.add(Tenant(name="Acme", email_domain="acme.example"))
        await session.commit()
    assert rollbacks[0] == 0

    async with sessions() as session:  # a read ends with the session's own rollback, one only
        assert [t.name for t in (await session.exec(select(Tenant))).all()] == ["Acme"]
    assert rollbacks[0] == 1


async def test_a_session_that_fails_mid_transaction_leaves_nothing_behind(
    engine: AsyncEngine, db_url: str
) -> None:
    sessions = session_factory(engine)
    with pytest.raises(RuntimeError):
        async with sessions() as session:
            session.add(Tenant(name="Half", email_domain="half.example"))
            await session.flush()  # the row is written, the transaction open
            raise RuntimeError("the job failed here")
    await nothing_left_open(engine, db_url)
    async with sessions() as session:
        assert (await session.exec(select(Tenant))).all() == []


async def test_a_session_cancelled_mid_transaction_leaves_nothing_behind(
    engine: AsyncEngine, db_url: str
) -> None:
    sessions = session_factory(engine)
    flushed = asyncio.Event()

    async def job() -> None:
        async with sessions() as session:
            session.add(Tenant(name="Stopped", email_domain="stopped.example"))
            await session.flush()
            flushed.set()
            await asyncio.sleep(30)  # the worker stops here and cancels the job

    task = asyncio.create_task(job())
    await asyncio.wait_for(flushed.wait(), 10)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.sleep(0.1)  # the session's close runs shielded from the cancellation
    await nothing_left_open(engine, db_url)
    async with sessions() as session:
        assert (await session.exec(select(Tenant))).all() == []


async def backend_pid(engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        return int((await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one())


async def terminate(db_url: str, pid: int) -> None:
    admin = create_async_engine(db_url)
    try:
        async with admin.connect() as connection:
            await connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    finally:
        await admin.dispose()


async def test_postgres_connections_are_pinged_only_after_sitting_idle(postgres_db: str) -> None:
    engine = create_engine(postgres_db, pool_size=1, ping_after_idle_s=0.3)
    try:
        pings = count_calls(engine, "do_ping")
        first = await backend_pid(engine)
        assert await backend_pid(engine) == first  # reused at once: no ping
        assert pings[0] == 0

        # the server ends the pooled connection while it sits idle (a restart, a dropped link)
        await terminate(postgres_db, first)
        await asyncio.sleep(0.4)
        replacement = await backend_pid(engine)  # the ping finds it dead: a new one is made
        assert pings[0] == 1 and replacement != first
    finally:
        await engine.dispose()


async def test_a_connection_lost_while_busy_fails_one_statement_then_the_pool_recovers(
    postgres_db: str,
) -> None:
    """Within the idle window a dead connection is not pinged: the statement on it fails with a
    disconnect (the job's retry runs it again), and the next checkout gets a new connection."""
    engine = create_engine(postgres_db, pool_size=1, ping_after_idle_s=60)
    try:
        first = await backend_pid(engine)
        await terminate(postgres_db, first)
        await asyncio.sleep(0.1)
        with pytest.raises(DBAPIError) as failed:
            await backend_pid(engine)
        assert failed.value.connection_invalidated
        assert await backend_pid(engine) != first
    finally:
        await engine.dispose()


def test_a_migrated_sqlite_database_is_in_wal_mode_before_any_engine_opens_it(
    tmp_path: Path,
) -> None:
    """Engines never switch the journal mode themselves: two switching at once (worker and SMTP
    ingest starting side by side) failed with "database is locked"."""
    path = tmp_path / "fresh.db"
    migrate(f"sqlite+aiosqlite:///{path}")
    connection = sqlite3.connect(path)
    try:
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    finally:
        connection.close()


async def test_a_new_connection_opens_while_another_reads_a_migrated_database(
    tmp_path: Path,
) -> None:
    """A reader holds the database; a new engine connection needs no lock it would wait for."""
    path = tmp_path / "busy.db"
    await asyncio.to_thread(migrate, f"sqlite+aiosqlite:///{path}")
    reader = sqlite3.connect(path, isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM tenant").fetchall()  # a read transaction stays open
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    try:
        async with engine.connect() as connection:
            count = await asyncio.wait_for(
                connection.execute(text("SELECT count(*) FROM tenant")), timeout=5
            )
            assert count.scalar_one() == 0
    finally:
        reader.rollback()
        reader.close()
        await engine.dispose()
