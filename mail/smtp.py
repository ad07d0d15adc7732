"""SMTP ingest: accept mail for the ingest addresses only, store it durably, then answer 250.

Parsing happens later in a job; the handler only maps the sender, stores the raw bytes and
enqueues. Limits (message size, line length) are the product's settings, not the library's.
"""

from __future__ import annotations

import asyncio
from typing import Any

import structlog
from aiosmtpd.smtp import SMTP, Envelope, Session, syntax

from services.analytics import EventType
from services.identity import SenderRefused, normalize_address, sender_allowed
from services.intake import receive_email
from services.runtime import Runtime

log = structlog.get_logger(__name__)


class IngestHandler:
    """aiosmtpd handler: recipients checked at RCPT, the message stored at DATA."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.accepted = set(rt.settings.ingest_addresses)

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        sender = normalize_address(address)
        if sender is None:
            return "550 5.1.7 A valid sender address is required"
        if not sender_allowed(sender, self.rt.settings):
            self._reject("sender_not_allowed", sender=sender)
            return f"550 5.7.1 {sender} is not allowed to send files to this ContentMind server"
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 2.1.0 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address.strip().lower() not in self.accepted:
            self._reject("unknown_recipient", recipient=address)
            return f"550 5.1.1 <{address}>: not an ingest address here; relaying is not allowed"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        structlog.contextvars.clear_contextvars()
        try:
            receipt = await receive_email(
                self.rt, raw, envelope_from=str(envelope.mail_from), channel="smtp"
            )
        except SenderRefused as refused:
            return f"550 5.7.1 {refused.user_message}"
        except Exception:
            log.exception("smtp_store_failed", size=len(raw))
            return "451 4.3.0 The message could not be stored right now; please try again later"
        structlog.contextvars.bind_contextvars(correlation_id=receipt.message.correlation_id)
        log.info(
            "smtp_accepted", inbound_message_id=receipt.message.id, duplicate=receipt.duplicate
        )
        return f"250 2.0.0 Accepted for processing; reference {receipt.message.correlation_id}"

    def _reject(self, reason: str, **details: Any) -> None:
        log.info("ingest_rejected", reason=reason, **details)
        self.rt.analytics.log_event(
            EventType.INGEST_REJECTED, metadata={"reason": reason, "channel": "smtp", **details}
        )


class IngestSMTP(SMTP):
    """aiosmtpd's SMTP with the product's line limit and enhanced status codes on size limits."""

    def __init__(self, handler: IngestHandler, *, line_limit: int, **kwargs: Any) -> None:
        self.line_length_limit = line_limit  # read by SMTP.__init__ for the stream buffer
        self._ingest = handler
        self._declared_size: int | None = None
        super().__init__(handler, **kwargs)

    @syntax("MAIL FROM: <address>", extended=" [SP <mail-parameters>]")
    async def smtp_MAIL(self, arg: str | None) -> None:
        self._declared_size = _declared_size(arg)  # for the rejection event, if it comes
        await super().smtp_MAIL(arg)

    async def push(self, status: str) -> None:
        if status.startswith("552 Error: Too much mail data"):
            self._ingest._reject("message_too_large", limit=self.data_size_limit)
            status = f"552 5.3.4 Message too big; the limit is {self.data_size_limit} bytes"
        elif status.startswith("552 Error: message size exceeds"):
            self._ingest._reject(
                "message_too_large",
                limit=self.data_size_limit,
                declared=True,
                size=self._declared_size,
            )
            status = f"552 5.3.4 Message too big; the limit is {self.data_size_limit} bytes"
        elif status.startswith("500 Line too long"):
            self._ingest._reject("line_too_long", limit=self.line_length_limit)
            status = f"500 5.5.2 Line too long; the limit is {self.line_length_limit} bytes"
        await super().push(status)


def _declared_size(arg: str | None) -> int | None:
    """The SIZE=n parameter of a MAIL command (RFC 1870), if any."""
    for word in (arg or "").split():
        name, _, value = word.partition("=")
        if name.upper() == "SIZE" and value.isdigit():
            return int(value)
    return None


async def start_smtp_server(
    rt: Runtime, *, host: str | None = None, port: int | None = None
) -> asyncio.Server:
    """Serve SMTP ingest in the current event loop."""
    settings = rt.settings
    handler = IngestHandler(rt)

    def factory() -> IngestSMTP:
        return IngestSMTP(
            handler,
            line_limit=settings.smtp_max_line_bytes,
            data_size_limit=settings.smtp_max_message_bytes,
            enable_SMTPUTF8=True,
            decode_data=False,
            hostname=settings.ingest_domain,
            ident="ContentMind ingest",
        )

    server = await asyncio.get_running_loop().create_server(
        factory, host=host or settings.smtp_host, port=settings.smtp_port if port is None else port
    )
    log.info("smtp_listening", sockets=[s.getsockname() for s in server.sockets])
    return server
