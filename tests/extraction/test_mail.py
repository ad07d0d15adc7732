"""Email files: .eml with the standard library, .msg with extract-msg."""

from __future__ import annotations

from services.extraction import extract, mime
from tests.factories.files import make_eml, make_msg, make_pdf

DECISION = "Agreed: budget freeze until April; hiring continues."


def test_eml_body_subject_and_sender() -> None:
    """An .eml gives its body text, its subject as title, and sender and subject metadata."""
    data = make_eml("Budget decision", "Ana Lopez <ana@example.com>", DECISION)
    result = extract(data, filename="decision.eml", declared_type="message/rfc822")
    assert DECISION in result.text
    assert "Subject: Budget decision" in result.text
    assert result.title == "Budget decision"
    assert result.metadata["subject"] == "Budget decision"
    assert result.metadata["sender"] == "Ana Lopez <ana@example.com>"
    assert result.detected_type == mime.EML


def test_eml_lists_attachment_names() -> None:
    """Attachment names are listed in the text and metadata; their content is not inlined."""
    data = make_eml(
        "Invoice", "billing@example.com", "Please find the invoice attached.",
        attachments=[("invoice-77.pdf", make_pdf(["Invoice 77"]))],
    )  # fmt: skip
    result = extract(data, filename="fwd.eml")
    assert result.metadata["attachments"] == ["invoice-77.pdf"]
    assert result.text.endswith("Attachments: invoice-77.pdf")
    assert "Invoice 77" not in result.text


def test_eml_html_only_body_becomes_text() -> None:
    """An HTML-only email body is turned into text without markup."""
    data = (
        b"From: news@example.com\r\nTo: team@example.com\r\nSubject: Weekly\r\n"
        b"MIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
        b"<html><body><p>Offsite moved to <b>Friday</b>.</p><script>x()</script></body></html>"
    )
    result = extract(data, filename="weekly.eml")
    assert "Offsite moved to Friday." in result.text
    assert "<b>" not in result.text and "x()" not in result.text


def test_eml_with_malformed_headers_falls_back_to_compat32() -> None:
    """A message whose charset is unknown still yields its subject and body."""
    data = (
        b"From: a@example.com\r\nSubject: =?x-unknown?Q?Quarterly?= plan\r\n"
        b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=x-unknown-charset\r\n\r\n"
        b"Plan approved by the board.\r\n"
    )
    result = extract(data, filename="odd.eml")
    assert "Plan approved by the board." in result.text
    assert result.title is not None and "plan" in result.title


def test_msg_subject_sender_body() -> None:
    """An Outlook .msg gives subject, sender and body."""
    data = make_msg("Hiring update", "Ana Lopez", DECISION)
    result = extract(data, filename="update.msg", declared_type="application/vnd.ms-outlook")
    assert DECISION in result.text
    assert result.title == "Hiring update"
    assert result.metadata["sender"] == "Ana Lopez"
    assert result.detected_type == mime.MSG
