"""The outcome reply to an email, as the last file's job sends it."""

from __future__ import annotations

import structlog
from sqlmodel import select

from models import FileRecord, FileStatus
from services.intake import receive_email
from services.runtime import Runtime
from tests.factories.emails import build_email
from workers.outcomes import save_status
from workers.parse_email import parse_email
from workers.replies import reply_when_complete

SENDER = "ana@acme.example"


async def test_the_reply_is_logged_under_the_emails_correlation_id(rt: Runtime) -> None:
    """The job of the last file sends the reply: its log lines carry the email's correlation id
    (the one its REPLY_SENT event has), and the file's ids come back for the rest of the job."""
    raw = build_email(
        SENDER, "files@ingest.test", "Two notes", "See attached.",
        [("a.txt", "text/plain", b"First note."), ("b.txt", "text/plain", b"Second note.")],
    )  # fmt: skip
    message = (await receive_email(rt, raw, envelope_from=SENDER, channel="smtp")).message
    assert await parse_email({"rt": rt, "job_try": 1}, message.id) == "parsed"
    async with rt.sessions() as session:
        files = list((await session.exec(select(FileRecord))).all())
    assert len(files) == 2
    for record in files:
        await save_status(rt, record, status=FileStatus.COMPLETED)
    last = files[-1]

    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(correlation_id=last.correlation_id, file_id=last.id)
    with structlog.testing.capture_logs([structlog.contextvars.merge_contextvars]) as logs:
        assert await reply_when_complete(rt, message.id)
        structlog.get_logger("after").info("file_job_goes_on")
    structlog.contextvars.clear_contextvars()

    [sent] = [entry for entry in logs if entry["event"] == "email_sent"]
    assert sent["correlation_id"] == message.correlation_id != last.correlation_id
    assert sent["inbound_message_id"] == message.id and "file_id" not in sent
    [after] = [entry for entry in logs if entry["event"] == "file_job_goes_on"]
    assert (after["correlation_id"], after["file_id"]) == (last.correlation_id, last.id)
    assert "inbound_message_id" not in after
