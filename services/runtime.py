"""The long-lived parts every process needs, built once from Settings and passed down."""

from __future__ import annotations

from dataclasses import dataclass

from arq.connections import ArqRedis, RedisSettings, create_pool
from sqlalchemy.ext.asyncio import AsyncEngine

from services.analytics import Analytics, install
from services.db import SessionFactory, create_engine, migrate_async, session_factory
from services.settings import Settings
from services.storage import LocalStorage


@dataclass
class Runtime:
    settings: Settings
    engine: AsyncEngine
    sessions: SessionFactory
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
        analytics = Analytics(
            engine,
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
