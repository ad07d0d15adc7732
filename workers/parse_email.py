"""The `parse_email` job: a stored raw email → one FileRecord per attachment (or its body)."""

from __future__ import annotations

import asyncio
from typing import Any

import structlog
from arq import Retry
from sqlalchemy import update
from sqlmodel import col, select

from mail.parse import MailPart, ParsedMail, parse_message
from models import FileRecord, FileSource, FileStatus, InboundMessage, MessageStatus, Tenant, User
from services.analytics import EventType
from services.errors import ContentMindError
from services.intake import NewFile, add_files, enqueue_file
from services.runtime import Runtime
from workers.outcomes import mark_failed
from workers.replies import reply_when_complete

log = structlog.get_logger(__name__)


async def parse_email(ctx: dict[str, Any], inbound_message_id: str) -> str:
    """Parse the raw message, record its files and enqueue them; safe to run again after a crash."""
    rt: Runtime = ctx["rt"]
    structlog.contextvars.clear_contextvars()
    async with rt.autocommit_sessions() as session:
        found = (
            await session.exec(
                select(InboundMessage, Tenant, User)
                .join(Tenant, col(Tenant.id) == InboundMessage.tenant_id)
                .join(User, col(User.id) == InboundMessage.user_id)
                .where(InboundMessage.id == inbound_message_id)
            )
        ).first()
    if found is None:
        log.warning("inbound_message_missing", inbound_message_id=inbound_message_id)
        return "missing"
    message, tenant, user = found
    structlog.contextvars.bind_contextvars(
        correlation_id=message.correlation_id, tenant_id=tenant.id, user_id=user.id
    )
    try:
        if message.status == MessageStatus.RECEIVED:
            raw = rt.storage.get(message.raw_key)
            parsed = await asyncio.to_thread(parse_message, raw)
            created = await _record(rt, message, tenant, user, parsed)
            queued = await _enqueue(rt, created)
        else:  # a re-run: what an earlier run recorded may not be queued yet
            queued = await _enqueue_pending(rt, message.id)
    except Exception as error:  # our own I/O failed (database, storage, Redis): try again later
        log.exception("parse_email_error", error_type=type(error).__name__)
        if ctx.get("job_try", 1) >= rt.settings.job_max_tries:
            raise
        raise Retry(defer=rt.settings.job_retry_backoff_s * ctx.get("job_try", 1)) from error
    if not queued:  # nothing left to process: the reply can go out now
        await reply_when_complete(rt, message.id, problem=_problem(message))
    return "parsed"


def _problem(message: InboundMessage) -> str | None:
    if "boundary_not_found" in (message.defects or []):
        return (
            "Its MIME structure is broken (the part boundary was not found); "
            "the raw message was kept."
        )
    return None


async def _record(
    rt: Runtime, message: InboundMessage, tenant: Tenant, user: User, parsed: ParsedMail
) -> list[FileRecord]:
    """A FileRecord per part, committed with the message's new status in one transaction;
    returns the records of the message (new or from an earlier run)."""
    _log_parse_events(rt, message, parsed)
    parts = parsed.parts[: rt.settings.max_attachments]
    status = MessageStatus.PARSED
    if not parsed.parts and "boundary_not_found" in parsed.defects:
        status = MessageStatus.FAILED
        rt.analytics.log_event(
            EventType.EMAIL_PARSE_FAILED, metadata={"reason": "boundary_not_found"}
        )
    changes = {
        "subject": parsed.subject,
        "body_text": parsed.body_text,
        "defects": list(parsed.defects),
        "status": status,
    }
    added = await add_files(
        rt,
        tenant=tenant,
        user=user,
        source=FileSource.EMAIL,
        files=[_new_file(message, index, part) for index, part in enumerate(parts)],
        also=[update(InboundMessage).where(col(InboundMessage.id) == message.id).values(**changes)],
    )
    for key, value in changes.items():
        setattr(message, key, value)
    records = []
    for part, result in zip(parts, added, strict=True):
        if result is None:  # its bytes could not be stored; the siblings go on
            continue
        record, created = result
        if created and part.failure is not None:
            reason, text = part.failure
            record = await mark_failed(rt, record, ContentMindError(text, reason=reason), attempt=0)
        records.append(record)
    return records


def _new_file(message: InboundMessage, index: int, part: MailPart) -> NewFile:
    return NewFile(
        data=part.data,
        filename=part.filename,
        declared_type=part.declared_type,
        external_id=f"{message.id}:{index}",
        provenance=part.provenance,
        inbound_message_id=message.id,
        parent_correlation_id=message.correlation_id,
        details={"forwarded": part.forwarded} if part.forwarded else None,
    )


def _log_parse_events(rt: Runtime, message: InboundMessage, parsed: ParsedMail) -> None:
    for defect in parsed.defects:
        rt.analytics.log_event(EventType.EMAIL_PARSE_DEFECT, metadata={"defect": defect})
    for container, count in parsed.unpacked:
        rt.analytics.log_event(
            EventType.FILE_UNPACKED, metadata={"container": container, "count": count}
        )
    for skipped in parsed.skipped:
        rt.analytics.log_event(
            EventType.FILE_SKIPPED,
            metadata={
                "filename": skipped.filename,
                "declared_type": skipped.declared_type,
                "reason": skipped.reason,
                "inbound_message_id": message.id,
            },
        )
    extra = len(parsed.parts) - rt.settings.max_attachments
    if extra > 0:
        rt.analytics.log_event(
            EventType.FILE_SKIPPED,
            metadata={
                "reason": "too_many_attachments",
                "count": extra,
                "limit": rt.settings.max_attachments,
            },
        )


async def _enqueue_pending(rt: Runtime, message_id: str) -> int:
    """Queue every file of the message still pending; returns how many there are."""
    async with rt.autocommit_sessions() as session:
        pending = (
            await session.exec(
                select(FileRecord).where(
                    FileRecord.inbound_message_id == message_id,
                    FileRecord.status == FileStatus.PENDING,
                )
            )
        ).all()
    return await _enqueue(rt, list(pending))


async def _enqueue(rt: Runtime, records: list[FileRecord]) -> int:
    """Queue the records still pending; returns how many there are."""
    pending = [r for r in records if r.status == FileStatus.PENDING]
    for record in pending:
        await enqueue_file(rt, record)
    return len(pending)
