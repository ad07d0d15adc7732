"""file_shared: the same upload as its message event, or a share the message event did not bring."""

from __future__ import annotations

from typing import Any

from slack_bolt.request.async_request import AsyncBoltRequest

from bot.deps import deps_of
from bot.intake import enqueue_shares, first_delivery, retry_num
from bot.shares import share_from_file_shared


async def file_shared(
    body: dict[str, Any], event: dict[str, Any], context: Any, request: AsyncBoltRequest
) -> None:
    share = share_from_file_shared(body, event, parent_correlation_id=context.get("correlation_id"))
    if share is None:
        return
    rt = deps_of(context).rt
    retry = retry_num(request.headers)
    if await first_delivery(rt, body, retry=retry):
        await enqueue_shares(rt, [share], body=body, retry=retry)
