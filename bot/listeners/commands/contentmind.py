"""/contentmind (and /kb) SUBCOMMAND …: every command under one name, and the help text."""

from __future__ import annotations

from typing import Any

from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks import help_text
from bot.commands import CommandCall, Handler, run_command, split_subcommand
from bot.listeners.commands.ask import answer_ask
from bot.listeners.commands.digest import answer_digest
from bot.listeners.commands.search import answer_search
from bot.listeners.commands.stats import answer_stats

SUBCOMMANDS: dict[str, Handler] = {
    "stats": answer_stats,
    "search": answer_search,
    "ask": answer_ask,
    "digest": answer_digest,
}


async def answer_help(call: CommandCall) -> None:
    word = call.text.split(" ", 1)[0] if call.text else ""
    problem = f"I don't know “{word}”." if word and word != "help" else None
    await call.reply(help_text(call.env, problem))


async def contentmind_command(
    command: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond, context: Any
) -> None:
    name, rest = split_subcommand(command.get("text") or "")
    handler = SUBCOMMANDS.get(name)
    kwargs = {"context": context, "client": client, "respond": respond, "command": command}
    if handler is None:
        await run_command("help", answer_help, **kwargs)
        return
    await run_command(name, handler, text=rest, **kwargs)
