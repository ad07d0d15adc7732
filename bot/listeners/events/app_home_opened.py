"""The App Home tab: the user's recent items and usage, published with views.publish."""

from __future__ import annotations

from typing import Any

import structlog
from slack_sdk.web.async_client import AsyncWebClient

from bot.deps import deps_of
from bot.home import home_view_for
from bot.identity import resolve_slack_user

log = structlog.get_logger(__name__)


async def ack_home() -> None:
    """Events are acknowledged by bolt; the view is built after the answer left."""


async def publish_home(
    event: dict[str, Any], body: dict[str, Any], client: AsyncWebClient, context: Any
) -> None:
    if event.get("tab") not in (None, "home") or not event.get("user"):
        return
    deps = deps_of(context)
    try:
        tenant, user = await resolve_slack_user(
            deps.rt, client, team_id=str(body.get("team_id")), user_id=str(event["user"])
        )
        view = await home_view_for(deps.rt, deps.env, tenant=tenant, user=user)
        await client.views_publish(user_id=str(event["user"]), view=view)
    except Exception as error:  # the tab keeps its last view; the detail goes to the log
        log.exception("slack_home_failed", error_type=type(error).__name__)
