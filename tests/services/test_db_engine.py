"""The engine's pooled connections: no empty ROLLBACK after a commit, and nothing left open after
a session that failed or was cancelled mid-transaction (the sessions end their own transactions)."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlmodel import select

from models import Tenant
from services.db import create_engine, session_factory


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(db_url, pool_size=1)  # one pooled connection, reused by every session
    yield engine
    await engine.dispose()


def count_rollbacks(engine: AsyncEngine) -> list[int]:
    """ROLLBACKs sent to the database on this engine's connections, counted as they happen."""
    dialect = engine.sync_engine.dialect
    sent = [0]
    original = dialect.do_rollback

    def counted(dbapi_connection: Any) -> None:
        sent[0] += 1
        original(dbapi_connection)

    dialect.do_rollback = counted  # type: ignore[method-assign]
    return sent


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
    rollbacks = count_rollbacks(engine)

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
