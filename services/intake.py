"""The one intake path every door uses: store the raw input durably, record it, enqueue the job."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from email.parser import BytesHeaderParser
from email.policy import compat32
from typing import Any

import structlog
from arq.jobs import JobStatus
from sqlalchemy import Executable
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models import FileRecord, FileStatus, InboundMessage, MessageStatus, Tenant, User
from models.base import new_id
from services.analytics import EventType
from services.identity import resolve_email_sender
from services.queue import (
    FILE_JOB_HEAD_START_S,
    PARSE_EMAIL,
    PROCESS_FILE,
    enqueue_once,
    parse_email_job_id,
    process_file_job_id,
)
from services.runtime import Runtime
from services.storage import sha256_hex

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class EmailReceipt:
    message: InboundMessage
    duplicate: bool


def _header_block(raw: bytes) -> bytes:
    """The message's header block: up to the first empty line (CRLF or bare LF line ends)."""
    ends = [at for at in (raw.find(b"\r\n\r\n"), raw.find(b"\n\n")) if at >= 0]
    return raw[: min(ends) + 2] if ends else raw


def _message_id(raw: bytes) -> str | None:
    """Message-ID from the header block only (full MIME parsing happens in the job)."""
    try:
        headers = BytesHeaderParser(policy=compat32).parsebytes(_header_block(raw))
        value = str(headers.get("Message-ID") or "").strip().strip("<>").strip()
    except Exception:  # a header we cannot read is no reason to refuse the mail
        return None
    return value[:900] or None


async def receive_email(
    rt: Runtime, raw: bytes, *, envelope_from: str, channel: str
) -> EmailReceipt:
    """Accept one email: sender → tenant/user, raw bytes stored, InboundMessage row, parse job.

    Raises SenderRefused for a sender the policy does not accept. A second delivery of the same
    message (same Message-ID, or same bytes) is recognised and creates nothing new.
    """
    # each statement commits on its own: the sender's lookup (a first mail from a new team also
    # inserts its tenant, then its user; a race retries and finds them) and the message's row
    async with rt.autocommit_sessions() as session:
        tenant, user = await resolve_email_sender(session, rt.settings, envelope_from)
        tenant_id = tenant.id
        blob = rt.storage.put(raw)
        message_id = _message_id(raw)
        dedupe_key = (
            f"mid:{sha256_hex(message_id.encode())}" if message_id else f"raw:{blob.sha256}"
        )
        message = InboundMessage(
            tenant_id=tenant.id,
            user_id=user.id,
            channel=channel,
            dedupe_key=dedupe_key,
            message_id=message_id,
            raw_key=blob.key,
            raw_size=blob.size,
            sender=user.email or envelope_from,
            correlation_id=new_id(),
        )
        session.add(message)
        try:
            await session.commit()
        except IntegrityError:
            await session.rollback()  # expires tenant and user: no attribute access after it
            existing = (
                await session.exec(
                    select(InboundMessage).where(
                        InboundMessage.tenant_id == tenant_id,
                        InboundMessage.dedupe_key == dedupe_key,
                    )
                )
            ).one()
            _log_duplicate(rt, existing, channel)
            if existing.status == MessageStatus.RECEIVED:  # an earlier enqueue may have failed
                await enqueue_parse(rt, existing)
            return EmailReceipt(existing, duplicate=True)
    rt.analytics.log_event(
        EventType.EMAIL_RECEIVED,
        user_id=user.id,
        tenant_id=tenant.id,
        correlation_id=message.correlation_id,
        metadata={"channel": channel, "size": blob.size, "message_id": message_id},
    )
    await enqueue_parse(rt, message)
    return EmailReceipt(message, duplicate=False)


def _log_duplicate(rt: Runtime, existing: InboundMessage, channel: str) -> None:
    log.info("email_duplicate", inbound_message_id=existing.id)
    rt.analytics.log_event(
        EventType.EMAIL_DUPLICATE,
        user_id=existing.user_id,
        tenant_id=existing.tenant_id,
        correlation_id=existing.correlation_id,
        metadata={"channel": channel, "inbound_message_id": existing.id},
    )


async def enqueue_parse(rt: Runtime, message: InboundMessage) -> bool:
    """Queue the parse job; False when a job for this message already holds its id."""
    held_by = await enqueue_once(
        rt.require_redis(),
        rt.analytics,
        queue_name=rt.settings.queue_name,
        function=PARSE_EMAIL,
        job_id=parse_email_job_id(message.id),
        args=(message.id,),
        event_ids={
            "user_id": message.user_id,
            "tenant_id": message.tenant_id,
            "correlation_id": message.correlation_id,
        },
    )
    return held_by is None


async def enqueue_file(rt: Runtime, record: FileRecord) -> bool:
    """Queue process_file for the record; False when a live job already has it.

    A finished job's kept result also holds the id; if the record is still unfinished (its
    job ended without recording an outcome), a new job id of the next generation is used.
    """
    held_by = await _enqueue_file_job(rt, record, generation=0)
    if held_by is None:
        return True
    if held_by is JobStatus.complete and not FileStatus(record.status).is_final:
        return await _enqueue_file_job(rt, record, generation=record.attempts + 1) is None
    return False


async def _enqueue_file_job(
    rt: Runtime, record: FileRecord, *, generation: int
) -> JobStatus | None:
    return await enqueue_once(
        rt.require_redis(),
        rt.analytics,
        queue_name=rt.settings.queue_name,
        function=PROCESS_FILE,
        job_id=process_file_job_id(record.id, generation),
        args=(record.id,),
        event_ids={
            "user_id": record.user_id,
            "tenant_id": record.tenant_id,
            "correlation_id": record.correlation_id,
        },
        head_start_s=FILE_JOB_HEAD_START_S,
    )


@dataclass(frozen=True)
class NewFile:
    """A file a door hands to intake."""

    data: bytes
    filename: str
    declared_type: str | None = None
    external_id: str | None = None
    provenance: str | None = None
    inbound_message_id: str | None = None
    parent_correlation_id: str | None = None
    details: dict[str, Any] | None = None  # e.g. the forwarded mail the file came in
    correlation_id: str | None = None  # when the door already logged events for it; else new


def _details(new: NewFile) -> dict[str, Any]:
    details = dict(new.details or {})
    if new.parent_correlation_id:
        details["parent_correlation_id"] = new.parent_correlation_id
    return details


def _new_record(
    rt: Runtime, *, tenant: Tenant, user: User, source: str, new: NewFile
) -> FileRecord:
    """Store the bytes (content-addressed) and build the pending FileRecord, not yet added."""
    blob = rt.storage.put(new.data)
    return FileRecord(
        tenant_id=tenant.id,
        user_id=user.id,
        source=source,
        external_id=new.external_id,
        inbound_message_id=new.inbound_message_id,
        original_filename=new.filename,
        declared_type=new.declared_type,
        size=blob.size,
        sha256=blob.sha256,
        storage_key=blob.key,
        provenance=new.provenance,
        status=FileStatus.PENDING,
        correlation_id=new.correlation_id or new_id(),
        details=_details(new),
    )


async def _recorded(
    session: AsyncSession, tenant_id: str, source: str, external_ids: Sequence[str | None]
) -> dict[str | None, FileRecord]:
    """The tenant's records of `source` with these external ids, by external id."""
    found = await session.exec(
        select(FileRecord).where(
            FileRecord.tenant_id == tenant_id,
            FileRecord.source == source,
            col(FileRecord.external_id).in_([i for i in external_ids if i is not None]),
        )
    )
    return {record.external_id: record for record in found.all()}


async def add_file(
    rt: Runtime, *, tenant: Tenant, user: User, source: str, new: NewFile
) -> tuple[FileRecord, bool]:
    """Store the bytes and create the FileRecord (pending). Returns (record, created).

    A file with the same (tenant, source, external_id) already recorded is returned as is, so a
    re-run of a door's job never records a file twice. The caller enqueues created records.
    """
    record = _new_record(rt, tenant=tenant, user=user, source=source, new=new)
    async with rt.sessions() as session:
        session.add(record)
        try:
            await session.commit()
        except IntegrityError:
            await session.rollback()
            earlier = await _recorded(session, tenant.id, source, [new.external_id])
            return earlier[new.external_id], False
    _log_received(rt, record, new)
    return record, True


async def add_files(
    rt: Runtime,
    *,
    tenant: Tenant,
    user: User,
    source: str,
    files: Sequence[NewFile],
    also: Sequence[Executable] = (),
) -> list[tuple[FileRecord, bool] | None]:
    """add_file for several files (each with an external id), committed in ONE transaction
    together with the caller's statements `also` (an email's files and its new status).

    Returns, per file in order, (record, created), or None when its bytes could not be stored
    (logged; one such file never sinks its siblings). Files an earlier run recorded come back
    as they are, created False, and the rest are recorded with `also` in a second transaction.
    """
    records: list[FileRecord | None] = []
    for index, new in enumerate(files):
        try:
            records.append(_new_record(rt, tenant=tenant, user=user, source=source, new=new))
        except Exception:
            log.exception("file_store_failed", index=index, filename=new.filename)
            records.append(None)
    fresh = [record for record in records if record is not None]
    earlier: dict[str | None, FileRecord] = {}
    async with rt.sessions() as session:
        try:
            await _commit_with(session, fresh, also)
        except IntegrityError:  # some were recorded before: a re-run
            await session.rollback()
            earlier = await _recorded(session, tenant.id, source, [r.external_id for r in fresh])
            await _commit_with(session, [r for r in fresh if r.external_id not in earlier], also)
    results: list[tuple[FileRecord, bool] | None] = []
    for record, new in zip(records, files, strict=True):
        if record is None:
            results.append(None)
        elif record.external_id in earlier:
            results.append((earlier[record.external_id], False))
        else:
            _log_received(rt, record, new)
            results.append((record, True))
    return results


async def _commit_with(
    session: AsyncSession, records: Sequence[FileRecord], also: Sequence[Executable]
) -> None:
    session.add_all(records)
    await session.flush()  # the records' own conflicts surface here, before `also` runs
    for statement in also:
        await session.exec(statement)  # type: ignore[call-overload]
    await session.commit()


def _log_received(rt: Runtime, record: FileRecord, new: NewFile) -> None:
    rt.analytics.log_event(
        EventType.FILE_RECEIVED,
        user_id=record.user_id,
        tenant_id=record.tenant_id,
        correlation_id=record.correlation_id,
        metadata={
            "file_id": record.id,
            "source": record.source,
            "filename": new.filename,
            "declared_type": new.declared_type,
            "size": record.size,
            "provenance": new.provenance,
            "parent_correlation_id": new.parent_correlation_id,
        },
    )
