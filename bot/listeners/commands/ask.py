"""/ask QUESTION: an answer from the team's knowledge with citations, composed in a job."""

from __future__ import annotations

from typing import Any

from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.commands import CommandCall, run_command
from bot.jobs import enqueue_command
from bot.usage import BadArguments


async def answer_ask(call: CommandCall) -> str:
    if not call.text:
        raise BadArguments("Ask a question, e.g. `/ask when is the customer call?`")
    return await enqueue_command(call, kind="ask", text=call.text)


async def ask_command(
    command: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond, context: Any
) -> None:
    await run_command(
        "ask", answer_ask, context=context, client=client, respond=respond, command=command
    )
