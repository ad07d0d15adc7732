"""Digests delivered as a Slack DM (the `slack` channel of services.digest_delivery)."""

from __future__ import annotations

import aiohttp
from slack_sdk.errors import SlackApiError

from bot.client import web_client
from services.digest_delivery import (
    SLACK,
    DeliveryDeferred,
    DeliveryRefused,
    DigestSender,
    OutgoingDigest,
)
from services.runtime import Runtime
from services.settings import Settings

_TRANSIENT = frozenset({"ratelimited", "internal_error", "fatal_error", "service_unavailable",
                        "request_timeout"})  # fmt: skip
DEFAULT_RETRY_AFTER_S = 30.0


class SlackDigestSender:
    """conversations.open with the user, then chat.postMessage of the digest's blocks."""

    channel = SLACK

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def send(self, digest: OutgoingDigest) -> str:
        if not digest.slack_user_id:
            raise DeliveryRefused("The user has no Slack account linked.", reason="no_slack_user")
        client = web_client(self.settings)
        try:
            opened = await client.conversations_open(users=digest.slack_user_id)
            channel = str(opened["channel"]["id"])
            posted = await client.chat_postMessage(
                channel=channel, text=digest.fallback_text, blocks=digest.blocks,
                unfurl_links=False, unfurl_media=False,
            )  # fmt: skip
        except SlackApiError as error:
            raise _delivery_error(error) from None
        except (aiohttp.ClientError, TimeoutError, OSError):
            raise DeliveryDeferred(
                "Slack could not be reached.", reason="slack_unreachable"
            ) from None
        return f"{channel}:{posted.get('ts')}"


def _delivery_error(error: SlackApiError) -> DeliveryDeferred | DeliveryRefused:
    code = str(error.response.get("error") or "unknown")
    if code in _TRANSIENT or error.response.status_code >= 500:
        after = error.response.headers.get("Retry-After") if error.response.headers else None
        return DeliveryDeferred(
            "Slack is busy; the digest will be retried.",
            reason=f"slack_{code}"[:64],
            retry_after_s=float(after) if after else DEFAULT_RETRY_AFTER_S,
        )
    return DeliveryRefused(f"Slack refused the digest ({code}).", reason=f"slack_{code}"[:64])


def slack_digest_sender(rt: Runtime) -> DigestSender | None:
    """The factory for services.digest_delivery.sender_factories(): None without a bot token."""
    return SlackDigestSender(rt.settings) if rt.settings.slack_bot_token is not None else None
