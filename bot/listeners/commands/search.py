"""/search QUERY: the best matches in the caller's team's knowledge, with snippets; ephemeral."""

from __future__ import annotations

from typing import Any

from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks import search_results
from bot.commands import CommandCall, run_command
from bot.usage import BadArguments
from services.knowledge import search
from services.links import item_links

RESULTS = 5


async def answer_search(call: CommandCall) -> None:
    if not call.text:
        raise BadArguments("Tell me what to look for, e.g. `/search quarterly revenue`.")
    async with call.rt.sessions() as session:
        hits = await search(session, tenant_id=call.tenant.id, query=call.text, limit=RESULTS)
    links = item_links(call.rt.settings)
    await call.reply(
        search_results(call.env, call.text, hits, links=links, timezone=call.user.timezone)
    )


async def search_command(
    command: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond, context: Any
) -> None:
    await run_command(
        "search", answer_search, context=context, client=client, respond=respond, command=command
    )
