"""Outgoing mail: through the configured SMTP relay, or into the local outbox folder."""

from __future__ import annotations

import email.policy
import os
import tempfile
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses, make_msgid, parseaddr
from pathlib import Path

import aiosmtplib
import structlog

from models.base import utcnow
from services.errors import TransientError
from services.settings import Settings

log = structlog.get_logger(__name__)

# Lines up to RFC 5322's limit of 998: a long header (List-Unsubscribe with its token) stays one
# literal line; folded at 78 it would become RFC 2047 encoded-words that mail clients ignore.
WIRE_POLICY = email.policy.SMTP.clone(max_line_length=998)
FILE_POLICY = email.policy.default.clone(max_line_length=998)


class DeliveryFailed(Exception):
    """A permanent refusal by the relay (5xx)."""


async def send_email(settings: Settings, message: EmailMessage) -> str:
    """Deliver `message`; returns where it went ("relay" or the outbox file path).

    Raises TransientError for a 4xx or a connection problem, DeliveryFailed for a 5xx.
    """
    if "Message-ID" not in message:
        message["Message-ID"] = make_msgid(domain=settings.ingest_domain)
    if "Date" not in message:
        message["Date"] = format_datetime(utcnow())
    if not settings.relay_host:
        return str(write_outbox(settings.outbox_dir, message))
    password = settings.relay_password.get_secret_value() if settings.relay_password else None
    sender = parseaddr(str(message["From"]))[1]
    recipients = [a for _, a in getaddresses([str(v) for v in message.get_all("To", [])]) if a]
    try:
        await aiosmtplib.send(
            message.as_bytes(policy=WIRE_POLICY),
            sender=sender,
            recipients=recipients,
            hostname=settings.relay_host,
            port=settings.relay_port,
            username=settings.relay_username,
            password=password,
            start_tls=settings.relay_starttls and not settings.relay_ssl,
            use_tls=settings.relay_ssl,
            timeout=30,
        )
    except aiosmtplib.SMTPResponseException as error:
        if 400 <= error.code < 500:
            raise TransientError(f"The mail relay deferred the message ({error.code}).") from None
        raise DeliveryFailed(f"The mail relay refused the message ({error.code}).") from None
    except (aiosmtplib.SMTPConnectError, aiosmtplib.SMTPConnectTimeoutError, OSError) as error:
        raise TransientError(
            f"The mail relay {settings.relay_host}:{settings.relay_port} could not be reached "
            f"({_cause(error)})."
        ) from None
    except aiosmtplib.SMTPException as error:
        if "STARTTLS extension not supported" in str(error):  # a setting, not a passing fault
            raise DeliveryFailed(
                f"The mail relay {settings.relay_host}:{settings.relay_port} does not offer "
                "STARTTLS; set CONTENTMIND_RELAY_STARTTLS=false for a relay without TLS, or "
                "CONTENTMIND_RELAY_SSL=true for implicit TLS."
            ) from None
        raise TransientError(f"The mail relay failed: {error}") from None
    log.info("email_sent", via="relay", to=message["To"])
    return "relay"


def _cause(error: BaseException) -> str:
    """The operating system's words for a connection failure ("Connection refused")."""
    inner = error.__cause__ or error.__context__
    for candidate in (error, inner):
        if isinstance(candidate, OSError) and candidate.strerror:
            return candidate.strerror
    return str(error) or type(error).__name__


def write_outbox(outbox: Path, message: EmailMessage) -> Path:
    """Write the message as an .eml file (atomically) into the outbox folder."""
    outbox.mkdir(parents=True, exist_ok=True)
    stamp = utcnow().strftime("%Y%m%dT%H%M%S%f")
    fd, tmp = tempfile.mkstemp(dir=outbox, prefix=".pending-", suffix=".eml")
    with os.fdopen(fd, "wb") as handle:
        handle.write(message.as_bytes(policy=FILE_POLICY))
    target = outbox / f"{stamp}-{os.getpid()}-{Path(tmp).stem[-8:]}.eml"
    os.replace(tmp, target)
    log.info("email_sent", via="outbox", to=message["To"], path=str(target))
    return target
