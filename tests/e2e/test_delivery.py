"""Delivery over real SMTP: partial failures, duplicate deliveries, tenant isolation, policy."""

from __future__ import annotations

import asyncio
import smtplib
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from services.knowledge import search
from services.settings import SenderPolicy, Settings
from tests.e2e.conftest import SENDER, Pipeline, pipeline_with
from tests.e2e.test_cases_files import DOCX, body_of, of_file
from tests.e2e.test_cases_files import mail_with as _mail_with
from tests.factories.files import make_docx
from workers.pool import AnalysisPool

GOOD_DOCX = make_docx(["Supplier review", "The Gannetworth contract renews in June."])
BROKEN_DOCX = GOOD_DOCX[: len(GOOD_DOCX) // 2]  # cut off halfway, as by a failed upload


def mail_with(to: str, *attachments: tuple[str, bytes], sender: str = SENDER) -> bytes:
    return _mail_with(to, [(name, data, DOCX) for name, data in attachments], sender=sender)


@dataclass(frozen=True)
class Dialogue:
    """The server's replies to one SMTP transaction: MAIL FROM, RCPT TO and DATA (if reached)."""

    mail: tuple[int, bytes]
    rcpt: tuple[int, bytes] | None = None
    data: tuple[int, bytes] | None = None


def _dialogue(port: int, sender: str, to: str, raw: bytes) -> Dialogue:
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
        client.ehlo()
        mail = client.mail(sender)
        if mail[0] != 250:
            return Dialogue(mail)
        rcpt = client.rcpt(to)
        if rcpt[0] != 250:
            return Dialogue(mail, rcpt)
        return Dialogue(mail, rcpt, client.data(raw))


async def talk(pipeline: Pipeline, raw: bytes, *, sender: str = SENDER) -> Dialogue:
    """One SMTP transaction, keeping every status code (smtplib.sendmail hides them)."""
    return await asyncio.to_thread(_dialogue, pipeline.port, sender, pipeline.ingest_address, raw)


@pytest.fixture
async def allowlist_pipeline(
    settings: Settings, analysis_pool: AnalysisPool
) -> AsyncIterator[Pipeline]:
    """The real pipeline accepting only senders at acme.example."""
    async with pipeline_with(
        settings,
        analysis_pool,
        sender_policy=SenderPolicy.ALLOWLIST,
        allowed_senders=["@acme.example"],
    ) as pipeline:
        yield pipeline


async def test_corrupt_attachment_fails_alone_and_reply_lists_both(pipeline: Pipeline) -> None:
    """A damaged DOCX fails with its reason, its good sibling lands, the reply tells both."""
    await pipeline.send(
        mail_with(pipeline.ingest_address, ("broken.docx", BROKEN_DOCX), ("review.docx", GOOD_DOCX))
    )
    files = {f.original_filename: f for f in await pipeline.wait_done()}
    broken, good = files["broken.docx"], files["review.docx"]
    assert (broken.status, broken.reason, broken.knowledge_id) == ("failed", "corrupt_file", None)
    assert broken.reason_message == "The file is damaged or incomplete and could not be opened."
    assert good.status == "completed"
    [item] = await pipeline.items()
    assert item.id == good.knowledge_id and "Gannetworth" in item.full_text

    [reply] = pipeline.outbox()
    assert reply["To"] == SENDER
    assert "1 added, 1 not added" in reply["Subject"]
    text = body_of(reply)
    assert "review.docx: added to your knowledge base" in text
    assert "broken.docx: could not be processed" in text
    assert "Why: The file is damaged or incomplete and could not be opened." in text
    assert "corrupt_file" not in text and "Traceback" not in text
    html = body_of(reply, "html")
    assert "broken.docx" in html and "damaged or incomplete" in html


async def test_same_message_delivered_twice_is_stored_and_answered_once(
    pipeline: Pipeline,
) -> None:
    """A redelivery (same Message-ID) gets 250 but makes no new message, file, item or reply."""
    raw = mail_with(pipeline.ingest_address, ("review.docx", GOOD_DOCX))
    first = await talk(pipeline, raw)
    second = await talk(pipeline, raw)  # typically while the first is still being processed
    assert first.data is not None and first.data[0] == 250
    assert second.data is not None and second.data[0] == 250
    [file] = await pipeline.wait_done()
    late = await talk(pipeline, raw)  # and once more after everything is done
    assert late.data is not None and late.data[0] == 250
    await asyncio.sleep(1.0)  # room for any (wrong) second parse, file job or reply

    [message] = await pipeline.messages()
    assert message.correlation_id.encode() in first.data[1]
    assert (
        message.correlation_id.encode() in second.data[1]
        and message.correlation_id.encode() in late.data[1]
    )
    assert [f.id for f in await pipeline.files()] == [file.id]
    assert file.status == "completed" and len(await pipeline.items()) == 1
    events = await pipeline.events()
    assert [e.event_type for e in events].count("EMAIL_RECEIVED") == 1
    duplicates = [e for e in events if e.event_type == "EMAIL_DUPLICATE"]
    assert len(duplicates) == 2
    assert {e.event_metadata["inbound_message_id"] for e in duplicates} == {message.id}
    assert [e.event_type for e in events].count("FILE_RECEIVED") == 1
    assert [e.event_type for e in events].count("REPLY_SENT") == 1
    assert len(pipeline.outbox()) == 1


async def test_same_file_twice_in_one_tenant_is_one_item_and_tenants_stay_apart(
    pipeline: Pipeline,
) -> None:
    """One tenant sending a file twice gets one item; another tenant gets its own, unseen by A."""
    await pipeline.send(mail_with(pipeline.ingest_address, ("review.docx", GOOD_DOCX)))
    [first] = await pipeline.wait_done()
    await pipeline.send(mail_with(pipeline.ingest_address, ("review-again.docx", GOOD_DOCX)))
    files = await pipeline.wait_done(messages=2)
    second = files[1]
    [item_a] = await pipeline.items()
    assert first.status == "completed" and first.knowledge_id == item_a.id
    assert (second.status, second.reason, second.knowledge_id) == (
        "completed",
        "duplicate",
        item_a.id,
    )
    events = await pipeline.events()
    [deduped] = of_file(events, second, "FILE_DEDUPED")
    assert deduped.event_metadata["original_file_id"] == first.id
    assert [e.event_type for e in events].count("FILE_PROCESSED") == 1
    assert "review-again.docx: already in your knowledge base" in (body_of(pipeline.outbox()[1]))

    other = "carol@globex.example"
    await pipeline.send(
        mail_with(pipeline.ingest_address, ("review.docx", GOOD_DOCX), sender=other),
        sender=other,
    )
    files = await pipeline.wait_done(messages=3)
    theirs = files[2]
    assert theirs.tenant_id != first.tenant_id
    assert theirs.status == "completed" and theirs.reason is None
    items = {i.tenant_id: i for i in await pipeline.items()}
    assert set(items) == {first.tenant_id, theirs.tenant_id}
    item_b = items[theirs.tenant_id]
    assert item_b.id == theirs.knowledge_id != item_a.id and item_b.user_id == theirs.user_id
    async with pipeline.rt.sessions() as session:
        hits_a = await search(session, tenant_id=first.tenant_id, query="Gannetworth")
        hits_b = await search(session, tenant_id=theirs.tenant_id, query="Gannetworth contract")
    assert [h.id for h in hits_a] == [item_a.id]
    assert [h.id for h in hits_b] == [item_b.id]


async def test_same_file_in_two_emails_at_once_yields_one_item(pipeline: Pipeline) -> None:
    """Two emails with one file, processed concurrently: one item, the other record a duplicate."""
    colleague = "bob@acme.example"
    await asyncio.gather(
        pipeline.send(mail_with(pipeline.ingest_address, ("review.docx", GOOD_DOCX))),
        pipeline.send(
            mail_with(pipeline.ingest_address, ("review.docx", GOOD_DOCX), sender=colleague),
            sender=colleague,
        ),
    )
    files = await pipeline.wait_done(messages=2)
    [item] = await pipeline.items()
    assert [(f.status, f.knowledge_id) for f in files] == [("completed", item.id)] * 2
    assert sorted(str(f.reason) for f in files) == ["None", "duplicate"]
    [original] = [f for f in files if f.reason is None]
    assert item.file_id == original.id and item.user_id == original.user_id
    events = await pipeline.events()
    assert [e.event_type for e in events].count("FILE_PROCESSED") == 1
    [deduped] = [e for e in events if e.event_type == "FILE_DEDUPED"]
    assert deduped.event_metadata["original_file_id"] == original.id
    assert len(pipeline.outbox()) == 2


async def test_sender_outside_allowlist_is_refused_with_550(allowlist_pipeline: Pipeline) -> None:
    """Allowlist: a stranger gets 550 + INGEST_REJECTED and nothing is stored; a member gets in."""
    pipeline = allowlist_pipeline
    stranger = "mallory@evil.example"
    refused = await talk(
        pipeline, mail_with(pipeline.ingest_address, ("review.docx", GOOD_DOCX)), sender=stranger
    )
    code, text = refused.mail
    assert code == 550 and refused.data is None
    assert text.decode() == (
        f"5.7.1 {stranger} is not allowed to send files to this ContentMind server"
    )
    [rejected] = await pipeline.events("INGEST_REJECTED")
    assert rejected.event_metadata == {
        "reason": "sender_not_allowed",
        "channel": "smtp",
        "sender": stranger,
    }
    assert await pipeline.messages() == [] and await pipeline.files() == []
    storage = pipeline.rt.settings.storage_dir
    assert not storage.exists() or not any(p.is_file() for p in storage.rglob("*"))

    accepted = await talk(pipeline, mail_with(pipeline.ingest_address, ("review.docx", GOOD_DOCX)))
    assert accepted.data is not None and accepted.data[0] == 250
    [file] = await pipeline.wait_done()
    assert file.status == "completed"
    assert len(await pipeline.events("INGEST_REJECTED")) == 1
