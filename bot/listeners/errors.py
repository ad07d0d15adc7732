"""The global error handler: the person hears it in plain words, the log gets the detail."""

from __future__ import annotations

from typing import Any

import structlog
from slack_bolt.async_app import AsyncApp
from slack_bolt.context.respond.async_respond import AsyncRespond

from bot.blocks import plain
from bot.commands import SORRY
from models.base import new_id

log = structlog.get_logger(__name__)


async def handle_error(error: Exception, body: dict[str, Any], context: Any,
                       respond: AsyncRespond | None) -> None:  # fmt: skip
    """Commands get an ephemeral apology with a reference; events get a 500, so Slack retries."""
    reference = str(context.get("correlation_id") or new_id())
    log.error("slack_listener_failed", error_type=type(error).__name__, reference=reference,
              exc_info=error)  # fmt: skip
    if respond is not None and context.get("response_url"):
        try:
            await respond(
                response_type="ephemeral", **plain(SORRY.format(reference=reference)).as_kwargs()
            )
        except Exception:  # Slack is unreachable: nothing more can be said
            log.warning("slack_error_reply_failed", reference=reference)


def register(app: AsyncApp) -> None:
    app.error(handle_error)
