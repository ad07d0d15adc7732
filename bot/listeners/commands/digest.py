"""/digest [now|on|off|time HH:MM|status]: your digest now (in a job) or your digest settings."""

from __future__ import annotations

import re
from typing import Any

from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks import plain
from bot.commands import CommandCall, run_command
from bot.jobs import enqueue_command
from bot.usage import BadArguments
from services import preferences
from services.preferences import PreferenceError

# "now", nothing, or a period ("last 7 days", "7d"): the digest covers what is new since the last
_NOW = re.compile(r"^(now)?\s*((last|past)?\s*\d{1,3}\s*(d|days?)|today|week)?$")


async def answer_digest(call: CommandCall) -> str | None:
    words = call.text.lower().split()
    action, rest = (words[0], " ".join(words[1:])) if words else ("now", "")
    if _NOW.match(call.text.lower().strip()):
        queued = await enqueue_command(call, kind="digest", text=call.text)
        where = "here" if _in_dm(call) else "in your direct messages with ContentMind"
        await call.reply(plain(f"Putting your digest together — it will arrive {where} shortly."))
        return queued
    try:
        await _settings(call, action, rest)
    except PreferenceError as error:
        await call.reply(plain(error.user_message))
    return None


def _in_dm(call: CommandCall) -> bool:
    return str(call.payload.get("channel_id") or "").startswith("D")


async def _settings(call: CommandCall, action: str, rest: str) -> None:
    async with call.rt.sessions() as session:
        if action in ("on", "off") and not rest:
            user = await preferences.set_digest_enabled(
                session, user_id=call.user.id, enabled=action == "on"
            )
        elif action in ("time", "at") and rest:
            user = await preferences.set_digest_time(session, user_id=call.user.id, time_text=rest)
        elif action in ("status", "settings") and not rest:
            user = call.user
        else:
            raise BadArguments(f"/digest does not understand “{call.text}”.")
    await call.reply(plain(preferences.describe(user)))


async def digest_command(
    command: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond, context: Any
) -> None:
    await run_command(
        "digest", answer_digest, context=context, client=client, respond=respond, command=command
    )
