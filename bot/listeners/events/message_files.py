"""A message with files (a channel the bot is in, a DM, a thread): queue each file's fetch."""

from __future__ import annotations

from typing import Any

from slack_bolt.request.async_request import AsyncBoltRequest

from bot.deps import deps_of
from bot.intake import enqueue_shares, first_delivery, retry_num
from bot.shares import is_file_message, shares_from_message


async def message_files(
    body: dict[str, Any], event: dict[str, Any], context: Any, request: AsyncBoltRequest
) -> None:
    if not is_file_message(event):
        return  # edits, deletions, bots' posts and plain text are not ours
    rt = deps_of(context).rt
    retry = retry_num(request.headers)
    if not await first_delivery(rt, body, retry=retry):
        return
    shares = shares_from_message(body, event, parent_correlation_id=context.get("correlation_id"))
    await enqueue_shares(rt, shares, body=body, retry=retry)
