"""Outlook .msg files with extract-msg: subject, sender, date, body, attachment names."""

from __future__ import annotations

import warnings
from typing import Any

import extract_msg

from services.errors import CorruptFile
from services.extraction.guard import parser_errors
from services.extraction.html import html_to_text
from services.extraction.limits import ExtractionLimits
from services.extraction.mailparts import Mail, mail_draft
from services.extraction.result import Draft


def extract_msg_file(data: bytes, limits: ExtractionLimits) -> Draft:
    """The message's fields; the plain body is preferred, else the HTML body as text."""
    del limits  # the input size bounds the work; the caller truncates the text
    with parser_errors(CorruptFile), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # extract-msg warns about optional missing properties
        message = extract_msg.openMsg(data, strict=False)
        try:
            mail = _mail(message)
        finally:
            message.close()
    return mail_draft(mail)


def _mail(message: Any) -> Mail:
    return Mail(
        subject=_text(getattr(message, "subject", None)),
        sender=_text(getattr(message, "sender", None)),
        to=_text(getattr(message, "to", None)),
        date=_text(getattr(message, "date", None)),
        body=_body(message),
        attachments=[_attachment_name(item) for item in getattr(message, "attachments", [])],
    )


def _body(message: Any) -> str:
    body = _text(getattr(message, "body", None))
    if body.strip():
        return body
    html = getattr(message, "htmlBody", None)
    return html_to_text(html)[0] if html else ""


def _attachment_name(attachment: Any) -> str:
    for name in ("longFilename", "shortFilename", "displayName"):
        value = getattr(attachment, name, None)
        if value:
            return str(value)
    return "attachment"


def _text(value: object) -> str:
    return "" if value is None else str(value).strip()
