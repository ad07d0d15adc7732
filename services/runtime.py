"""The long-lived parts every process needs, built once from Settings and passed down."""

from __future__ import annotations

from dataclasses import dataclass

from arq.connections import ArqRedis, RedisSettings, create_pool
from sqlalchemy.ext.asyncio import AsyncEngine

from services.analytics import Analytics, install
from services.db import (
    SessionFactory,
    autocommit_session_factory,
    create_engine,
    is_sqlite,
    migrate_async,
    session_factory,
)
from services.settings import Settings
from services.storage import LocalStorage


@dataclass
class Runtime:
    """Settings, database, storage, analytics and Redis of one process.

    Three kinds of database session:
    - `sessions`: transactions; a commit is durable when it returns.
    - `autocommit_sessions`: for work of one statement, each statement committed (durably) on
      its own; on PostgreSQL without BEGIN and COMMIT round trips around it.
    - `recoverable_sessions`: single writes whose loss the product repairs by itself, such as a
      job's claim on a file (the job still holds what it claimed and records the outcome
      durably). On PostgreSQL they commit without waiting for the WAL flush: a server crash
      can lose the last fraction of a second of them, never anything committed before a
      durable commit (WAL is flushed in order), and never corrupt the database.
    Analytics writes through the recoverable engine too: its events wait in memory for up to
    `analytics_flush_interval_s` already.
    """

    settings: Settings
    engine: AsyncEngine
    sessions: SessionFactory
    autocommit_sessions: SessionFactory
    recoverable_engine: AsyncEngine
    recoverable_sessions: SessionFactory
    storage: LocalStorage
    analytics: Analytics
    redis: ArqRedis | None

    @classmethod
    async def open(
        cls, settings: Settings, *, redis_url: str | None, migrate: bool = True
    ) -> Runtime:
        """Connect to the database (migrating it) and Redis, and start the analytics writer."""
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        url = settings.effective_database_url
        if migrate:
            await migrate_async(url)
        engine = create_engine(url)
        recoverable = (
            engine if is_sqlite(engine) else create_engine(url, pool_size=2, wait_for_flush=False)
        )
        analytics = Analytics(
            recoverable,
            flush_interval_s=settings.analytics_flush_interval_s,
            batch_size=settings.analytics_batch_size,
        )
        await analytics.start()
        install(analytics)
        redis = await create_pool(RedisSettings.from_dsn(redis_url)) if redis_url else None
        return cls(
            settings=settings,
            engine=engine,
            sessions=session_factory(engine),
            autocommit_sessions=autocommit_session_factory(engine),
            recoverable_engine=recoverable,
            recoverable_sessions=autocommit_session_factory(recoverable),
            storage=LocalStorage(settings.storage_dir),
            analytics=analytics,
            redis=redis,
        )

    def require_redis(self) -> ArqRedis:
        if self.redis is None:
            raise RuntimeError("this command needs Redis (REDIS_URL or a local server)")
        return self.redis

    async def close(self) -> None:
        await self.analytics.close()
        install(None)
        if self.redis is not None:
            await self.redis.aclose()
        await self.engine.dispose()
        if self.recoverable_engine is not self.engine:
            await self.recoverable_engine.dispose()
