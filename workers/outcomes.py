"""Recording how a file ended: completed, deduplicated, skipped or failed — with its event."""

from __future__ import annotations

from typing import Any

import structlog
from sqlalchemy import update
from sqlmodel import col

from models import FileRecord, FileStatus, KnowledgeItem
from models.base import utcnow
from services.analytics import EventType
from services.errors import ContentMindError, UnsupportedFile
from services.runtime import Runtime

log = structlog.get_logger(__name__)


def _ids(record: FileRecord) -> dict[str, Any]:
    return {
        "user_id": record.user_id,
        "tenant_id": record.tenant_id,
        "correlation_id": record.correlation_id,
    }


async def save_status(
    rt: Runtime, record: FileRecord, *, durable: bool = True, **changes: Any
) -> FileRecord:
    """Commit changes to the record (one UPDATE by primary key, no read) and apply them to it.

    `durable=False`: for a change a database crash may lose (`rt.recoverable_sessions`).
    """
    now = utcnow()
    changes["updated_at"] = now
    if "status" in changes and FileStatus(changes["status"]).is_final:
        changes["completed_at"] = now
    sessions = rt.autocommit_sessions if durable else rt.recoverable_sessions
    async with sessions() as session:
        await session.exec(
            update(FileRecord).where(col(FileRecord.id) == record.id).values(**changes)
        )  # type: ignore[call-overload]
        await session.commit()
    for key, value in changes.items():  # the caller's copy now matches the row
        setattr(record, key, value)
    return record


async def mark_failed(
    rt: Runtime, record: FileRecord, error: ContentMindError, attempt: int
) -> FileRecord:
    """A final failure (or a skip, for unsupported types), told in plain words."""
    skipped = isinstance(error, UnsupportedFile)
    status = FileStatus.SKIPPED if skipped else FileStatus.FAILED
    fresh = await save_status(
        rt, record, status=status, reason=error.reason, reason_message=error.user_message
    )
    log.info("file_failed", reason=error.reason, attempt=attempt, skipped=skipped)
    rt.analytics.log_event(
        EventType.FILE_SKIPPED if skipped else EventType.FILE_FAILED,
        **_ids(record),
        metadata={
            "file_id": record.id,
            "filename": record.original_filename,
            "reason": error.reason,
            "message": error.user_message,
            "attempt": attempt,
            "declared_type": record.declared_type,
            "detected_type": fresh.detected_type,
        },
    )
    return fresh


async def mark_deduped(rt: Runtime, record: FileRecord, existing: KnowledgeItem) -> FileRecord:
    fresh = await save_status(
        rt,
        record,
        status=FileStatus.COMPLETED,
        knowledge_id=existing.id,
        reason="duplicate",
        reason_message="Already in your knowledge base.",
        details={**record.details, "deduplicated_from": existing.file_id},
    )
    rt.analytics.log_event(
        EventType.FILE_DEDUPED,
        **_ids(record),
        metadata={
            "file_id": record.id,
            "knowledge_id": existing.id,
            "original_file_id": existing.file_id,
        },
    )
    return fresh


def log_processed(
    rt: Runtime, record: FileRecord, item: KnowledgeItem, elapsed_ms: float, analysis_ms: float
) -> None:
    """processing_time_ms: the whole analysis call, waiting for a free process included;
    analysis_ms: the time it ran in an analysis process."""
    log.info(
        "file_processed", knowledge_id=item.id, processing_time_ms=round(elapsed_ms, 1),
        tokens_used=item.tokens_used,
    )  # fmt: skip
    rt.analytics.log_event(
        EventType.FILE_PROCESSED,
        **_ids(record),
        metadata={
            "file_id": record.id,
            "knowledge_id": item.id,
            "processing_time_ms": round(elapsed_ms, 1),
            "analysis_ms": round(analysis_ms, 1),
            "tokens_used": item.tokens_used,
            "token_count": item.token_count,
            "backend": item.backend,
            "size": record.size,
            "declared_type": record.declared_type,
            "detected_type": record.detected_type,
        },
    )
