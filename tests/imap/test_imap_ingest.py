"""IMAP ingest against a real dovecot: APPENDed mail becomes knowledge exactly once through the
real poller, intake and worker."""

from __future__ import annotations

import asyncio
import time

import pytest
import structlog
from sqlalchemy import text
from sqlmodel import select

from models import InboundMessage
from services.runtime import Runtime
from tests.e2e.conftest import Pipeline
from tests.factories.emails import build_email
from tests.factories.files import make_docx, make_pdf
from tests.imap.conftest import (
    Mailbox,
    folder_states,
    ingest_running,
    processed,
    require_tls,
    wait_passes,
    wait_until,
)

SENDER = "alice@acme.example"
INGEST = "files@acme.example"
PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def pdf_mail(subject: str, word: str, filename: str | None = None) -> bytes:
    """A mail with one PDF whose text holds `word` (Message-ID derived from the subject)."""
    pdf = make_pdf([subject, f"The {word} report is attached for the archive."])
    return build_email(
        SENDER, INGEST, subject, "See attached.", [(filename or f"{word}.pdf", PDF, pdf)]
    )


async def message_count(pipeline: Pipeline) -> int:
    return len(await pipeline.messages())


async def test_each_appended_message_becomes_knowledge_exactly_once(
    imap_pipeline: Pipeline, mailbox: Mailbox
) -> None:
    """Two appended mails → their PDF and DOCX become knowledge once each; both marked \\Seen."""
    await mailbox.append(pdf_mail("Warehouse audit", "Quillfeather", "audit.pdf"))
    docx = make_docx(["Hiring plan", "We will hire three Marlinspike engineers in spring."])
    await mailbox.append(
        build_email(SENDER, INGEST, "Hiring", "The plan.", [("hiring.docx", DOCX, docx)])
    )
    rt = imap_pipeline.rt
    async with ingest_running(rt, [mailbox.account()]) as ingest:
        files = await imap_pipeline.wait_done(messages=2)
        assert ingest.statuses[0].ingested == 2

    assert sorted((f.original_filename, f.status) for f in files) == [
        ("audit.pdf", "completed"),
        ("hiring.docx", "completed"),
    ]
    items = {item.original_filename: item for item in await imap_pipeline.items()}
    assert "Quillfeather" in items["audit.pdf"].full_text
    assert "Marlinspike" in items["hiring.docx"].full_text
    messages = await imap_pipeline.messages()
    assert [m.channel for m in messages] == ["imap", "imap"]
    received = await imap_pipeline.events("EMAIL_RECEIVED")
    assert [e.event_metadata["channel"] for e in received] == ["imap", "imap"]
    assert await imap_pipeline.events("EMAIL_DUPLICATE") == []
    rows = await processed(rt)
    assert [(r.uid, r.status) for r in rows] == [(1, "ok"), (2, "ok")]
    assert {r.inbound_message_id for r in rows} == {m.id for m in messages}
    assert [(s.folder, s.last_uid) for s in await folder_states(rt)] == [("INBOX", 2)]
    assert all("\\Seen" in flags for flags in (await mailbox.messages()).values())


async def test_restarting_the_poller_reprocesses_nothing(
    imap_pipeline: Pipeline, mailbox: Mailbox
) -> None:
    """A second poller on the same mailbox fetches nothing again; new mail still arrives once."""
    rt = imap_pipeline.rt
    await mailbox.append(pdf_mail("First batch", "Zephyrline"))
    async with ingest_running(rt, [mailbox.account()]):
        await imap_pipeline.wait_done(messages=1)
    rows_before = [(r.uid, r.status, r.inbound_message_id) for r in await processed(rt)]

    async with ingest_running(rt, [mailbox.account()]) as ingest:
        await wait_passes(ingest, 1)
        assert ingest.statuses[0].ingested == 0
        await mailbox.append(pdf_mail("Second batch", "Borealis"))
        await imap_pipeline.wait_done(messages=2)

    rows = [(r.uid, r.status, r.inbound_message_id) for r in await processed(rt)]
    assert rows[:1] == rows_before and [(u, s) for u, s, _ in rows] == [(1, "ok"), (2, "ok")]
    assert await message_count(imap_pipeline) == 2
    assert len(await imap_pipeline.items()) == 2
    assert len(await imap_pipeline.events("EMAIL_RECEIVED")) == 2
    assert await imap_pipeline.events("EMAIL_DUPLICATE") == []


async def test_lost_bookkeeping_never_duplicates_knowledge(
    imap_pipeline: Pipeline, mailbox: Mailbox
) -> None:
    """Records lost after intake: the mail is fetched again but stays one message and item."""
    rt = imap_pipeline.rt
    await mailbox.append(pdf_mail("Only once", "Quokka"))
    async with ingest_running(rt, [mailbox.account()]):
        await imap_pipeline.wait_done(messages=1)
    async with rt.sessions() as session:  # forget the IMAP records, as a crash before them would
        for table in ("imap_processed_message", "imap_folder_state"):
            await session.exec(text(f"DELETE FROM {table}"))  # type: ignore[call-overload]
        await session.commit()

    async with ingest_running(rt, [mailbox.account()]) as ingest:
        await wait_passes(ingest, 1)

    assert await message_count(imap_pipeline) == 1
    assert len(await imap_pipeline.items()) == 1
    assert len(await imap_pipeline.events("EMAIL_DUPLICATE")) == 1
    assert [(r.uid, r.status) for r in await processed(rt)] == [(1, "ok")]


async def test_message_appended_while_idle_is_picked_up_at_once(
    imap_pipeline: Pipeline, mailbox: Mailbox
) -> None:
    """IDLE: a message appended to the idling mailbox is received within a second or two."""
    account = mailbox.account(poll_interval_s=120, idle_timeout_s=120)
    async with ingest_running(imap_pipeline.rt, [account]) as ingest:
        status = ingest.statuses[0]
        await wait_until(lambda: status.idling and status.passes >= 1, what="idling")
        await mailbox.append(pdf_mail("Fresh news", "Halcyon"))
        started = time.monotonic()
        await wait_until(lambda: message_count(imap_pipeline), what="message received")
        elapsed = time.monotonic() - started
        await imap_pipeline.wait_done(messages=1)
        assert status.connects == 1 and status.idle_cycles >= 1

    assert elapsed < 2.0, f"picked up after {elapsed:.2f} s"
    assert [f.status for f in await imap_pipeline.files()] == ["completed"]


async def test_idle_is_reissued_before_its_timeout(rt: Runtime, mailbox: Mailbox) -> None:
    """IDLE ends and is issued again every idle_timeout_s on the same connection."""
    account = mailbox.account(idle_timeout_s=0.3, poll_interval_s=120)
    async with ingest_running(rt, [account]) as ingest:
        status = ingest.statuses[0]
        await wait_until(lambda: status.idle_cycles >= 4, timeout=10, what="4 IDLE cycles")
        assert status.connects == 1 and status.connected
    assert status.passes >= 4
    assert [e for e in await _events(rt) if e.startswith("IMAP_")] == []


async def _events(rt: Runtime, event_type: str | None = None) -> list[str]:
    await rt.analytics.flush()
    return [e.event_type for e in await Pipeline(rt).events(event_type)]


async def test_poller_polls_when_idle_is_off(imap_pipeline: Pipeline, mailbox: Mailbox) -> None:
    """Without IDLE the folder is polled every poll_interval_s."""
    account = mailbox.account(use_idle=False, poll_interval_s=0.2)
    async with ingest_running(imap_pipeline.rt, [account]) as ingest:
        await wait_passes(ingest, 2)
        await mailbox.append(pdf_mail("Polled", "Vireo"))
        await imap_pipeline.wait_done(messages=1)
        assert ingest.statuses[0].idle_cycles == 0
    assert [f.original_filename for f in await imap_pipeline.files()] == ["Vireo.pdf"]


@pytest.mark.parametrize(
    ("action", "folder", "flag"),
    [
        ("keyword:ContentMindDone", "INBOX", "ContentMindDone"),
        ("move:Done/Ingested", "Done/Ingested", ""),
    ],
)
async def test_after_success_action_is_applied(
    imap_pipeline: Pipeline, mailbox: Mailbox, action: str, folder: str, flag: str
) -> None:
    """after_success: a keyword is set (not \\Seen), or the message is moved to a new folder,
    marked read there like a message read in a mail client."""
    await mailbox.append(pdf_mail("Acted on", "Kestrel"))
    async with ingest_running(imap_pipeline.rt, [mailbox.account(after_success=action)]):
        await imap_pipeline.wait_done(messages=1)

    messages = await mailbox.messages(folder)
    assert len(messages) == 1
    flags = next(iter(messages.values()))
    if flag:
        assert flag in flags and "\\Seen" not in flags
    else:
        assert await mailbox.messages("INBOX") == {}
        assert "\\Seen" in flags


async def test_unparseable_message_is_quarantined_and_the_next_one_processed(
    imap_pipeline: Pipeline, mailbox: Mailbox
) -> None:
    """A mail without headers is moved to ContentMind/Errors once; the next one is processed."""
    rt = imap_pipeline.rt
    await mailbox.append(b"this is not an email at all\r\njust some words\r\n")
    await mailbox.append(pdf_mail("After the junk", "Pangolin"))
    account = mailbox.account(idle_timeout_s=0.2)
    async with ingest_running(rt, [account]) as ingest:
        await imap_pipeline.wait_done(messages=1)
        passes = ingest.statuses[0].passes
        await wait_passes(ingest, passes + 3)
        assert ingest.statuses[0].quarantined == 1

    assert "ContentMind/Errors" in await mailbox.folders()
    assert len(await mailbox.messages("ContentMind/Errors")) == 1
    assert [flags for flags in (await mailbox.messages()).values()] == [{"\\Seen"}]
    rows = await processed(rt)
    assert [(r.uid, r.status, r.reason) for r in rows] == [
        (1, "quarantined", "no_sender"),
        (2, "ok", None),
    ]
    errors = await imap_pipeline.events("IMAP_ERROR")
    assert [(e.event_metadata["reason"], e.event_metadata["cause"]) for e in errors] == [
        ("quarantined", "no_sender")
    ]
    assert [f.original_filename for f in await imap_pipeline.files()] == ["Pangolin.pdf"]
    assert await message_count(imap_pipeline) == 1


async def test_oversized_message_is_flagged_without_download(rt: Runtime, mailbox: Mailbox) -> None:
    """A message over the size limit is quarantined from its size alone, flagged by keyword."""
    await mailbox.append(pdf_mail("Too big", "Mammoth"))
    account = mailbox.account(max_message_bytes=500, on_error="keyword:ContentMindError")
    async with ingest_running(rt, [account]) as ingest:
        await wait_passes(ingest, 1)

    assert [(r.uid, r.status, r.reason) for r in await processed(rt)] == [
        (1, "quarantined", "too_large")
    ]
    assert list((await mailbox.messages()).values()) == [{"ContentMindError"}]
    async with rt.sessions() as session:
        assert (await session.exec(select(InboundMessage))).all() == []


async def test_refused_sender_is_quarantined(rt: Runtime, mailbox: Mailbox) -> None:
    """The account's own allowlist refuses the sender: quarantined as sender_not_allowed."""
    await mailbox.append(pdf_mail("Unknown sender", "Okapi"))
    account = mailbox.account(sender_policy="allowlist", allowed_senders=["@other.example"])
    async with ingest_running(rt, [account]) as ingest:
        await wait_passes(ingest, 1)
    assert [(r.status, r.reason) for r in await processed(rt)] == [
        ("quarantined", "sender_not_allowed")
    ]
    assert len(await mailbox.messages("ContentMind/Errors")) == 1


async def test_wrong_password_is_reported_once_without_a_tight_loop(
    rt: Runtime, mailbox: Mailbox
) -> None:
    """LOGIN refused: one error log line and one IMAP_ERROR auth_failed; retried only slowly."""
    account = mailbox.account(password="not-the-password", auth_retry_s=0.3)
    with structlog.testing.capture_logs() as logs:
        async with ingest_running(rt, [account]) as ingest:
            await asyncio.sleep(1.5)
            status = ingest.statuses[0]
            started = time.monotonic()
        stopped_in = time.monotonic() - started

    assert 2 <= status.connects <= 7, status.connects  # every auth_retry_s, not in a tight loop
    assert status.passes == 0 and status.last_problem == "auth_failed"
    refused = [entry for entry in logs if entry["event"] == "imap_account_refused"]
    assert len(refused) == 1 and refused[0]["log_level"] == "error"
    assert refused[0]["reason"] == "auth_failed" and "not-the-password" not in str(refused)
    errors = await Pipeline(rt).events("IMAP_ERROR")
    assert [e.event_metadata["reason"] for e in errors] == ["auth_failed"]
    assert "not-the-password" not in str([e.event_metadata for e in errors])
    assert stopped_in < 2.0


async def test_uidvalidity_change_rescans_without_reprocessing(
    imap_pipeline: Pipeline, mailbox: Mailbox
) -> None:
    """New UIDVALIDITY: the folder is reread; known Message-IDs skip intake, the new mail not."""
    rt = imap_pipeline.rt
    first, second = pdf_mail("Old one", "Ibis"), pdf_mail("Old two", "Heron")
    await asyncio.to_thread(mailbox.client.create, "Ingest")
    for raw in (first, second):
        await mailbox.append(raw, "Ingest")
    account = mailbox.account(folder="Ingest")
    async with ingest_running(rt, [account]):
        await imap_pipeline.wait_done(messages=2)
    (old_state,) = await folder_states(rt)

    await asyncio.to_thread(mailbox.client.delete, "Ingest")
    await asyncio.to_thread(mailbox.client.create, "Ingest")
    for raw in (first, second, pdf_mail("New three", "Egret")):
        await mailbox.append(raw, "Ingest")
    async with ingest_running(rt, [account]) as ingest:
        await imap_pipeline.wait_done(messages=3)
        await wait_passes(ingest, 1)

    (state,) = await folder_states(rt)
    assert state.uidvalidity != old_state.uidvalidity and state.last_uid == 3
    rows = await processed(rt)
    assert [(r.uidvalidity == state.uidvalidity, r.uid, r.status) for r in rows] == [
        (False, 1, "ok"), (False, 2, "ok"), (True, 1, "ok"), (True, 2, "ok"), (True, 3, "ok"),
    ]  # fmt: skip
    assert rows[0].inbound_message_id == rows[2].inbound_message_id
    assert await message_count(imap_pipeline) == 3
    assert len(await imap_pipeline.events("EMAIL_RECEIVED")) == 3
    assert await imap_pipeline.events("EMAIL_DUPLICATE") == []
    assert sorted(i.original_filename for i in await imap_pipeline.items()) == [
        "Egret.pdf", "Heron.pdf", "Ibis.pdf",
    ]  # fmt: skip


@pytest.mark.parametrize("security", ["tls", "starttls"])
async def test_encrypted_connection_with_a_trusted_certificate(
    imap_pipeline: Pipeline, mailbox: Mailbox, security: str
) -> None:
    """Implicit TLS (the imaps port) and STARTTLS (the plain port) both ingest mail."""
    server = mailbox.server
    require_tls(server)
    port = server.tls_port if security == "tls" else server.port
    account = mailbox.account(security=security, port=port, tls_ca_file=server.cert_file)
    await mailbox.append(pdf_mail("Over TLS", "Cormorant"))
    async with ingest_running(imap_pipeline.rt, [account]):
        await imap_pipeline.wait_done(messages=1)
    assert [f.original_filename for f in await imap_pipeline.files()] == ["Cormorant.pdf"]
    assert await imap_pipeline.events("IMAP_ERROR") == []


async def test_untrusted_certificate_is_reported_once(rt: Runtime, mailbox: Mailbox) -> None:
    """A self-signed certificate that is not trusted: IMAP_ERROR config_error, once."""
    require_tls(mailbox.server)
    account = mailbox.account(security="tls", port=mailbox.server.tls_port, auth_retry_s=0.2)
    async with ingest_running(rt, [account]) as ingest:
        await wait_until(lambda: ingest.statuses[0].connects >= 3, what="three attempts")
    errors = await Pipeline(rt).events("IMAP_ERROR")
    assert [e.event_metadata["reason"] for e in errors] == ["config_error"]
    assert "certificate" in errors[0].event_metadata["detail"]


async def test_tls_against_a_plaintext_port_is_a_setting_to_fix_reported_once(
    rt: Runtime, mailbox: Mailbox
) -> None:
    """`security` left at its default (tls) on port 143: one config_error naming the setting,
    not endless "server unavailable" retries."""
    account = mailbox.account(security="tls", port=mailbox.server.port, auth_retry_s=0.2)
    async with ingest_running(rt, [account]) as ingest:
        await wait_until(lambda: ingest.statuses[0].connects >= 3, what="three attempts")
    errors = await Pipeline(rt).events("IMAP_ERROR")
    assert [e.event_metadata["reason"] for e in errors] == ["config_error"]
    assert "does not speak TLS" in errors[0].event_metadata["detail"]
    assert '"security": "starttls"' in errors[0].event_metadata["detail"]
