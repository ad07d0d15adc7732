"""The `fetch_slack_file` job: a file shared in Slack → stored bytes → FileRecord → process_file.

Off the listener's path: who shared it (users.info on first sight), files.info for Slack
Connect stubs and file_shared events, the authorised download and its check, then the one
intake path every door uses (source=slack, external_id = the Slack file id). A download that
fails for good is recorded as a failed file with a reason and answered in the thread; a
transient one is retried with back-off.
"""

from __future__ import annotations

import asyncio
from typing import Any

import structlog
from arq import Retry
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from bot.client import web_client
from bot.download import Downloaded, SlackFileError, download, file_info
from bot.identity import resolve_slack_user
from bot.intake import log_duplicate, seen_in_message
from bot.shares import FileShare, message_location
from models import FileRecord, FileSource, FileStatus, Tenant, User
from models.base import utcnow
from services.analytics import EventType
from services.errors import ContentMindError, given_up
from services.intake import NewFile, add_file, enqueue_file
from services.runtime import Runtime
from workers.slack_replies import Place, post_outcome, reply_in_slack

log = structlog.get_logger(__name__)

# Failures that a new share of the same file may fix (scopes granted, bot invited): try again.
REFETCHABLE = frozenset(
    {"slack_download_unauthorized", "slack_connect_no_access", "slack_file_unavailable",
     "slack_download_failed"}
)  # fmt: skip


async def fetch_slack_file(ctx: dict[str, Any], share_data: dict[str, Any]) -> str:
    """Fetch one shared file and hand it to intake; safe to run twice."""
    rt: Runtime = ctx["rt"]
    share = FileShare.from_job(share_data)
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(
        correlation_id=share.correlation_id, slack_file_id=share.file_id
    )
    job_try = int(ctx.get("job_try", 1))
    try:
        return await _fetch(rt, web_client(rt.settings), share, job_try)
    except (Retry, asyncio.CancelledError):
        raise
    except Exception as error:  # our own I/O failed (database, storage, Redis): try again later
        if isinstance(error, ContentMindError) and not error.permanent:  # e.g. a rate limit
            log.warning("fetch_slack_file_retrying", reason=error.reason, detail=str(error))
        else:
            log.exception("fetch_slack_file_error", error_type=type(error).__name__)
        if job_try >= rt.settings.job_max_tries:
            raise
        raise Retry(defer=rt.settings.job_retry_backoff_s * job_try) from error


async def _fetch(rt: Runtime, client: AsyncWebClient, share: FileShare, job_try: int) -> str:
    if not share.user_id:
        log.warning("slack_share_without_user")
        return "no_user"
    if share.message_ts is None and await seen_in_message(rt, share):
        log_duplicate(rt, kind="file", event_id=share.event_id, retry=0, file_id=share.file_id)
        return "in_message"  # the upload's message event came after all: its job answers
    tenant, user = await resolve_slack_user(
        rt, client, team_id=share.team_id, user_id=share.user_id
    )
    structlog.contextvars.bind_contextvars(tenant_id=tenant.id, user_id=user.id)
    existing = await _existing(rt, tenant.id, share.file_id)
    if existing is not None and existing.reason not in REFETCHABLE:
        await _answer_again(rt, existing, await _locate_known(client, share))
        return "known"
    if job_try == 1:
        _log_initiated(rt, share, tenant, user)
    file: dict[str, Any] = dict(share.file)
    try:
        if share.is_stub or share.message_ts is None:
            file = {**file, **await file_info(client, share.file_id, slack_connect=_connect(share))}
            share = _located(share, file)
        got = await download(rt.settings, file)
    except ContentMindError as error:
        if not error.permanent and job_try < rt.settings.job_max_tries:
            raise Retry(defer=rt.settings.job_retry_backoff_s * job_try) from None
        final = given_up(error, job_try)
        record = await _record_failure(rt, tenant, user, share, file, final, existing)
        await reply_in_slack(rt, record)
        return "failed"
    return await _intake(rt, tenant, user, share, file, got, existing)


async def _locate_known(client: AsyncWebClient, share: FileShare) -> FileShare:
    """Where a file_shared event's share of a known file is (best effort: else the channel)."""
    if share.message_ts is not None:
        return share
    try:
        info = await file_info(client, share.file_id, slack_connect=_connect(share))
    except ContentMindError as error:
        log.info("slack_share_not_located", reason=error.reason)
        return share
    return _located(share, info)


def _connect(share: FileShare) -> bool:
    return share.is_ext_shared_channel or share.file.get("file_access") == "check_file_info"


def _located(share: FileShare, file: dict[str, Any]) -> FileShare:
    """A file_shared event names no message: find the share's message (thread) in files.info."""
    if share.message_ts is not None:
        return share
    message_ts, thread_ts = message_location(file, share.channel_id)
    return share.with_location(message_ts=message_ts, thread_ts=thread_ts)


async def _existing(rt: Runtime, tenant_id: str, file_id: str) -> FileRecord | None:
    async with rt.sessions() as session:
        statement = select(FileRecord).where(
            FileRecord.tenant_id == tenant_id,
            FileRecord.source == FileSource.SLACK,
            FileRecord.external_id == file_id,
        )
        return (await session.exec(statement)).first()


async def _answer_again(rt: Runtime, record: FileRecord, share: FileShare) -> None:
    """The same Slack file shared in another place: "already in your knowledge base" there."""
    if not FileStatus(record.status).is_final:
        log.info("slack_file_shared_again_while_processing", file_id=record.id)
        return
    place = Place(share.channel_id, share.reply_thread_ts, share.user_id)
    await post_outcome(rt, record, place, duplicate=record.status == FileStatus.COMPLETED)


def _log_initiated(rt: Runtime, share: FileShare, tenant: Tenant, user: User) -> None:
    rt.analytics.log_event(
        EventType.FILE_UPLOAD_INITIATED,
        user_id=user.id,
        tenant_id=tenant.id,
        correlation_id=share.correlation_id,
        metadata={
            "source": FileSource.SLACK,
            "slack_file_id": share.file_id,
            "filename": share.file.get("name"),
            "channel_id": share.channel_id,
            "channel_type": share.channel_type,
            "is_ext_shared_channel": share.is_ext_shared_channel,
            "event_id": share.event_id,
            "parent_correlation_id": share.parent_correlation_id,
        },
    )


def slack_details(share: FileShare, file: dict[str, Any]) -> dict[str, Any]:
    """What the thread reply and the item's provenance need (kept in FileRecord.details)."""
    return {
        "slack": {
            "team_id": share.team_id,
            "file_id": share.file_id,
            "user_id": share.user_id,
            "channel_id": share.channel_id,
            "channel_type": share.channel_type,
            "message_ts": share.message_ts,
            "thread_ts": share.reply_thread_ts,
            "permalink": file.get("permalink"),
            "is_ext_shared_channel": share.is_ext_shared_channel,
            "event_id": share.event_id,
        }
    }


def _filename(file: dict[str, Any], share: FileShare) -> str:
    name = file.get("name") or file.get("title")
    return str(name) if name else f"slack-file-{share.file_id}"


def _provenance(share: FileShare) -> str:
    if share.channel_type == "im":
        return "shared with the Slack bot in a direct message"
    if share.is_ext_shared_channel:
        return "shared in a Slack Connect channel"
    return "shared in a Slack channel"


async def _intake(
    rt: Runtime,
    tenant: Tenant,
    user: User,
    share: FileShare,
    file: dict[str, Any],
    got: Downloaded,
    existing: FileRecord | None,
) -> str:
    new = NewFile(
        data=got.data,
        filename=_filename(file, share),
        declared_type=file.get("mimetype") or got.content_type,
        external_id=share.file_id,
        provenance=_provenance(share),
        parent_correlation_id=share.parent_correlation_id,
        details=slack_details(share, file),
        correlation_id=share.correlation_id,
    )
    if existing is not None:  # an earlier download failed; this share brought the file
        record = await _refill(rt, existing, new)
    else:
        record, created = await add_file(
            rt, tenant=tenant, user=user, source=FileSource.SLACK, new=new
        )
        if not created:  # another share of the same file got there first
            await _answer_again(rt, record, share)
            return "known"
    await enqueue_file(rt, record)
    return "queued"


async def _refill(rt: Runtime, record: FileRecord, new: NewFile) -> FileRecord:
    blob = rt.storage.put(new.data)
    async with rt.sessions() as session:
        fresh = await session.get(FileRecord, record.id)
        assert fresh is not None
        fresh.storage_key, fresh.sha256, fresh.size = blob.key, blob.sha256, blob.size
        fresh.original_filename, fresh.declared_type = new.filename, new.declared_type
        fresh.status, fresh.reason, fresh.reason_message = FileStatus.PENDING, None, None
        fresh.attempts, fresh.completed_at, fresh.updated_at = 0, None, utcnow()
        fresh.details = {**(new.details or {}), "refetched": True}
        session.add(fresh)
        await session.commit()
        return fresh


async def _record_failure(
    rt: Runtime,
    tenant: Tenant,
    user: User,
    share: FileShare,
    file: dict[str, Any],
    error: ContentMindError,
    existing: FileRecord | None,
) -> FileRecord:
    """A file that never arrived: a failed FileRecord (no bytes) and FILE_FAILED with why."""
    record = await _save_failure(rt, tenant, user, share, file, error, existing)
    details = error.details if isinstance(error, SlackFileError) else {}
    log.info("slack_file_failed", reason=error.reason, **details)
    rt.analytics.log_event(
        EventType.FILE_FAILED,
        user_id=user.id,
        tenant_id=tenant.id,
        correlation_id=record.correlation_id,
        metadata={
            "file_id": record.id,
            "filename": record.original_filename,
            "source": FileSource.SLACK,
            "reason": error.reason,
            "message": error.user_message,
            "declared_type": file.get("mimetype"),
            "slack_file_id": share.file_id,
            "is_ext_shared_channel": share.is_ext_shared_channel,
            **details,
        },
    )
    return record


async def _save_failure(
    rt: Runtime,
    tenant: Tenant,
    user: User,
    share: FileShare,
    file: dict[str, Any],
    error: ContentMindError,
    existing: FileRecord | None,
) -> FileRecord:
    now = utcnow()
    async with rt.sessions() as session:
        record = await session.get(FileRecord, existing.id) if existing else None
        if record is None:
            record = FileRecord(
                tenant_id=tenant.id, user_id=user.id, source=FileSource.SLACK,
                external_id=share.file_id, original_filename=_filename(file, share),
                declared_type=file.get("mimetype"), size=0, sha256="",
                provenance=_provenance(share), correlation_id=share.correlation_id,
            )  # fmt: skip
        record.status, record.reason = FileStatus.FAILED, error.reason
        record.reason_message = error.user_message
        record.details = {
            **slack_details(share, file),
            "parent_correlation_id": share.parent_correlation_id,
        }
        record.updated_at = record.completed_at = now
        session.add(record)
        try:
            await session.commit()
        except IntegrityError:  # a concurrent share recorded it first
            await session.rollback()
            found = await _existing(rt, tenant.id, share.file_id)
            assert found is not None
            return found
        return record
