"""The main job end to end: an email with attachments becomes searchable knowledge."""

from __future__ import annotations

from email.message import EmailMessage

from cli.queries import correlation_family
from services.knowledge import search
from tests.e2e.conftest import SENDER, Pipeline
from tests.factories.files import make_docx, make_pdf, make_xlsx


def _forwarded_with_xlsx() -> EmailMessage:
    inner = EmailMessage()
    inner["From"] = "finance@acme.example"
    inner["To"] = SENDER
    inner["Subject"] = "Freight budget"
    inner.set_content("The freight budget sheet is attached.")
    inner.add_attachment(
        make_xlsx({"Freight": [["Carrier", "Cost"], ["Zephyrline", 1200], ["Borealis", 900]]}),
        maintype="application",
        subtype="vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        filename="freight.xlsx",
    )
    return inner


def main_email(to: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = SENDER
    message["To"] = to
    message["Subject"] = "Documents for the knowledge base"
    message["Message-ID"] = "<main-job-1@acme.example>"
    message.set_content("Three documents attached.")
    message.add_attachment(
        make_pdf(["Warehouse safety audit",
                  "The Quillfeather inspection found two blocked exits."]),
        maintype="application", subtype="pdf", filename="audit.pdf",
    )  # fmt: skip
    message.add_attachment(
        make_docx(["Hiring plan", "We will hire three Marlinspike engineers in spring."]),
        maintype="application",
        subtype="vnd.openxmlformats-officedocument.wordprocessingml.document",
        filename="hiring.docx",
    )
    message.add_attachment(_forwarded_with_xlsx())
    return message


async def test_email_with_pdf_docx_and_forwarded_xlsx_becomes_knowledge(pipeline: Pipeline) -> None:
    """Three attachments → three knowledge items, each findable by its own word, events linked."""
    assert await pipeline.send(main_email(pipeline.ingest_address)) == {}
    files = await pipeline.wait_done()
    by_name = {f.original_filename: f for f in files}
    assert {"audit.pdf", "hiring.docx", "freight.xlsx"} <= set(by_name)
    assert all(f.status == "completed" for f in files), [
        (f.original_filename, f.reason) for f in files
    ]
    assert by_name["freight.xlsx"].provenance == "inside forwarded message"

    items = {i.original_filename: i for i in await pipeline.items()}
    assert "Quillfeather" in items["audit.pdf"].full_text
    assert "Quillfeather" in items["audit.pdf"].summary + " ".join(items["audit.pdf"].key_points)
    assert "Marlinspike" in items["hiring.docx"].full_text
    assert "Zephyrline" in items["freight.xlsx"].full_text
    assert all(i.token_count > 0 and i.keywords for i in items.values())

    tenant_id = files[0].tenant_id
    async with pipeline.rt.sessions() as session:
        for word, name in (
            ("quillfeather", "audit.pdf"),
            ("marlinspike", "hiring.docx"),
            ("zephyrline", "freight.xlsx"),
        ):
            hits = await search(session, tenant_id=tenant_id, query=word)
            assert [h.filename for h in hits] == [name], word
    events = await pipeline.events()
    for name in ("audit.pdf", "hiring.docx", "freight.xlsx"):
        record = by_name[name]
        chain = [e.event_type for e in events if e.correlation_id == record.correlation_id]
        assert chain == ["FILE_RECEIVED", "AGENT_STARTED", "FILE_PROCESSED"], (name, chain)
        processed = next(
            e
            for e in events
            if e.correlation_id == record.correlation_id and e.event_type == "FILE_PROCESSED"
        )
        assert processed.event_metadata["knowledge_id"] == record.knowledge_id
        assert processed.event_metadata["tokens_used"] > 0
        timing = processed.event_metadata
        assert 0 < timing["analysis_ms"] <= timing["processing_time_ms"], timing
    received = [e for e in events if e.event_type == "EMAIL_RECEIVED"]
    assert len(received) == 1 and received[0].tenant_id == tenant_id


async def test_sender_gets_a_reply_listing_every_file(pipeline: Pipeline) -> None:
    """The reply in the outbox names each attachment and its outcome."""
    await pipeline.send(main_email(pipeline.ingest_address))
    await pipeline.wait_done()
    [reply] = pipeline.outbox()
    assert reply["To"] == SENDER
    assert reply["In-Reply-To"] == "<main-job-1@acme.example>"
    text = reply.get_body(("plain",)).get_content()
    for name in ("audit.pdf", "hiring.docx", "freight.xlsx"):
        assert f"{name}: added to your knowledge base" in text


async def test_the_emails_reference_stands_for_all_its_files_events(pipeline: Pipeline) -> None:
    """`events --correlation-id <email reference>` covers the email and every file in it."""
    await pipeline.send(main_email(pipeline.ingest_address))
    files = await pipeline.wait_done()
    [message] = await pipeline.messages()
    async with pipeline.rt.sessions() as session:
        family = await correlation_family(session, message.correlation_id)
    assert set(family) == {message.correlation_id, *(f.correlation_id for f in files)}
