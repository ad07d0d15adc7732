"""The runtime's three kinds of session: transactions, one-statement sessions without BEGIN and
COMMIT round trips, and recoverable writes that commit without waiting for the WAL flush (both
PostgreSQL only)."""

from __future__ import annotations

from sqlalchemy import text
from sqlmodel import select

from models import FileRecord, FileStatus, Tenant
from services.intake import NewFile
from services.runtime import Runtime
from tests.factories.records import recorded_file
from workers.outcomes import save_status


async def setting(rt: Runtime, sessions: str) -> str:
    async with getattr(rt, sessions)() as session:
        return str((await session.exec(text("SHOW synchronous_commit"))).scalar_one())


async def test_only_recoverable_writes_skip_the_wait_for_the_flush(rt: Runtime) -> None:
    if rt.engine.dialect.name == "sqlite":
        assert (
            rt.recoverable_engine is rt.engine
        )  # one engine: SQLite's WAL settings are the file's
        return
    assert await setting(rt, "sessions") == "on"
    assert await setting(rt, "autocommit_sessions") == "on"
    assert await setting(rt, "recoverable_sessions") == "off"
    assert rt.analytics.engine is rt.recoverable_engine


async def test_an_autocommit_session_runs_outside_a_transaction_on_postgresql(rt: Runtime) -> None:
    async def in_transaction_after_a_select(sessions: str) -> bool:
        async with getattr(rt, sessions)() as session:
            assert (await session.exec(select(Tenant))).all() == []
            connection = await session.connection()
            raw = await connection.get_raw_connection()
            driver = raw.driver_connection
            if rt.engine.dialect.name == "sqlite":
                return bool(driver.in_transaction)  # type: ignore[union-attr]
            return bool(driver.is_in_transaction())  # type: ignore[union-attr]

    assert await in_transaction_after_a_select("autocommit_sessions") is False
    if rt.engine.dialect.name == "postgresql":
        # the connection goes back to the pool transactional again: a session's reads are in one
        assert await in_transaction_after_a_select("sessions") is True


async def test_a_recoverable_write_is_committed_and_seen_by_everyone(rt: Runtime) -> None:
    record, _ = await recorded_file(
        rt, "ana@acme.example", NewFile(data=b"Notes.", filename="notes.txt")
    )
    await save_status(rt, record, durable=False, status=FileStatus.PROCESSING, attempts=1)
    async with rt.autocommit_sessions() as session:
        stored = await session.get(FileRecord, record.id)
    assert stored is not None
    assert (stored.status, stored.attempts) == (FileStatus.PROCESSING, 1)
