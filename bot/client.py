"""The Slack Web API client, built from settings (tests point it at a local server)."""

from __future__ import annotations

from urllib.parse import urlsplit

from slack_sdk.web.async_client import AsyncWebClient

from services.settings import Settings

SLACK_HOST_SUFFIXES = (".slack.com", ".slack-edge.com")


class SlackNotConfigured(RuntimeError):
    """The bot token is missing; nothing can be said to Slack."""


def bot_token(settings: Settings) -> str:
    if settings.slack_bot_token is None:
        raise SlackNotConfigured("CONTENTMIND_SLACK_BOT_TOKEN is not set")
    return settings.slack_bot_token.get_secret_value()


def api_base_url(settings: Settings) -> str:
    base = settings.slack_api_base_url
    return base if base.endswith("/") else base + "/"


def web_client(settings: Settings) -> AsyncWebClient:
    """A client with the bot token; cheap to create (one HTTP session per call)."""
    return AsyncWebClient(token=bot_token(settings), base_url=api_base_url(settings), timeout=30)


def token_may_go_to(settings: Settings, url: str) -> bool:
    """The bot token is sent only to Slack's own hosts (or the configured API host, for tests)."""
    host = (urlsplit(url).hostname or "").lower()
    api_host = (urlsplit(api_base_url(settings)).hostname or "").lower()
    return host == "slack.com" or host.endswith(SLACK_HOST_SUFFIXES) or host == api_host
