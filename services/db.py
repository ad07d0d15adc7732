"""Database engine, sessions and migrations (SQLite for local use, PostgreSQL in production)."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import event, exc
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"

SessionFactory = async_sessionmaker[AsyncSession]


# A pooled PostgreSQL connection idle for longer than this is pinged before it is used again.
PING_AFTER_IDLE_S = 10.0


def create_engine(
    url: str,
    *,
    pool_size: int = 10,
    ping_after_idle_s: float = PING_AFTER_IDLE_S,
    wait_for_flush: bool = True,
) -> AsyncEngine:
    """An async engine; SQLite gets a busy timeout and foreign keys.

    `wait_for_flush=False` (PostgreSQL only) makes its connections commit without waiting for the
    WAL flush (`synchronous_commit=off`): for writes the product redoes by itself if a database
    crash loses them (see `Runtime.recoverable_sessions`).

    Connections go back to the pool without the pool's own ROLLBACK (`pool_reset_on_return`):
    every connection here is used through a Session or a Connection block, which ends its
    transaction itself (commit, or rollback on close, on error and on cancellation alike), so the
    pool's ROLLBACK was a second, empty round trip after every commit.

    PostgreSQL connections are pinged before use only after `ping_after_idle_s` in the pool (see
    `_ping_when_idle`), not at every checkout as `pool_pre_ping` does.
    """
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args={"timeout": 30}, pool_reset_on_return=None)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    server_settings = {} if wait_for_flush else {"synchronous_commit": "off"}
    engine = create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_reset_on_return=None,
        connect_args={"server_settings": server_settings},
    )
    _ping_when_idle(engine, ping_after_idle_s)
    return engine


def _ping_when_idle(engine: AsyncEngine, idle_s: float) -> None:
    """Ping a pooled connection before use when it sat idle for `idle_s` or longer.

    A connection that went stale (the server restarted, a proxy or firewall dropped it) is found
    and replaced before anyone uses it, as with `pool_pre_ping`; but a connection back in the
    pool for less than `idle_s` is used as it is, without a round trip: the pipeline takes one
    from the pool about nine times per file. If the server goes away within that window, the
    first statement on a connection fails with a disconnect error, SQLAlchemy discards every
    connection of the pool, and the job's retry (or the SMTP client's, after a 451) runs again
    on new ones.
    """
    pool, dialect = engine.sync_engine.pool, engine.sync_engine.dialect

    def returned(_dbapi_connection: Any, record: Any) -> None:
        record.info["returned_at"] = time.monotonic()

    def ping_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        returned_at = record.info.get("returned_at")  # None: a new connection, fresh
        if returned_at is None or time.monotonic() - returned_at < idle_s:
            return
        try:
            dialect.do_ping(dbapi_connection)
        except Exception as error:  # the pool reconnects and invalidates the older connections
            raise exc.InvalidatePoolError(f"idle connection failed its ping: {error}") from error

    event.listen(pool, "checkin", returned)
    event.listen(pool, "checkout", ping_if_idle)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL is not set here: it is the database file's own setting, made once by migrate().
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def session_factory(engine: AsyncEngine) -> SessionFactory:
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)


def autocommit_session_factory(engine: AsyncEngine) -> SessionFactory:
    """Sessions in which each statement commits on its own, for work of ONE statement (a read,
    or a single write whose `session.commit()` then has nothing left to do).

    On PostgreSQL they run in autocommit mode: no BEGIN and COMMIT (or ROLLBACK) round trips
    around the statement. SQLite's driver begins a transaction only before a write and its
    round trips are calls in this process, so there they are ordinary sessions.
    """
    if is_sqlite(engine):
        return session_factory(engine)
    return session_factory(engine.execution_options(isolation_level="AUTOCOMMIT"))


def is_sqlite(engine: AsyncEngine) -> bool:
    return engine.dialect.name == "sqlite"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def migrate(url: str) -> None:
    """Bring the schema to the newest version (blocking: call it before the event loop starts,
    or in a thread)."""
    if url.startswith("sqlite"):
        path = Path(url.split("///", 1)[1])
        path.parent.mkdir(parents=True, exist_ok=True)
        _use_wal(path)
    command.upgrade(alembic_config(url), "head")


def _use_wal(path: Path) -> None:
    """Put the SQLite file in WAL mode (a setting of the file) before any of our engines open it.

    Engines used to switch it on each new connection. The switch needs an exclusive lock, which
    it cannot have while another connection reads ("database is locked" after the busy timeout,
    or at once where waiting could deadlock): two engines opening a fresh database side by side
    (worker and SMTP ingest starting together) failed.
    """
    connection = sqlite3.connect(path, timeout=30)
    try:
        connection.execute("PRAGMA journal_mode=WAL")
    finally:
        connection.close()


async def migrate_async(url: str) -> None:
    await asyncio.to_thread(migrate, url)
