"""/stats [7d|30d] [me|team]: usage against the period before, ephemeral."""

from __future__ import annotations

from typing import Any

from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.commands import CommandCall, run_command
from bot.usage import parse_stats_args, stats_message


async def answer_stats(call: CommandCall) -> None:
    args = parse_stats_args(call.text)
    message = await stats_message(call.rt, call.env, tenant=call.tenant, user=call.user, args=args)
    await call.reply(message)


async def stats_command(
    command: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond, context: Any
) -> None:
    await run_command(
        "stats", answer_stats, context=context, client=client, respond=respond, command=command
    )
