"""The parse job records an email's files and the email's new status in one transaction: all of
them or none, a re-run adds only what an earlier run missed, and a part whose bytes cannot be
stored leaves its siblings alone."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from models import AnalyticsEvent, FileRecord, FileSource, InboundMessage, MessageStatus
from services.analytics import EventType
from services.identity import resolve_email_sender
from services.intake import NewFile, add_files, receive_email
from services.queue import process_file_job_id
from services.runtime import Runtime
from tests.factories.emails import build_email
from tests.factories.files import make_pdf
from tests.factories.records import recorded_file
from workers.parse_email import parse_email

SENDER = "ana@acme.example"
NOTES = b"Notes from the kookaburra workshop."


async def received(rt: Runtime) -> InboundMessage:
    """A stored email with two attachments, not parsed yet."""
    raw = build_email(
        SENDER,
        "files@ingest.test",
        "Two files",
        "See attached.",
        [
            ("policy.pdf", "application/pdf", make_pdf(["Travel policy for 2025"])),
            ("notes.txt", "text/plain", NOTES),
        ],
    )
    receipt = await receive_email(rt, raw, envelope_from=SENDER, channel="smtp")
    return receipt.message


async def files_of(rt: Runtime, message_id: str) -> list[FileRecord]:
    async with rt.sessions() as session:
        found = await session.exec(
            select(FileRecord)
            .where(FileRecord.inbound_message_id == message_id)
            .order_by(col(FileRecord.external_id))
        )
        return list(found.all())


async def status_of(rt: Runtime, message_id: str) -> str:
    async with rt.sessions() as session:
        message = await session.get(InboundMessage, message_id)
        assert message is not None
        return message.status


async def received_events(rt: Runtime) -> list[dict[str, Any]]:
    await rt.analytics.flush()
    async with rt.sessions() as session:
        events = await session.exec(
            select(AnalyticsEvent).where(AnalyticsEvent.event_type == EventType.FILE_RECEIVED)
        )
        return [event.event_metadata for event in events.all()]


async def test_a_rerun_records_only_the_files_an_earlier_run_missed(rt: Runtime) -> None:
    message = await received(rt)
    # an earlier run recorded the first part, then stopped before the message's status changed
    first, created = await recorded_file(
        rt,
        SENDER,
        NewFile(
            data=make_pdf(["Travel policy for 2025"]),
            filename="policy.pdf",
            external_id=f"{message.id}:0",
            inbound_message_id=message.id,
        ),
        source=FileSource.EMAIL,
    )
    assert created

    assert await parse_email({"rt": rt, "job_try": 1}, message.id) == "parsed"

    files = await files_of(rt, message.id)
    assert [(f.external_id, f.original_filename) for f in files] == [
        (f"{message.id}:0", "policy.pdf"),
        (f"{message.id}:1", "notes.txt"),
    ]
    assert files[0].id == first.id
    assert await status_of(rt, message.id) == MessageStatus.PARSED
    assert sorted(e["filename"] for e in await received_events(rt)) == ["notes.txt", "policy.pdf"]
    queued = await rt.require_redis().zrange(rt.settings.queue_name, 0, -1)
    assert {process_file_job_id(f.id).encode() for f in files} <= set(queued)


async def test_the_files_and_the_callers_statement_commit_together_or_not_at_all(
    rt: Runtime,
) -> None:
    message = await received(rt)
    async with rt.sessions() as session:
        tenant, user = await resolve_email_sender(session, rt.settings, SENDER)
    breaks_a_constraint = (
        update(InboundMessage).where(col(InboundMessage.id) == message.id).values(raw_key=None)
    )
    with pytest.raises(IntegrityError):
        await add_files(
            rt,
            tenant=tenant,
            user=user,
            source=FileSource.EMAIL,
            files=[
                NewFile(data=NOTES, filename="notes.txt", external_id=f"{message.id}:0"),
                NewFile(data=b"Second.", filename="second.txt", external_id=f"{message.id}:1"),
            ],
            also=[breaks_a_constraint],
        )
    assert await files_of(rt, message.id) == []
    assert await received_events(rt) == []


async def test_a_part_whose_bytes_cannot_be_stored_never_sinks_its_siblings(
    rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    message = await received(rt)
    put = rt.storage.put

    def disk_refuses_the_pdf(data: bytes) -> Any:
        if data.startswith(b"%PDF"):
            raise OSError(28, "No space left on device")
        return put(data)

    monkeypatch.setattr(rt.storage, "put", disk_refuses_the_pdf)

    assert await parse_email({"rt": rt, "job_try": 1}, message.id) == "parsed"

    files = await files_of(rt, message.id)
    assert [f.original_filename for f in files] == ["notes.txt"]
    assert rt.storage.get(files[0].storage_key or "") == NOTES
    assert await status_of(rt, message.id) == MessageStatus.PARSED
