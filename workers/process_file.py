"""The `process_file` job: one file → one knowledge item, safe to run twice, bounded in time."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import structlog
from arq import Retry
from sqlalchemy import and_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from agents.llm import LLMConfig
from agents.pipeline import FileAnalysis, safe_analyze
from models import FileRecord, FileStatus, KnowledgeItem
from models.base import utcnow
from services.analytics import EventType
from services.errors import ContentMindError, TooLarge, WorkerCrash, given_up
from services.extraction import ExtractionLimits, detect_type
from services.knowledge import add_item
from services.runtime import Runtime
from workers.outcomes import log_processed, mark_deduped, mark_failed, save_status
from workers.pool import AnalysisPool
from workers.replies import reply_when_complete
from workers.slack_replies import reply_in_slack

log = structlog.get_logger(__name__)


async def process_file(ctx: dict[str, Any], file_id: str) -> str:
    """Extract, analyse and store one file; permanent failures end at once, transient ones retry."""
    rt: Runtime = ctx["rt"]
    structlog.contextvars.clear_contextvars()
    async with rt.autocommit_sessions() as session:
        # the file, and its tenant's item of the same content if one exists (one per content)
        same_content = and_(
            col(KnowledgeItem.tenant_id) == FileRecord.tenant_id,
            col(KnowledgeItem.sha256) == FileRecord.sha256,
        )
        statement = (
            select(FileRecord, KnowledgeItem)
            .outerjoin(KnowledgeItem, same_content)
            .where(FileRecord.id == file_id)
        )
        found = (await session.exec(statement)).first()
    if found is None:
        log.warning("file_missing", file_id=file_id)
        return "missing"
    record, existing = found
    structlog.contextvars.bind_contextvars(
        correlation_id=record.correlation_id,
        tenant_id=record.tenant_id,
        user_id=record.user_id,
        file_id=record.id,
    )
    if FileStatus(record.status).is_final:
        if record.inbound_message_id:  # a re-run after a stop mid-reply still owes the reply
            await reply_when_complete(rt, record.inbound_message_id)
        await reply_in_slack(rt, record)
        return record.status
    try:
        final = await _run(rt, ctx["pool"], record, existing)
    except (Retry, asyncio.CancelledError):
        raise
    except Exception as error:  # our own I/O failed (database, storage): try again later
        log.exception("process_file_error", error_type=type(error).__name__)
        if ctx.get("job_try", 1) > rt.settings.job_max_tries:
            raise
        raise Retry(defer=rt.settings.job_retry_backoff_s * ctx.get("job_try", 1)) from error
    if final.inbound_message_id:
        await reply_when_complete(rt, final.inbound_message_id)
    await reply_in_slack(rt, final)  # files shared in Slack: the card in the file's thread
    return final.status


async def _run(
    rt: Runtime, pool: AnalysisPool, record: FileRecord, existing: KnowledgeItem | None
) -> FileRecord:
    if existing is not None and existing.file_id != record.id:
        return await mark_deduped(rt, record, existing)
    attempt = record.attempts + 1
    data = rt.storage.get(record.storage_key or record.sha256)
    detected = detect_type(data, record.original_filename, record.declared_type)
    # the claim: its attempt count tells a later run that this one never came back (a crash).
    # A database crash may lose it (not durable): the job goes on with the record in hand.
    record = await save_status(
        rt,
        record,
        durable=False,
        status=FileStatus.PROCESSING,
        attempts=attempt,
        detected_type=detected,
    )
    settings = rt.settings
    if attempt > settings.job_max_tries:  # the earlier attempts never came back: they crashed
        return await mark_failed(rt, record, WorkerCrash(), attempt)
    rt.analytics.log_event(
        EventType.AGENT_STARTED,
        metadata={"file_id": record.id, "attempt": attempt, "filename": record.original_filename},
    )
    try:
        return await _analyze_and_store(rt, pool, record, data)
    except ContentMindError as error:
        if error.permanent or attempt >= settings.job_max_tries:
            return await mark_failed(rt, record, given_up(error, attempt), attempt)
        await _retry_later(rt, record, error, attempt)
        raise AssertionError("unreachable") from None


async def _retry_later(
    rt: Runtime, record: FileRecord, error: ContentMindError, attempt: int
) -> None:
    defer = rt.settings.job_retry_backoff_s * attempt
    rt.analytics.log_event(
        EventType.FILE_RETRYING,
        metadata={
            "file_id": record.id,
            "reason": error.reason,
            "attempt": attempt,
            "retry_in_s": defer,
        },
    )
    log.info("file_retrying", reason=error.reason, attempt=attempt, defer_s=defer)
    raise Retry(defer=defer)


async def _existing_item(session: AsyncSession, record: FileRecord) -> KnowledgeItem | None:
    """The tenant's item of the same content, if one exists."""
    statement = select(KnowledgeItem).where(
        KnowledgeItem.tenant_id == record.tenant_id, KnowledgeItem.sha256 == record.sha256
    )
    return (await session.exec(statement)).first()


def limits_from(rt: Runtime) -> ExtractionLimits:
    s = rt.settings
    return ExtractionLimits(
        max_chars=s.max_text_chars,
        max_pages=s.max_pages,
        max_archive_uncompressed=s.max_archive_uncompressed_bytes,
        max_compression_ratio=s.max_compression_ratio,
        ocr_enabled=s.ocr_enabled,
        ocr_languages=s.ocr_languages,
        ocr_timeout_s=max(1.0, s.job_timeout_s / 2),
    )


def llm_from(rt: Runtime) -> LLMConfig | None:
    s = rt.settings
    if not s.llm_base_url:
        return None
    key = s.llm_api_key.get_secret_value() if s.llm_api_key else None
    return LLMConfig(
        base_url=s.llm_base_url, api_key=key, model=s.llm_model, timeout_s=s.llm_timeout_s
    )


async def _analyze_and_store(
    rt: Runtime, pool: AnalysisPool, record: FileRecord, data: bytes
) -> FileRecord:
    if record.size > rt.settings.max_file_bytes:
        raise TooLarge(
            f"The file is {record.size / 1e6:.1f} MB; the limit is "
            f"{rt.settings.max_file_bytes / 1e6:.1f} MB."
        )
    started = time.perf_counter()
    result: FileAnalysis
    result, analysis_s = await pool.run_timed(
        rt.settings.job_timeout_s,
        safe_analyze,
        data,
        filename=record.original_filename,
        declared_type=record.declared_type,
        limits=limits_from(rt),
        llm=llm_from(rt),
    )
    elapsed_ms = (time.perf_counter() - started) * 1000
    return await _store(rt, record, result, elapsed_ms, analysis_s * 1000)


async def _store(
    rt: Runtime, record: FileRecord, result: FileAnalysis, elapsed_ms: float, analysis_ms: float
) -> FileRecord:
    analysis, extracted = result.analysis, result.extracted
    item = KnowledgeItem(
        tenant_id=record.tenant_id,
        user_id=record.user_id,
        file_id=record.id,
        sha256=record.sha256,
        title=analysis.title,
        summary=analysis.summary,
        key_points=list(analysis.key_points),
        keywords=list(analysis.keywords),
        full_text=extracted.text,
        token_count=analysis.token_count,
        tokens_used=analysis.tokens_used,
        backend=analysis.backend,
        source=record.source,
        original_filename=record.original_filename,
        provenance=record.provenance,
    )
    now = utcnow()
    changes = {
        "status": FileStatus.COMPLETED,
        "knowledge_id": item.id,
        "detected_type": extracted.detected_type,
        "reason": None,
        "reason_message": None,
        "details": {**record.details, **_public_metadata(extracted.metadata)},
        "updated_at": now,
        "completed_at": now,
    }
    async with rt.sessions() as session:
        try:
            await add_item(session, item)  # the item and the record's completion commit together
            await session.exec(
                update(FileRecord).where(col(FileRecord.id) == record.id).values(**changes)
            )  # type: ignore[call-overload]
            await session.commit()
        except IntegrityError:  # the same content finished first in another job
            await session.rollback()
            existing = await _existing_item(session, record)
            assert existing is not None
            return await mark_deduped(rt, record, existing)
    for key, value in changes.items():
        setattr(record, key, value)
    log_processed(rt, record, item, elapsed_ms, analysis_ms)
    return record


def _public_metadata(metadata: dict[str, Any]) -> dict[str, Any]:
    keep = ("pages", "sheets", "slides", "ocr", "truncated", "encrypted")
    return {key: metadata[key] for key in keep if key in metadata}
