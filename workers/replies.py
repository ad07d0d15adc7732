"""Tell the sender of an email what became of every file in it, once all of them are done."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from email.message import EmailMessage

import structlog
from sqlalchemy import update
from sqlmodel import col, select

from models import FileRecord, FileStatus, InboundMessage, KnowledgeItem, MessageStatus
from models.base import utcnow
from services.analytics import EventType
from services.mailer import send_email
from services.rendering import create_environment, render
from services.runtime import Runtime

log = structlog.get_logger(__name__)

OUTCOME_WORDS = {
    FileStatus.COMPLETED: "added to your knowledge base",
    FileStatus.FAILED: "could not be processed",
    FileStatus.SKIPPED: "skipped",
}


@dataclass(frozen=True)
class FileOutcome:
    filename: str
    outcome: str
    ok: bool
    title: str | None
    summary: str | None
    reason: str | None
    reason_message: str | None


async def reply_when_complete(rt: Runtime, message_id: str, *, problem: str | None = None) -> bool:
    """Send the outcome reply if every file of the message is final and no reply went out yet."""
    if rt.settings.ingest_reply == "never":
        return False
    # two statements, each atomic on its own: the read, then the claim (a conditional UPDATE)
    async with rt.autocommit_sessions() as session:
        rows = (
            await session.exec(
                select(FileRecord, KnowledgeItem, InboundMessage)
                .join(InboundMessage, col(InboundMessage.id) == FileRecord.inbound_message_id)
                .outerjoin(KnowledgeItem, col(KnowledgeItem.id) == FileRecord.knowledge_id)
                .where(FileRecord.inbound_message_id == message_id)
                .order_by(col(FileRecord.created_at), col(FileRecord.external_id))
            )
        ).all()
        files = [record for record, _item, _message in rows]
        if any(not FileStatus(f.status).is_final for f in files):
            return False
        if (
            rt.settings.ingest_reply == "failures"
            and files
            and all(f.status == FileStatus.COMPLETED for f in files)
        ):
            return False
        # the message came with its files; a message without any is read on its own
        message = rows[0][2] if rows else await session.get(InboundMessage, message_id)
        assert message is not None
        # everything the reply needs is read before the claim: reply_sent_at is then set only
        # right before the reply goes out, never while the job still has work to do
        outcomes = [_outcome(record, item) for record, item, _message in rows]
        claimed = await session.exec(
            update(InboundMessage)
            .where(
                col(InboundMessage.id) == message_id,
                col(InboundMessage.reply_sent_at).is_(None),
                col(InboundMessage.status) != MessageStatus.RECEIVED,
            )
            .values(reply_sent_at=utcnow())
        )  # type: ignore[call-overload]
        await session.commit()
        if claimed.rowcount != 1:
            return False  # another job sent it, or the message is not parsed yet
    await _send(rt, message, outcomes, problem)
    return True


def _outcome(record: FileRecord, item: KnowledgeItem | None) -> FileOutcome:
    status = FileStatus(record.status)
    words = OUTCOME_WORDS[status]
    if record.reason == "duplicate":
        words = "already in your knowledge base"
    return FileOutcome(
        filename=record.original_filename,
        outcome=words,
        ok=status == FileStatus.COMPLETED,
        title=item.title if item else None,
        summary=item.summary if item else None,
        reason=record.reason,
        reason_message=record.reason_message if status != FileStatus.COMPLETED else None,
    )


async def _release_claim(rt: Runtime, message_id: str) -> None:
    async with rt.sessions() as session:
        await session.exec(
            update(InboundMessage)
            .where(col(InboundMessage.id) == message_id)
            .values(reply_sent_at=None)
        )  # type: ignore[call-overload]
        await session.commit()


def tally(outcomes: list[FileOutcome]) -> str:
    """ "2 added, 1 already known, 1 not added" — the parts that are not zero."""
    known = sum(1 for o in outcomes if o.reason == "duplicate")
    added = sum(1 for o in outcomes if o.ok) - known
    failed = sum(1 for o in outcomes if not o.ok)
    parts = [(added, "added"), (known, "already known"), (failed, "not added")]
    return ", ".join(f"{n} {words}" for n, words in parts if n) or "nothing to add"


def build_reply(
    rt: Runtime, message: InboundMessage, outcomes: list[FileOutcome], problem: str | None
) -> EmailMessage:
    env = create_environment(rt.settings.templates_dir)
    context = {
        "subject": message.subject or "(no subject)",
        "files": outcomes,
        "problem": problem,
        "correlation_id": message.correlation_id,
    }
    reply = EmailMessage()
    reply["From"] = rt.settings.mail_from
    reply["To"] = message.sender
    reply["Subject"] = f"Re: {message.subject or '(no subject)'} — ContentMind: {tally(outcomes)}"
    reply["Auto-Submitted"] = "auto-replied"
    if message.message_id:
        reply["In-Reply-To"] = f"<{message.message_id}>"
        reply["References"] = f"<{message.message_id}>"
    reply.set_content(render(env, "email/ingest_reply.txt.j2", **context))
    reply.add_alternative(render(env, "email/ingest_reply.html.j2", **context), subtype="html")
    return reply


async def _send(
    rt: Runtime, message: InboundMessage, outcomes: list[FileOutcome], problem: str | None
) -> None:
    # the last file's job sends it: its lines belong to the email, then the file's come back
    file_id = structlog.contextvars.get_contextvars().get("file_id")
    structlog.contextvars.unbind_contextvars("file_id")
    try:
        with structlog.contextvars.bound_contextvars(
            correlation_id=message.correlation_id, inbound_message_id=message.id
        ):
            await _send_reply(rt, message, outcomes, problem)
    finally:
        if file_id is not None:
            structlog.contextvars.bind_contextvars(file_id=file_id)


async def _send_reply(
    rt: Runtime, message: InboundMessage, outcomes: list[FileOutcome], problem: str | None
) -> None:
    reply = build_reply(rt, message, outcomes, problem)
    try:
        where = await send_email(rt.settings, reply)
    except asyncio.CancelledError:  # the worker is stopping: the job's re-run sends it
        await asyncio.shield(_release_claim(rt, message.id))
        raise
    except Exception as error:  # the files are done; a lost receipt must not fail the job
        log.exception("reply_failed", error_type=type(error).__name__)
        await _release_claim(rt, message.id)
        return
    rt.analytics.log_event(
        EventType.REPLY_SENT,
        user_id=message.user_id,
        tenant_id=message.tenant_id,
        correlation_id=message.correlation_id,
        metadata={
            "inbound_message_id": message.id,
            "files": len(outcomes),
            "failed": sum(1 for o in outcomes if not o.ok),
            "via": "outbox" if where != "relay" else "relay",
        },
    )
