"""The shared real-world email cases through the real path: an SMTP session, then the worker."""

from __future__ import annotations

import asyncio
import smtplib
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from email.message import Message

import pytest

from models import AnalyticsEvent, FileRecord, KnowledgeItem
from services.knowledge import search
from services.settings import Settings
from tests.e2e.conftest import SENDER, Pipeline, pipeline_with
from tests.factories import emails as factory
from tests.factories.files import make_pdf, make_truncated_pdf
from workers.pool import AnalysisPool

SMALL_LIMIT = 20_000  # bytes: the configured message size limit of the 013 tests


# --- helpers -------------------------------------------------------------------------------


def by_name(records: list[FileRecord]) -> dict[str, FileRecord]:
    named = {record.original_filename: record for record in records}
    assert len(named) == len(records), [record.original_filename for record in records]
    return named


async def items_by_name(pipeline: Pipeline) -> dict[str, KnowledgeItem]:
    items = await pipeline.items()
    named = {item.original_filename: item for item in items}
    assert len(named) == len(items), [item.original_filename for item in items]
    return named


def metadata_of(events: list[AnalyticsEvent], event_type: str) -> list[dict]:
    return [event.event_metadata for event in events if event.event_type == event_type]


def one_line(text: str) -> str:
    """Text with every run of whitespace made one space (PDF and CSV text keep line breaks)."""
    return " ".join(text.split())


async def deliver_and_process(pipeline: Pipeline, raw: bytes) -> dict[str, FileRecord]:
    assert await pipeline.send(raw) == {}
    return by_name(await pipeline.wait_done())


async def replies(pipeline: Pipeline, timeout_s: float = 10.0) -> list[Message]:
    """The outbox once the reply is written (REPLY_SENT), not merely claimed by a job."""
    deadline = time.monotonic() + timeout_s
    while not await pipeline.events("REPLY_SENT"):
        assert time.monotonic() < deadline, "no REPLY_SENT event"
    return pipeline.outbox()


def assert_completed(files: dict[str, FileRecord], *names: str) -> None:
    for name in names:
        assert files[name].status == "completed", (name, files[name].reason)
        assert files[name].knowledge_id


# --- 001-011: MIME structure ----------------------------------------------------------------


async def test_case_001_inline_pdf_becomes_item_and_cid_logo_is_skipped(
    pipeline: Pipeline,
) -> None:
    """Apple Mail's inline PDF becomes an item; the cid: logo is skipped with its reason."""
    files = await deliver_and_process(pipeline, factory.case_001_inline_pdf_apple_mail())

    assert list(files) == ["Invoice_4711.pdf"]
    assert_completed(files, "Invoice_4711.pdf")
    items = await items_by_name(pipeline)
    assert list(items) == ["Invoice_4711.pdf"]
    text = one_line(items["Invoice_4711.pdf"].full_text)
    assert "INVOICE 4711" in text and "249.00 EUR" in text
    [message] = await pipeline.messages()
    assert message.body_text == "Here is the invoice, please file it."
    events = await pipeline.events()
    skipped = metadata_of(events, "FILE_SKIPPED")
    assert [(s["filename"], s["reason"]) for s in skipped] == [
        ("logo.png", "inline_image_referenced_by_body")
    ]
    assert len(metadata_of(events, "EMAIL_RECEIVED")) == 1
    assert len(metadata_of(events, "FILE_PROCESSED")) == 1


async def test_case_002_octet_stream_pdf_is_sniffed_and_blob_skipped_as_unsupported(
    pipeline: Pipeline,
) -> None:
    """A PDF sent as octet-stream is read by its bytes; blob.bin is skipped as unsupported_type."""
    files = await deliver_and_process(pipeline, factory.case_002_octet_stream_pdf())

    assert set(files) == {"Rechnung_2024-017.pdf", "blob.bin"}
    assert_completed(files, "Rechnung_2024-017.pdf")
    invoice, blob = files["Rechnung_2024-017.pdf"], files["blob.bin"]
    assert invoice.declared_type == "application/octet-stream"
    assert invoice.detected_type == "application/pdf"
    assert (blob.status, blob.reason, blob.knowledge_id) == ("skipped", "unsupported_type", None)
    items = await items_by_name(pipeline)
    assert list(items) == ["Rechnung_2024-017.pdf"]
    text = one_line(items["Rechnung_2024-017.pdf"].full_text)
    assert "Rechnung 2024-017" in text and "1.190,00 EUR" in text

    events = await pipeline.events()
    [skipped] = metadata_of(events, "FILE_SKIPPED")
    assert skipped["filename"] == "blob.bin" and skipped["reason"] == "unsupported_type"
    assert skipped["declared_type"] == "application/octet-stream"
    assert skipped["detected_type"] == blob.detected_type and blob.detected_type
    [processed] = metadata_of(events, "FILE_PROCESSED")
    assert processed["declared_type"] == "application/octet-stream"
    assert processed["detected_type"] == "application/pdf"


async def test_case_003_encoded_word_filenames_are_decoded_exactly(pipeline: Pipeline) -> None:
    """Encoded-words split mid-character give exact names on records and items; keys stay safe."""
    files = await deliver_and_process(pipeline, factory.case_003_rfc2047_filenames())

    names = ["Rechnungsübersicht März 2024.pdf", "Résumé 2024.txt"]
    assert sorted(files) == sorted(names)
    assert_completed(files, *names)
    for record in files.values():
        assert record.storage_key and all(c.isalnum() or c in "-_." for c in record.storage_key)
    items = await items_by_name(pipeline)
    assert sorted(items) == sorted(names)
    assert "Rechnungsuebersicht Maerz 2024" in one_line(items[names[0]].full_text)
    assert factory.RESUME_TEXT in items[names[1]].full_text


async def test_case_005_angle_bracket_boundary_parts_are_recovered(pipeline: Pipeline) -> None:
    """A "<<...>>" boundary is recovered: the body and roomplan.csv with both rows are stored."""
    files = await deliver_and_process(pipeline, factory.case_005_boundary_angle_brackets())

    assert list(files) == ["roomplan.csv"]
    assert_completed(files, "roomplan.csv")
    [message] = await pipeline.messages()
    assert message.status == "parsed" and message.body_text == "Room plan attached."
    text = (await items_by_name(pipeline))["roomplan.csv"].full_text
    assert [line for line in text.splitlines() if line.strip()] == [
        "date,room,topic",
        "2024-03-06,B2,Kickoff",
        "2024-03-13,B2,Review",
    ]
    defects = [m["defect"] for m in metadata_of(await pipeline.events(), "EMAIL_PARSE_DEFECT")]
    assert any("recovered" in defect for defect in defects), defects


async def test_case_005_unrecoverable_boundary_fails_visibly_and_keeps_the_raw_mail(
    pipeline: Pipeline,
) -> None:
    """No delimiter matches: EMAIL_PARSE_FAILED boundary_not_found, raw kept, the sender told."""
    raw = factory.case_005_boundary_angle_brackets().replace(
        b'boundary="<<7f3a-20240305-b9>>"', b'boundary="declared-but-never-used"'
    )
    assert await pipeline.send(raw) == {}
    assert await pipeline.wait_done() == []

    [message] = await pipeline.messages()
    assert message.status == "failed" and "boundary_not_found" in message.defects
    assert pipeline.rt.storage.get(message.raw_key) == raw
    failed = metadata_of(await pipeline.events(), "EMAIL_PARSE_FAILED")
    assert [f["reason"] for f in failed] == ["boundary_not_found"]
    [reply] = await replies(pipeline)
    assert "boundary was not found" in one_line(reply.get_body(("plain",)).get_content())


async def test_case_007_chunk_padded_base64_keeps_every_csv_row(pipeline: Pipeline) -> None:
    """base64 padded line by line decodes to all four lines of stock.csv, not just the header."""
    files = await deliver_and_process(pipeline, factory.case_007_base64_padded_chunks())

    assert list(files) == ["stock.csv"]
    assert_completed(files, "stock.csv")
    text = (await items_by_name(pipeline))["stock.csv"].full_text
    assert [line for line in text.splitlines() if line.strip()] == [
        "sku,qty,price",
        "A-100,4,9.99",
        "B-200,1,120.00",
        "C-300,12,0.50",
    ]


async def test_case_007_undecodable_base64_fails_instead_of_truncating(
    pipeline: Pipeline,
) -> None:
    """A dangling base64 character: stock.csv fails with base64_undecodable, no item stored."""
    raw = factory.case_007_base64_padded_chunks().replace(
        b"Qy0zMDAsMTIsMC41MAo=", b"Qy0zMDAsMTIsMC41MAo=\r\nQ"
    )
    files = await deliver_and_process(pipeline, raw)

    stock = files["stock.csv"]
    assert (stock.status, stock.reason) == ("failed", "base64_undecodable")
    assert await pipeline.items() == []
    failed = metadata_of(await pipeline.events(), "FILE_FAILED")
    assert [(f["filename"], f["reason"]) for f in failed] == [("stock.csv", "base64_undecodable")]


async def test_case_009_bare_name_star_parameter_is_accepted_with_a_defect(
    pipeline: Pipeline,
) -> None:
    """A `name*` that crashes the modern parser: mail accepted, both files read, defect logged."""
    files = await deliver_and_process(pipeline, factory.case_009_param_name_star())

    assert set(files) == {"delivery-note-88-231.pdf", "pallets.csv"}
    assert_completed(files, "delivery-note-88-231.pdf", "pallets.csv")
    items = await items_by_name(pipeline)
    assert "Delivery note 88-231" in one_line(items["delivery-note-88-231.pdf"].full_text)
    rows = [line for line in items["pallets.csv"].full_text.splitlines() if line.strip()]
    assert rows == ["pallet,weight_kg", "P1,410", "P2,388", "P3,402"]
    events = await pipeline.events()
    defects = [m["defect"] for m in metadata_of(events, "EMAIL_PARSE_DEFECT")]
    assert "IndexError in header parse: fell back to compat32" in defects
    assert not metadata_of(events, "EMAIL_PARSE_FAILED")


async def test_case_010_forwarded_mail_is_carried_by_its_attachment_and_eml_is_one_item(
    pipeline: Pipeline,
) -> None:
    """The forwarded mail rides on Contract_v3.pdf; the attached .eml without files is one item."""
    files = await deliver_and_process(pipeline, factory.case_010_forwarded_rfc822())

    assert set(files) == {"Contract_v3.pdf", "Meeting notes.eml"}
    assert_completed(files, "Contract_v3.pdf", "Meeting notes.eml")
    contract = files["Contract_v3.pdf"]
    assert contract.provenance == "inside forwarded message"
    forwarded = contract.details["forwarded"]
    assert forwarded["subject"] == "Contract v3 for signature"
    assert forwarded["sender"] == "legal@example.net"
    assert "please sign the attached contract by Friday" in forwarded["body"]
    items = await items_by_name(pipeline)
    assert set(items) == {"Contract_v3.pdf", "Meeting notes.eml"}
    assert "CONTRACT v3" in one_line(items["Contract_v3.pdf"].full_text)
    assert factory.MEETING_NOTES_TEXT in one_line(items["Meeting notes.eml"].full_text)
    events = await pipeline.events()
    reasons = [m.get("reason") for m in metadata_of(events, "FILE_SKIPPED")]
    assert "unsupported_type" not in reasons and not metadata_of(events, "FILE_FAILED")


async def test_case_010_forwarded_mail_without_attachments_is_one_item(
    pipeline: Pipeline,
) -> None:
    """A message/rfc822 part with no files of its own becomes one item holding its text."""
    raw = factory.build_email(
        SENDER,
        pipeline.ingest_address,
        "Fwd: Meeting notes",
        "See the notes below.",
        forwarded=factory.meeting_notes_eml(),
    )
    files = await deliver_and_process(pipeline, raw)

    assert list(files) == ["Meeting notes 2024-03-04.eml"]
    assert_completed(files, "Meeting notes 2024-03-04.eml")
    assert files["Meeting notes 2024-03-04.eml"].provenance == "inside forwarded message"
    [item] = await pipeline.items()
    assert factory.MEETING_NOTES_TEXT in one_line(item.full_text)


async def test_case_011_tnef_winmail_is_unpacked_into_two_items(pipeline: Pipeline) -> None:
    """winmail.dat is replaced by Q1 Budget.csv and Notes.txt; FILE_UNPACKED tnef count 2."""
    files = await deliver_and_process(pipeline, factory.case_011_tnef_winmail())

    assert set(files) == {"Q1 Budget.csv", "Notes.txt"}
    assert_completed(files, "Q1 Budget.csv", "Notes.txt")
    items = await items_by_name(pipeline)
    assert set(items) == {"Q1 Budget.csv", "Notes.txt"}
    budget = items["Q1 Budget.csv"].full_text
    assert "Travel;1200" in budget and "Software;4300" in budget
    assert "review travel costs" in items["Notes.txt"].full_text
    unpacked = metadata_of(await pipeline.events(), "FILE_UNPACKED")
    assert [(u["container"], u["count"]) for u in unpacked] == [("tnef", 2)]


async def test_case_011_unreadable_tnef_fails_with_tnef_unreadable(pipeline: Pipeline) -> None:
    """A truncated winmail.dat fails as tnef_unreadable, never as an unsupported .dat."""
    files = await deliver_and_process(pipeline, factory.tnef_mail(factory.case_011_winmail()[:200]))

    winmail = files["winmail.dat"]
    assert list(files) == ["winmail.dat"]
    assert (winmail.status, winmail.reason) == ("failed", "tnef_unreadable")
    events = await pipeline.events()
    assert not metadata_of(events, "FILE_UNPACKED")
    assert [f["reason"] for f in metadata_of(events, "FILE_FAILED")] == ["tnef_unreadable"]


# --- 012: long lines ------------------------------------------------------------------------


def html_mail_with_one_long_line(rows: int = 600) -> bytes:
    """text/html, 7bit, whose whole body is one line of about 16 KB (600 short paragraphs)."""
    line = " ".join(f"<p>row {n} value {n * 7}</p>" for n in range(rows))
    headers = [
        "From: Reports <reports@example.net>",
        "To: files@ingest.test",
        "Subject: Nightly report",
        f"Date: {factory.DATE}",
        "Message-ID: <long-line-012@example.net>",
        "MIME-Version: 1.0",
        "Content-Type: text/html; charset=us-ascii",
        "Content-Transfer-Encoding: 7bit",
    ]
    body = f"<html><body>{line}</body></html>"
    return ("\r\n".join([*headers, "", body]) + "\r\n").encode("ascii")


async def test_case_012_a_16_kb_line_is_accepted_and_searchable(pipeline: Pipeline) -> None:
    """A 16 KB HTML line gets 250 and its text (`row 599 value 4193`) is found by search."""
    raw = html_mail_with_one_long_line()
    assert max(len(line) for line in raw.split(b"\r\n")) > 15_000
    files = await deliver_and_process(pipeline, raw)

    [record] = files.values()
    assert record.status == "completed", record.reason
    [item] = await pipeline.items()
    assert "row 599 value 4193" in one_line(item.full_text)
    async with pipeline.rt.sessions() as session:
        hits = await search(session, tenant_id=record.tenant_id, query="row 599 value 4193")
    assert [hit.id for hit in hits] == [item.id]


async def test_case_012_a_line_over_the_limit_gets_one_500_and_is_recorded(
    pipeline: Pipeline,
) -> None:
    """A line over smtp_max_line_bytes gets one 500 and INGEST_REJECTED line_too_long."""
    limit = pipeline.rt.settings.smtp_max_line_bytes
    assert limit >= 64 * 1024
    raw = html_mail_with_one_long_line(rows=limit // 20)
    with pytest.raises(smtplib.SMTPDataError) as refused:
        await pipeline.send(raw)
    assert refused.value.smtp_code == 500
    assert await pipeline.messages() == []
    rejected = metadata_of(await pipeline.events(), "INGEST_REJECTED")
    assert [r["reason"] for r in rejected] == ["line_too_long"]


# --- 013: size limit ------------------------------------------------------------------------


@pytest.fixture
async def small_limit_pipeline(
    settings: Settings, analysis_pool: AnalysisPool
) -> AsyncIterator[Pipeline]:
    """The real SMTP server and worker with a configured message size limit of SMALL_LIMIT."""
    async with pipeline_with(settings, analysis_pool, smtp_max_message_bytes=SMALL_LIMIT) as p:
        yield p


@dataclass
class SizeDialog:
    advertised_size: str | None
    declared_reply: tuple[int, bytes]
    early_reply: bytes  # anything the server said before the final dot (should be nothing)
    data_reply: tuple[int, bytes]
    noop_reply: tuple[int, bytes]


def _size_dialog(port: int, to: str, oversize: bytes) -> SizeDialog:
    """EHLO; MAIL with a too-big SIZE; then an oversize message without SIZE, dot sent last."""
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
        client.ehlo("mailer.example.net")
        advertised = client.esmtp_features.get("size")
        declared = client.mail(SENDER, [f"SIZE={SMALL_LIMIT * 2}"])
        client.rset()
        assert client.mail(SENDER)[0] == 250 and client.rcpt(to)[0] == 250
        assert client.docmd("DATA")[0] == 354
        client.send(oversize)
        early = _peek(client.sock)
        client.send(b".\r\n")
        data_reply = client.getreply()
        return SizeDialog(advertised, declared, early, data_reply, client.noop())


def _peek(sock: socket.socket | None, wait_s: float = 0.5) -> bytes:
    assert sock is not None
    sock.settimeout(wait_s)
    try:
        return sock.recv(1024, socket.MSG_PEEK)
    except TimeoutError:
        return b""
    finally:
        sock.settimeout(30)


def oversize_message() -> bytes:
    """A well-formed mail well above SMALL_LIMIT, dot-stuffed, ending in CRLF."""
    raw = factory.build_email(
        SENDER,
        "files@ingest.test",
        "Too big",
        "Large attachment.",
        [("big.pdf", "application/pdf", make_pdf([f"line {n}" for n in range(1500)]))],
    )
    assert len(raw) > SMALL_LIMIT
    return raw.replace(b"\r\n.", b"\r\n..")


async def test_case_013_size_limit_is_advertised_and_enforced_with_552(
    small_limit_pipeline: Pipeline,
) -> None:
    """EHLO shows the configured SIZE; oversize gets 552 5.3.4 (at MAIL, or once after the dot)."""
    pipeline = small_limit_pipeline
    dialog = await asyncio.to_thread(
        _size_dialog, pipeline.port, pipeline.ingest_address, oversize_message()
    )

    assert dialog.advertised_size == str(SMALL_LIMIT)
    assert dialog.declared_reply[0] == 552
    assert dialog.declared_reply[1].startswith(b"5.3.4")
    assert dialog.early_reply == b""
    assert dialog.data_reply[0] == 552 and dialog.data_reply[1].startswith(b"5.3.4")
    assert dialog.noop_reply[0] == 250  # the 552 came once: nothing else was queued

    assert await pipeline.messages() == [] and await pipeline.files() == []
    storage = pipeline.rt.settings.storage_dir
    assert not storage.exists() or not any(p.is_file() for p in storage.rglob("*"))
    assert await pipeline.rt.require_redis().zcard(pipeline.rt.settings.queue_name) == 0
    events = await pipeline.events()
    assert not metadata_of(events, "EMAIL_RECEIVED")
    rejected = metadata_of(events, "INGEST_REJECTED")
    assert [r["reason"] for r in rejected] == ["message_too_large"] * 2
    assert all(r["limit"] == SMALL_LIMIT for r in rejected)
    assert rejected[0]["size"] == SMALL_LIMIT * 2


# --- the envelope and the reply -------------------------------------------------------------


def _rcpt_reply(port: int, recipient: str) -> tuple[int, bytes]:
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
        client.ehlo("mailer.example.net")
        assert client.mail(SENDER)[0] == 250
        return client.rcpt(recipient)


async def test_a_recipient_that_is_not_an_ingest_address_gets_550(pipeline: Pipeline) -> None:
    """No relaying: RCPT TO another address gets 550 and nothing is stored."""
    code, text = await asyncio.to_thread(_rcpt_reply, pipeline.port, "someone@elsewhere.example")

    assert code == 550 and text.startswith(b"5.1.1")
    assert await pipeline.messages() == []
    rejected = metadata_of(await pipeline.events(), "INGEST_REJECTED")
    assert [(r["reason"], r["recipient"]) for r in rejected] == [
        ("unknown_recipient", "someone@elsewhere.example")
    ]


async def test_the_reply_lists_the_outcome_of_every_attachment(pipeline: Pipeline) -> None:
    """The reply names each attachment with its outcome: added, skipped, could not be processed."""
    raw = factory.build_email(
        SENDER,
        pipeline.ingest_address,
        "Mixed bag",
        "Three files.",
        [
            ("report.pdf", "application/pdf", make_pdf(["Quarterly Zanzibar report"])),
            ("blob.bin", "application/octet-stream", factory.BLOB_BIN),
            ("cut.pdf", "application/pdf", make_truncated_pdf()),
        ],
    )
    files = await deliver_and_process(pipeline, raw)
    assert [files[n].status for n in ("report.pdf", "blob.bin", "cut.pdf")] == [
        "completed",
        "skipped",
        "failed",
    ]

    [reply] = await replies(pipeline)
    assert reply["To"] == SENDER
    assert "1 added, 2 not added" in reply["Subject"]
    text = reply.get_body(("plain",)).get_content()
    assert "report.pdf: added to your knowledge base" in text
    assert "blob.bin: skipped" in text
    assert "cut.pdf: could not be processed" in text
    for name in ("blob.bin", "cut.pdf"):
        assert files[name].reason_message
        assert one_line(files[name].reason_message) in one_line(text)
