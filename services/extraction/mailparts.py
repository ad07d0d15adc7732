"""The parts of an email message that both EML and MSG extraction produce, and their text."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from services.errors import NoText
from services.extraction.result import Draft


@dataclass
class Mail:
    subject: str = ""
    sender: str = ""
    to: str = ""
    date: str = ""
    body: str = ""
    attachments: list[str] = field(default_factory=list)


def mail_draft(mail: Mail) -> Draft:
    """Subject/From/Date lines, the body, then the attachment names; the subject is the title."""
    if not (mail.subject.strip() or mail.body.strip() or mail.attachments):
        raise NoText()
    headers = [
        f"{label}: {value}"
        for label, value in (("Subject", mail.subject), ("From", mail.sender), ("Date", mail.date))
        if value.strip()
    ]
    parts = ["\n".join(headers), mail.body.strip()]
    if mail.attachments:
        parts.append("Attachments: " + ", ".join(mail.attachments))
    return Draft(
        text="\n\n".join(part for part in parts if part),
        title=mail.subject or None,
        metadata=_metadata(mail),
    )


def _metadata(mail: Mail) -> dict[str, Any]:
    return {
        "subject": mail.subject or None,
        "sender": mail.sender or None,
        "to": mail.to or None,
        "date": mail.date or None,
        "attachments": list(mail.attachments),
    }
