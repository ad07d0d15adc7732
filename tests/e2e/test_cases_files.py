"""Shared failure cases (025, 027, 028, 031, 022) through the real path: SMTP → worker → reply."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from email.message import EmailMessage, Message
from email.policy import SMTP
from email.utils import make_msgid

import pytest

from models import AnalyticsEvent, FileRecord
from services.intake import NewFile, enqueue_file
from services.knowledge import search
from services.settings import Settings
from tests.e2e.conftest import SENDER, Pipeline, pipeline_with
from tests.extraction.helpers import needs_tesseract
from tests.factories.files import (
    make_docx,
    make_pdf,
    make_pdf_password_required,
    make_pdf_permissions_only_encrypted,
    make_scanned_jpeg,
    make_scanned_pdf,
    make_truncated_pdf,
    make_zip_bomb_docx,
)
from tests.factories.records import recorded_file
from workers.pool import AnalysisPool

PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
PAYROLL_LINES = ("Payroll summary Q1", "Total net pay: 12,345.67 EUR")
INVOICE_LINES = ("INVOICE 2024-0099", "Customer: Example Corp", "Total due: 980.00 EUR")
SESSION_EXPIRED_HTML = (
    b"<!DOCTYPE html><html><head><title>Session expired</title></head>"
    b"<body><p>Session expired. Please sign in again.</p></body></html>\n"
)


def mail_with(
    to: str, attachments: Sequence[tuple[str, bytes, str]], *, sender: str = SENDER
) -> bytes:
    """An email from `sender` with (filename, bytes, content type) attachments, CRLF line ends
    as on the wire (smtplib sends bytes as given; bare LF makes a > 64 KiB mail one long line)."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = "Files for the knowledge base"
    message["Message-ID"] = make_msgid(domain="acme.example")
    message.set_content("Files attached.")
    for filename, data, content_type in attachments:
        maintype, subtype = content_type.split("/", 1)
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return message.as_bytes(policy=SMTP)


def body_of(reply: Message, kind: str = "plain") -> str:
    """The plain (or html) body of a reply read from the outbox."""
    assert isinstance(reply, EmailMessage)  # the outbox is read with the default policy
    part = reply.get_body((kind,))
    assert part is not None, kind
    return str(part.get_content())


def reply_text(pipeline: Pipeline) -> str:
    [reply] = pipeline.outbox()
    return body_of(reply)


def of_file(events: list[AnalyticsEvent], record: FileRecord, kind: str) -> list[AnalyticsEvent]:
    return [e for e in events if e.correlation_id == record.correlation_id and e.event_type == kind]


@pytest.fixture
async def no_ocr_pipeline(
    settings: Settings, analysis_pool: AnalysisPool
) -> AsyncIterator[Pipeline]:
    """The real pipeline with OCR switched off in the settings."""
    async with pipeline_with(settings, analysis_pool, ocr_enabled=False) as pipeline:
        yield pipeline


# --- 025: encrypted PDFs -------------------------------------------------------------------


async def test_025_permission_only_pdf_is_read_and_password_pdf_fails_once(
    pipeline: Pipeline,
) -> None:
    """An empty-user-password PDF becomes knowledge; a password PDF fails once, told why."""
    await pipeline.send(
        mail_with(
            pipeline.ingest_address,
            [
                ("payroll.pdf", make_pdf_permissions_only_encrypted(PAYROLL_LINES), PDF),
                ("locked.pdf", make_pdf_password_required(PAYROLL_LINES, "s3cret"), PDF),
            ],
        )
    )
    files = {f.original_filename: f for f in await pipeline.wait_done()}
    payroll, locked = files["payroll.pdf"], files["locked.pdf"]
    assert payroll.status == "completed", (payroll.reason, payroll.reason_message)
    assert payroll.details.get("encrypted") is True
    [item] = await pipeline.items()
    assert item.id == payroll.knowledge_id
    assert "Payroll summary Q1" in item.full_text and "12,345.67 EUR" in item.full_text

    assert (locked.status, locked.reason, locked.attempts) == (
        "failed",
        "encrypted_password_required",
        1,
    )
    assert locked.knowledge_id is None
    events = await pipeline.events()
    [failed] = of_file(events, locked, "FILE_FAILED")
    assert failed.event_metadata["reason"] == "encrypted_password_required"
    assert failed.event_metadata["attempt"] == 1
    assert len(of_file(events, locked, "AGENT_STARTED")) == 1
    assert of_file(events, locked, "FILE_RETRYING") == []
    text = reply_text(pipeline)
    assert "payroll.pdf: added to your knowledge base" in text
    assert "locked.pdf: could not be processed" in text
    assert "protected with a password" in text


# --- 027: empty, truncated and HTML-named-.pdf files --------------------------------------


async def test_027_empty_truncated_and_html_pdf_fail_with_distinct_reasons(
    pipeline: Pipeline,
) -> None:
    """Three broken 'PDFs' in one mail fail at once with three reasons; the good sibling lands."""
    started = time.monotonic()
    await pipeline.send(
        mail_with(
            pipeline.ingest_address,
            [
                ("zero_bytes.pdf", b"", PDF),
                ("truncated.pdf", make_truncated_pdf(), PDF),
                ("actually_html.pdf", SESSION_EXPIRED_HTML, PDF),
                (
                    "minutes.pdf",
                    make_pdf(["Board minutes", "The Halyard project was approved."]),
                    PDF,
                ),
            ],
        )
    )
    files = {f.original_filename: f for f in await pipeline.wait_done(timeout=20)}
    assert time.monotonic() - started < 15
    expected = {
        "zero_bytes.pdf": "empty_file",
        "truncated.pdf": "corrupt_or_truncated_pdf",
        "actually_html.pdf": "type_mismatch",
    }
    assert {name: (files[name].status, files[name].reason) for name in expected} == {
        name: ("failed", reason) for name, reason in expected.items()
    }
    assert files["actually_html.pdf"].detected_type == "text/html"
    assert files["minutes.pdf"].status == "completed"
    [item] = await pipeline.items()
    assert item.id == files["minutes.pdf"].knowledge_id and "Halyard" in item.full_text

    events = await pipeline.events()
    for name, reason in expected.items():
        record = files[name]
        assert [e.event_metadata["reason"] for e in of_file(events, record, "FILE_FAILED")] == [
            reason
        ], name
        assert len(of_file(events, record, "AGENT_STARTED")) <= 1, name
        assert of_file(events, record, "FILE_RETRYING") == [], name
        assert record.attempts <= 1, name
    text = reply_text(pipeline)
    assert "minutes.pdf: added to your knowledge base" in text
    for name in expected:
        assert f"{name}: could not be processed" in text


# --- 028: zip-bomb DOCX --------------------------------------------------------------------


@pytest.mark.parametrize("lie_about_size", [False, True], ids=["declared", "lying"])
async def test_028_zip_bomb_docx_is_refused_quickly_and_sibling_extracted(
    pipeline: Pipeline, lie_about_size: bool
) -> None:
    """A DOCX inflating to 150 MiB fails archive_limits_exceeded in seconds; its sibling lands."""
    bomb = make_zip_bomb_docx(150, lie_about_size=lie_about_size)
    sibling = make_docx(["Onboarding checklist (sample).", "Laptop, badge and a buddy."])
    await pipeline.send(
        mail_with(
            pipeline.ingest_address,
            [("zip_bomb.docx", bomb, DOCX), ("sibling_ok.docx", sibling, DOCX)],
        )
    )
    files = {f.original_filename: f for f in await pipeline.wait_done(timeout=30)}
    bomb_record = files["zip_bomb.docx"]
    assert (bomb_record.status, bomb_record.reason, bomb_record.attempts) == (
        "failed",
        "archive_limits_exceeded",
        1,
    )
    events = await pipeline.events()
    [started] = of_file(events, bomb_record, "AGENT_STARTED")
    [failed] = of_file(events, bomb_record, "FILE_FAILED")
    assert (failed.created_at - started.created_at).total_seconds() < 5
    assert files["sibling_ok.docx"].status == "completed"
    [item] = await pipeline.items()
    assert item.id == files["sibling_ok.docx"].knowledge_id
    assert "Onboarding checklist (sample)." in item.full_text


# --- 031: scans without a text layer -------------------------------------------------------


@needs_tesseract
async def test_031_scanned_pdf_and_jpeg_are_read_by_ocr(pipeline: Pipeline) -> None:
    """With OCR, an image-only PDF and a JPEG of an invoice both become knowledge with its text."""
    await pipeline.send(
        mail_with(
            pipeline.ingest_address,
            [
                ("scanned_invoice.pdf", make_scanned_pdf(INVOICE_LINES), PDF),
                ("scanned_invoice.jpg", make_scanned_jpeg(INVOICE_LINES), "image/jpeg"),
            ],
        )
    )
    files = await pipeline.wait_done(timeout=40)
    assert [(f.status, f.reason) for f in files] == [("completed", None)] * 2
    assert all(f.details.get("ocr") is True for f in files)
    items = await pipeline.items()
    assert sorted(i.original_filename for i in items) == [
        "scanned_invoice.jpg",
        "scanned_invoice.pdf",
    ]
    for item in items:
        assert "INVOICE 2024-0099" in item.full_text, item.full_text
        assert "980.00 EUR" in item.full_text, item.full_text


async def test_031_without_ocr_scans_fail_no_text_layer_and_reply_says_ocr(
    no_ocr_pipeline: Pipeline,
) -> None:
    """With OCR off, both scans fail `no_text_layer`, no empty item is kept, the reply says why."""
    pipeline = no_ocr_pipeline
    await pipeline.send(
        mail_with(
            pipeline.ingest_address,
            [
                ("scanned_invoice.pdf", make_scanned_pdf(INVOICE_LINES), PDF),
                ("scanned_invoice.jpg", make_scanned_jpeg(INVOICE_LINES), "image/jpeg"),
            ],
        )
    )
    files = await pipeline.wait_done()
    assert [(f.status, f.reason, f.attempts) for f in files] == [("failed", "no_text_layer", 1)] * 2
    assert await pipeline.items() == []
    events = await pipeline.events("FILE_FAILED")
    assert sorted(e.event_metadata["filename"] for e in events) == [
        "scanned_invoice.jpg",
        "scanned_invoice.pdf",
    ]
    assert {e.event_metadata["reason"] for e in events} == {"no_text_layer"}
    text = reply_text(pipeline)
    assert "scanned_invoice.pdf: could not be processed" in text
    assert "scanned_invoice.jpg: could not be processed" in text
    assert "needs OCR" in text


# --- 022: a kept job result must not block the same file again -----------------------------


async def test_022_duplicate_enqueue_of_one_file_runs_once_and_is_logged(
    pipeline: Pipeline,
) -> None:
    """Enqueuing one file twice (live, then after it finished) runs it once; JOB_DEDUPED says so."""
    await pipeline.send(
        mail_with(pipeline.ingest_address, [("policy.pdf", make_pdf(["Travel policy"]), PDF)])
    )
    [record] = await pipeline.wait_done()
    assert record.status == "completed"
    assert await enqueue_file(pipeline.rt, record) is False  # its kept result holds the id

    events = await pipeline.events()
    [deduped] = of_file(events, record, "JOB_DEDUPED")
    assert deduped.event_metadata["job_id"].startswith(f"process_file:{record.id}")
    assert deduped.event_metadata["existing_status"] == "complete"
    assert len(of_file(events, record, "AGENT_STARTED")) == 1
    assert len(await pipeline.items()) == 1


async def test_022_two_live_enqueues_of_one_file_run_it_once(pipeline: Pipeline) -> None:
    """Two enqueues of one new file at the same moment: one is queued, one JOB_DEDUPED, one run."""
    rt = pipeline.rt
    record, created = await recorded_file(
        rt, SENDER, NewFile(data=make_pdf(["Expense policy"]), filename="expenses.pdf")
    )
    assert created
    outcomes = await asyncio.gather(enqueue_file(rt, record), enqueue_file(rt, record))
    assert sorted(outcomes) == [False, True]
    [done] = await pipeline.wait_done(messages=0)
    assert done.status == "completed" and done.attempts == 1

    events = await pipeline.events()
    deduped = of_file(events, record, "JOB_DEDUPED")  # the worker's start-up recovery may add one
    assert 1 <= len(deduped) <= 2
    assert {e.event_metadata["job_id"] for e in deduped} == {f"process_file:{record.id}"}
    assert {e.event_metadata["existing_status"] for e in deduped} <= {"queued", "in_progress"}
    assert len(of_file(events, record, "AGENT_STARTED")) == 1
    assert len(of_file(events, record, "FILE_PROCESSED")) == 1


async def test_022_file_resent_after_failure_is_processed_and_colleague_share_recorded(
    settings: Settings, analysis_pool: AnalysisPool
) -> None:
    """A file that failed is processed when sent again; a colleague's share gets its own record."""
    policy = make_pdf(["Travel policy", "Economy class for flights under six hours."])
    async with pipeline_with(settings, analysis_pool, max_file_bytes=100) as first:
        await first.send(mail_with(first.ingest_address, [("travel-policy.pdf", policy, PDF)]))
        [failed] = await first.wait_done()
    assert (failed.status, failed.reason) == ("failed", "too_large")

    async with pipeline_with(settings, analysis_pool) as fixed:
        await fixed.send(mail_with(fixed.ingest_address, [("travel-policy.pdf", policy, PDF)]))
        await fixed.wait_done(messages=2)
        colleague = "bob@acme.example"
        await fixed.send(
            mail_with(fixed.ingest_address, [("travel-policy.pdf", policy, PDF)], sender=colleague),
            sender=colleague,
        )
        files = await fixed.wait_done(messages=3)
        [item] = await fixed.items()
        events = await fixed.events()
        async with fixed.rt.sessions() as session:
            hits = await search(session, tenant_id=item.tenant_id, query="economy class")

    assert [f.id for f in files][0] == failed.id
    resent, shared = files[1], files[2]
    assert (resent.status, resent.reason, resent.knowledge_id) == ("completed", None, item.id)
    assert "Economy class" in item.full_text and item.file_id == resent.id
    assert (shared.status, shared.reason, shared.knowledge_id) == (
        "completed",
        "duplicate",
        item.id,
    )
    assert shared.user_id != resent.user_id and shared.tenant_id == resent.tenant_id
    [deduped] = of_file(events, shared, "FILE_DEDUPED")
    assert deduped.event_metadata["knowledge_id"] == item.id
    assert deduped.user_id == shared.user_id
    assert len([e for e in events if e.event_type == "FILE_PROCESSED"]) == 1
    assert [h.id for h in hits] == [item.id]
