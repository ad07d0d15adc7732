"""Global middleware: the process's dependencies and a fresh correlation id on every request."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from slack_bolt.response import BoltResponse

from bot.deps import CONTEXT_KEY, BotDeps
from models.base import new_id

Next = Callable[[], Awaitable[BoltResponse]]


def attach_context(deps: BotDeps) -> Callable[..., Awaitable[BoltResponse]]:
    async def contentmind_context(context: Any, body: dict[str, Any], next: Next) -> BoltResponse:
        correlation_id = new_id()  # one per Slack event or command
        context[CONTEXT_KEY] = deps
        context["correlation_id"] = correlation_id
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(
            correlation_id=correlation_id,
            slack_team_id=context.get("team_id"),
            slack_event_id=body.get("event_id") if isinstance(body, dict) else None,
        )
        return await next()

    return contentmind_context
