"""The buffered analytics writer loses nothing, even when a stop catches a write mid-way."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path

from sqlalchemy import text

from services.analytics import Analytics, EventType, scrub
from services.db import create_engine, migrate


async def _count(engine: object) -> int:
    async with engine.connect() as connection:  # type: ignore[attr-defined]
        return (await connection.execute(text("SELECT count(*) FROM analytics_event"))).scalar_one()


async def test_close_while_a_flush_waits_for_a_locked_database_keeps_every_event(
    tmp_path: Path,
) -> None:
    """A stop during a write blocked by another process's lock still writes every event."""
    path = tmp_path / "events.db"
    url = f"sqlite+aiosqlite:///{path}"
    await asyncio.to_thread(migrate, url)
    engine = create_engine(url)
    analytics = Analytics(engine, flush_interval_s=0.05)
    await analytics.start()
    other = sqlite3.connect(path, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")  # another process (e.g. `contentmind up`) holds the write lock
    for n in range(25):
        analytics.log_event(EventType.FILE_RECEIVED, correlation_id=f"c{n}", metadata={"n": n})
    await asyncio.sleep(0.3)  # the flusher is now inside its INSERT, waiting for the lock
    threading.Timer(0.5, other.rollback).start()
    await analytics.close()
    assert await _count(engine) == 25
    other.close()
    await engine.dispose()


def test_scrub_drops_credentials_but_keeps_token_counts() -> None:
    """Secret-looking keys are dropped; usage figures such as tokens_used stay."""
    cleaned = scrub(
        {"bot_token": "xoxb-1", "api-key": "k", "password": "p", "tokens_used": 12,
         "token_count": 3, "nested": {"signing_secret": "s", "size": 4}}
    )  # fmt: skip
    assert cleaned == {"tokens_used": 12, "token_count": 3, "nested": {"size": 4}}
