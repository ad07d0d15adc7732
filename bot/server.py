"""Running the bot: Socket Mode when an app-level token is set, else HTTP at /slack/events.

Socket Mode needs no public URL (the default for a self-hosted install). HTTP mode is a router
of the API app (api/app.py): POST /slack/events (and the same handler at /slack/commands) on
the web port, with bolt's signature check — a forged signature or a timestamp older than five
minutes gets 401.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import structlog
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.signature import SignatureVerifier
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from bot.app import build_app
from bot.client import SlackNotConfigured
from services.runtime import Runtime
from services.settings import Settings

log = structlog.get_logger(__name__)
EVENTS_PATH = "/slack/events"
COMMANDS_PATH = "/slack/commands"


def missing_settings(settings: Settings) -> list[str]:
    """The variables still needed to run the bot (empty when it can run)."""
    missing = [] if settings.slack_bot_token else ["CONTENTMIND_SLACK_BOT_TOKEN"]
    if not settings.slack_app_token and not settings.slack_signing_secret:
        missing.append(
            "CONTENTMIND_SLACK_APP_TOKEN (Socket Mode) or CONTENTMIND_SLACK_SIGNING_SECRET (HTTP)"
        )
    return missing


def uses_http(settings: Settings) -> bool:
    """HTTP mode: configured, and no app-level token (which would choose Socket Mode)."""
    return not missing_settings(settings) and settings.slack_app_token is None


def http_routes(app: AsyncApp, signing_secret: str) -> list[BaseRoute]:
    """POST /slack/events: the signature is checked first, before the body is even parsed.

    Bolt checks it again; checking here keeps a forged or malformed request from reaching the
    parser (a 500) or bolt's log (which would copy the unsigned body into it).
    """
    handler = AsyncSlackRequestHandler(app)
    verifier = SignatureVerifier(signing_secret)

    async def slack_events(request: Request) -> Response:
        body = await request.body()
        timestamp = request.headers.get("x-slack-request-timestamp", "")
        signature = request.headers.get("x-slack-signature", "")
        if not (
            timestamp.isdigit()
            and signature
            and verifier.is_valid(body=body, timestamp=timestamp, signature=signature)
        ):
            log.info("slack_request_rejected", reason="signature", size=len(body))
            return JSONResponse({"error": "invalid request"}, status_code=401)
        try:
            return await handler.handle(request)
        except ValueError:  # signed, but not a JSON or form body Slack would send
            log.warning("slack_request_unparseable", size=len(body))
            return JSONResponse({"error": "unparseable request body"}, status_code=400)

    return [
        Route(EVENTS_PATH, slack_events, methods=["POST"]),
        Route(COMMANDS_PATH, slack_events, methods=["POST"]),
    ]


def slack_routes(rt: Runtime) -> list[BaseRoute]:
    """The API router of the bot in HTTP mode (none in Socket Mode or when not configured)."""
    if not uses_http(rt.settings):
        return []
    secret = rt.settings.slack_signing_secret
    assert secret is not None, "uses_http() requires it"
    return http_routes(build_app(rt), secret.get_secret_value())


@dataclass
class SocketModeBot:
    handler: AsyncSocketModeHandler

    async def close(self) -> None:
        await self.handler.close_async()


async def start_socket_mode(rt: Runtime) -> SocketModeBot:
    """Connect to Slack over Socket Mode (apps.connections.open, then a WebSocket)."""
    settings = rt.settings
    if missing_settings(settings) or settings.slack_app_token is None:
        raise SlackNotConfigured("Socket Mode needs the bot token and the app-level token")
    app = build_app(rt)
    handler = AsyncSocketModeHandler(
        app, settings.slack_app_token.get_secret_value(), web_client=app.client
    )
    await handler.connect_async()
    log.info("slack_socket_mode_connected")
    return SocketModeBot(handler)


@dataclass
class RunningSlack:
    description: str
    close: Callable[[], Awaitable[None]]


async def _nothing() -> None:
    return None


async def start_slack(rt: Runtime, *, api_running: bool) -> RunningSlack:
    """Socket Mode, or HTTP: on the API this process already serves, else on a server of its own.

    Raises SlackNotConfigured (its message lists the missing variables) when it cannot run.
    """
    settings = rt.settings
    missing = missing_settings(settings)
    if missing:
        raise SlackNotConfigured("set " + " and ".join(missing))
    if settings.slack_app_token is not None:
        bot = await start_socket_mode(rt)
        return RunningSlack("connected over Socket Mode (no public URL needed)", bot.close)
    public = settings.public_base_url.rstrip("/") + EVENTS_PATH
    if api_running:
        return RunningSlack(f"HTTP at {EVENTS_PATH} on the API (Request URL: {public})", _nothing)
    from api import health, items
    from api.server import start_api

    server = await start_api(rt, routers=[health.routes, items.routes, slack_routes])
    host, port = server.address
    where = f"http://{host}:{port}{EVENTS_PATH}"
    return RunningSlack(f"HTTP on {where} (Request URL: {public})", server.stop)
