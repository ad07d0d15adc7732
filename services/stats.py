"""Usage statistics read from analytics events (and file sizes for storage)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Integer, cast, func, select
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from models import AnalyticsEvent, FileRecord
from models.base import utcnow
from services.analytics import EventType

COUNTED = {
    EventType.FILE_PROCESSED: "files_processed",
    EventType.FILE_FAILED: "files_failed",
    EventType.DIGEST_GENERATED: "digests_generated",
    EventType.DIGEST_SENT: "digests_sent",
}


@dataclass
class UsageStats:
    days: int
    files_processed: int = 0
    files_failed: int = 0
    digests_generated: int = 0
    digests_sent: int = 0
    total_tokens: int = 0
    storage_used_mb: float = 0.0
    per_day: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Scope:
    """Whose usage: one user, one tenant, or (admin CLI only) everything."""

    tenant_id: str | None = None
    user_id: str | None = None


def _scoped(statement: Any, table: Any, scope: Scope) -> Any:
    if scope.tenant_id:
        statement = statement.where(table.tenant_id == scope.tenant_id)
    if scope.user_id:
        statement = statement.where(table.user_id == scope.user_id)
    return statement


async def usage_stats(
    session: AsyncSession, scope: Scope, *, days: int = 7, now: datetime | None = None
) -> UsageStats:
    since = (now or utcnow()) - timedelta(days=days)
    stats = UsageStats(days=days)
    day = func.date(AnalyticsEvent.created_at)
    tokens = cast(AnalyticsEvent.event_metadata["tokens_used"].as_string(), Integer)
    statement = _scoped(
        select(
            day.label("day"),
            col(AnalyticsEvent.event_type),
            func.count().label("n"),
            func.coalesce(func.sum(tokens), 0).label("tokens"),
        )
        .where(col(AnalyticsEvent.created_at) >= since)
        .where(col(AnalyticsEvent.event_type).in_([e.value for e in COUNTED]))
        .group_by(day, AnalyticsEvent.event_type)
        .order_by(day),
        AnalyticsEvent,
        scope,
    )
    per_day: dict[str, dict[str, Any]] = {}
    for row in (await session.execute(statement)).all():
        name = COUNTED[EventType(row.event_type)]
        setattr(stats, name, getattr(stats, name) + row.n)
        entry = per_day.setdefault(
            str(row.day), {"date": str(row.day), **dict.fromkeys(COUNTED.values(), 0), "tokens": 0}
        )
        entry[name] += row.n
        if row.event_type == EventType.FILE_PROCESSED:
            entry["tokens"] += int(row.tokens or 0)
            stats.total_tokens += int(row.tokens or 0)
    stats.per_day = list(per_day.values())
    stats.storage_used_mb = round(await storage_bytes(session, scope) / (1024 * 1024), 3)
    return stats


async def storage_bytes(session: AsyncSession, scope: Scope) -> int:
    """Bytes stored for the scope; the same content counts once (storage is content-addressed)."""
    unique = _scoped(
        select(col(FileRecord.sha256), func.max(FileRecord.size).label("size")).group_by(
            col(FileRecord.sha256)
        ),
        FileRecord,
        scope,
    ).subquery()
    total = (await session.execute(select(func.coalesce(func.sum(unique.c.size), 0)))).scalar_one()
    return int(total)
