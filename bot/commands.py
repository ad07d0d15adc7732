"""What every slash command does around its own work: who is asking, COMMAND_USED, plain errors.

Commands are acknowledged at once by their ack function (an empty 200 within Slack's 3 s); the
work runs in a lazy listener after the answer left, and long work (/ask, /digest now) goes to a
job. Answers are ephemeral, through the command's response_url.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import structlog
from jinja2 import Environment
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks import Message, help_text, plain
from bot.deps import deps_of
from bot.identity import resolve_slack_user
from bot.usage import BadArguments
from models import Tenant, User
from models.base import new_id
from services.analytics import EventType
from services.runtime import Runtime

log = structlog.get_logger(__name__)
PRIVATE_ARGS = frozenset({"search", "ask"})  # their text is the user's content: length only
SORRY = (
    "Sorry — ContentMind could not do that just now. Try again in a minute; if it keeps "
    "failing, give your admin this reference: {reference}"
)


@dataclass(frozen=True)
class CommandCall:
    """One slash command, with its caller resolved to a tenant and user."""

    rt: Runtime
    env: Environment
    client: AsyncWebClient
    respond: AsyncRespond
    tenant: Tenant
    user: User
    name: str  # stats | search | ask | digest | help
    text: str  # the command's arguments
    payload: dict[str, Any]
    correlation_id: str

    async def reply(self, message: Message) -> None:
        """An ephemeral answer to the caller."""
        await self.respond(response_type="ephemeral", **message.as_kwargs())


QUEUED = "queued"  # a handler's answer when a job finishes the command (and logs its end)
Handler = Callable[[CommandCall], Awaitable[str | None]]


async def ack_now(ack: AsyncAck) -> None:
    """Every command: an empty 200 at once; the answer follows through the response_url."""
    await ack()


async def run_command(
    name: str,
    handler: Handler,
    *,
    context: Any,
    client: AsyncWebClient,
    respond: AsyncRespond,
    command: dict[str, Any],
    text: str | None = None,
) -> None:
    """Resolve the caller, log COMMAND_USED, run `handler`; failures are told in plain words."""
    deps = deps_of(context)
    text = str(command.get("text") or "") if text is None else text
    reference = str(context.get("correlation_id") or new_id())
    structlog.contextvars.bind_contextvars(correlation_id=reference, command=name)
    try:
        tenant, user = await resolve_slack_user(
            deps.rt,
            client,
            team_id=str(command.get("team_id")),
            user_id=str(command.get("user_id")),
        )
        structlog.contextvars.bind_contextvars(tenant_id=tenant.id, user_id=user.id)
        _log_used(deps.rt, command, name, text, reference)
        call = CommandCall(deps.rt, deps.env, client, respond, tenant, user, name, text.strip(),
                           command, reference)  # fmt: skip
        if await handler(call) != QUEUED:
            deps.rt.analytics.log_event(EventType.COMMAND_COMPLETED, metadata={"command": name})
    except BadArguments as problem:  # answered with the help text: the command ends here
        deps.rt.analytics.log_event(
            EventType.COMMAND_COMPLETED, metadata={"command": name, "outcome": "bad_arguments"}
        )
        await respond(response_type="ephemeral", **help_text(deps.env, str(problem)).as_kwargs())
    except Exception as error:  # told to the user in plain words; the detail goes to the log
        log.exception("slack_command_failed", error_type=type(error).__name__)
        deps.rt.analytics.log_event(
            EventType.COMMAND_FAILED,
            metadata={"command": name, "error_type": type(error).__name__},
        )
        await respond(
            response_type="ephemeral", **plain(SORRY.format(reference=reference)).as_kwargs()
        )


def _log_used(rt: Runtime, command: dict[str, Any], name: str, text: str, reference: str) -> None:
    metadata: dict[str, Any] = {
        "command": name,
        "slash_command": command.get("command"),
        "channel_id": command.get("channel_id"),
        "via": "slack",
    }
    if name in PRIVATE_ARGS:
        metadata["text_length"] = len(text)
    else:
        metadata["args"] = text.strip()[:100]
    rt.analytics.log_event(EventType.COMMAND_USED, correlation_id=reference, metadata=metadata)


def split_subcommand(text: str) -> tuple[str, str]:
    """`/contentmind search budget 2025` → ("search", "budget 2025")."""
    head, _, rest = text.strip().partition(" ")
    return head.lower(), rest.strip()
