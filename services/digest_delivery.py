"""Where a digest goes: one DigestSender per channel, in a registry built once per process.

The seam for other channels (the Slack bot): write a class with a `channel` name and an
`async send(digest: OutgoingDigest) -> str`, and a factory `(rt) -> sender | None` (None when
the channel is not configured); add the factory to `sender_factories()`. A sender raises
`DeliveryDeferred` for a failure worth retrying (with `retry_after_s` when the service said how
long to wait) and `DeliveryRefused` with a reason code for a permanent one; the caller retries,
records the outcome and emits the events. A digest for a channel with no sender fails with the
reason `<channel>_not_configured` (e.g. `slack_not_configured`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from jinja2 import Environment

from agents.digest import DigestAgent
from services.digest_render import (
    DigestView,
    RenderedEmail,
    build_email_message,
    fallback_text,
    render_blocks,
    render_email,
)
from services.errors import ContentMindError, TransientError
from services.mailer import DeliveryFailed, send_email
from services.rendering import create_environment
from services.settings import Settings
from services.unsubscribe import UnsubscribeTokens, load_secret_key

if TYPE_CHECKING:
    from services.runtime import Runtime

EMAIL = "email"
SLACK = "slack"
CHANNELS = (EMAIL, SLACK)


@dataclass
class OutgoingDigest:
    """One digest for one person; each form (email parts, Slack blocks) is rendered on first use,
    so a channel pays only for the form it sends."""

    digest_id: str
    correlation_id: str
    tenant_id: str
    user_id: str
    email: str | None
    slack_user_id: str | None
    display_name: str | None
    kind: str  # daily | on_demand
    local_date: date
    item_count: int
    failure_count: int
    unsubscribe_url: str
    unsubscribe_mailto: str | None
    view: DigestView = field(repr=False)
    env: Environment = field(repr=False)

    @cached_property
    def email_parts(self) -> RenderedEmail:
        return render_email(self.env, self.view)

    @property
    def subject(self) -> str:
        return self.email_parts.subject

    @property
    def text(self) -> str:
        """The plain-text part (email)."""
        return self.email_parts.text

    @property
    def html(self) -> str:
        """The HTML part (email), every document string escaped."""
        return self.email_parts.html

    @cached_property
    def blocks(self) -> list[dict[str, Any]]:
        """Slack Block Kit, within Slack's limits (≤ 50 blocks, ≤ 3000 chars per section)."""
        return render_blocks(self.env, self.view)

    @property
    def fallback_text(self) -> str:
        """Slack's notification text (chat.postMessage `text`)."""
        return fallback_text(self.view)


class DeliveryDeferred(TransientError):
    """Try again later (SMTP 4xx, connection refused, Slack rate limit)."""

    reason = "delivery_deferred"
    default_message = "The digest could not be delivered yet; it will be retried."

    def __init__(
        self,
        user_message: str | None = None,
        *,
        reason: str | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(user_message, reason=reason)
        self.retry_after_s = retry_after_s


class DeliveryRefused(ContentMindError):
    """A permanent refusal: trying again would not help (SMTP 5xx, no such user, no address)."""

    reason = "delivery_refused"
    default_message = "The digest could not be delivered."


@runtime_checkable
class DigestSender(Protocol):
    channel: str

    async def send(self, digest: OutgoingDigest) -> str:
        """Deliver; return a reference (relay, outbox path, Slack message ts)."""
        ...


SenderFactory = Callable[["Runtime"], DigestSender | None]


class DigestSenders:
    """The senders of this process, by channel."""

    def __init__(self, senders: Iterable[DigestSender] = ()) -> None:
        self._by_channel: dict[str, DigestSender] = {}
        for sender in senders:
            self.register(sender)

    def register(self, sender: DigestSender) -> None:
        self._by_channel[sender.channel] = sender

    def get(self, channel: str) -> DigestSender | None:
        return self._by_channel.get(channel)

    @property
    def channels(self) -> tuple[str, ...]:
        return tuple(self._by_channel)


class EmailDigestSender:
    """Email through the configured relay (aiosmtplib), or into the local outbox."""

    channel = EMAIL

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def send(self, digest: OutgoingDigest) -> str:
        if not digest.email:
            raise DeliveryRefused("The user has no email address.", reason="no_email_address")
        message = build_email_message(
            digest.email_parts,
            mail_from=self.settings.mail_from,
            to=digest.email,
            domain=self.settings.ingest_domain,
            # scheduled digests off (an on-demand one): nothing to unsubscribe from
            unsubscribe_url=digest.unsubscribe_url if digest.view.daily_on else None,
            unsubscribe_mailto=digest.unsubscribe_mailto,
        )
        try:
            return await send_email(self.settings, message)
        except DeliveryFailed as error:
            raise DeliveryRefused(str(error), reason="relay_refused") from None
        except TransientError as error:
            raise DeliveryDeferred(error.user_message, reason="relay_deferred") from None


def email_sender(rt: Runtime) -> DigestSender:
    return EmailDigestSender(rt.settings)


def sender_factories() -> list[SenderFactory]:
    """Every channel's sender factory; a new channel adds its own here (None: not configured)."""
    from bot.digest_sender import slack_digest_sender  # the door's own code, loaded on use

    return [email_sender, slack_digest_sender]


@dataclass
class DigestKit:
    """What composing and delivering digests needs, built once per process (worker start-up)."""

    env: Environment
    agent: DigestAgent
    tokens: UnsubscribeTokens
    senders: DigestSenders


def build_kit(rt: Runtime, factories: Sequence[SenderFactory] | None = None) -> DigestKit:
    settings = rt.settings
    senders = DigestSenders()
    for factory in sender_factories() if factories is None else factories:
        sender = factory(rt)
        if sender is not None:
            senders.register(sender)
    env = create_environment(settings.templates_dir)
    env.auto_reload = False  # templates are read once per process, not stat()ed per render
    return DigestKit(
        env=env,
        agent=DigestAgent(group_by=settings.digest_group_by, max_items=settings.digest_max_items),
        tokens=UnsubscribeTokens(load_secret_key(settings)),
        senders=senders,
    )
