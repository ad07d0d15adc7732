"""The answer in a shared file's Slack thread once it is final: its card, or why it failed.

The analogue of workers.replies for email. Where to answer is kept in the file's
`details["slack"]` (channel, thread) by the fetch job. Each place gets at most one reply per
file: a Redis key is claimed right before posting and released if the post fails, so a re-run
of the job after a stop answers exactly once.
"""

from __future__ import annotations

import asyncio
import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog
from jinja2 import Environment
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks import ItemView, Message, file_card, file_failure
from bot.client import web_client
from bot.keys import REPLY_TTL_S, reply_key
from models import FileRecord, FileSource, FileStatus, KnowledgeItem, User
from services.analytics import EventType
from services.links import item_links
from services.rendering import create_environment
from services.runtime import Runtime

log = structlog.get_logger(__name__)
_NOT_THERE = frozenset({"not_in_channel", "channel_not_found", "is_archived", "thread_not_found"})


@dataclass(frozen=True)
class Place:
    """Where to answer: a channel (or DM) and thread; a DM with `user_id` when there is none."""

    channel_id: str | None
    thread_ts: str | None
    user_id: str | None


@functools.lru_cache(maxsize=8)
def templates(override_dir: Path | None) -> Environment:
    return create_environment(override_dir)


def place_of(record: FileRecord) -> Place | None:
    slack = record.details.get("slack") if isinstance(record.details, dict) else None
    if not isinstance(slack, dict):
        return None
    return Place(slack.get("channel_id"), slack.get("thread_ts"), slack.get("user_id"))


async def reply_in_slack(rt: Runtime, record: FileRecord) -> bool:
    """Post the file's outcome in its thread (once); never raises for a Slack failure."""
    place = place_of(record)
    if record.source != FileSource.SLACK or place is None:
        return False
    if not FileStatus(record.status).is_final or rt.settings.slack_bot_token is None:
        return False
    return await post_outcome(rt, record, place, duplicate=False)


async def post_outcome(rt: Runtime, record: FileRecord, place: Place, *, duplicate: bool) -> bool:
    try:
        message = await outcome_message(rt, record, duplicate=duplicate)
        return await _post_once(rt, record, place, message)
    except asyncio.CancelledError:
        raise
    except Exception as error:  # the file is done; a lost reply must not fail the job
        log.exception("slack_reply_failed", error_type=type(error).__name__)
        return False


async def outcome_message(rt: Runtime, record: FileRecord, *, duplicate: bool) -> Message:
    env = templates(rt.settings.templates_dir)
    async with rt.sessions() as session:
        user = await session.get(User, record.user_id)
        item = (
            await session.get(KnowledgeItem, record.knowledge_id) if record.knowledge_id else None
        )
    timezone = user.timezone if user else "UTC"
    if record.status == FileStatus.COMPLETED and item is not None:
        slack = record.details.get("slack") or {}
        return file_card(
            env, ItemView.of(item), reference=record.correlation_id,
            duplicate=duplicate or record.reason == "duplicate",
            link=item_links(rt.settings)(item.id), file_link=slack.get("permalink"),
            timezone=timezone,
        )  # fmt: skip
    return file_failure(
        env, filename=record.original_filename,
        message=record.reason_message or "The file could not be processed.",
        reason=record.reason, reference=record.correlation_id,
        skipped=record.status == FileStatus.SKIPPED,
    )  # fmt: skip


async def _post_once(rt: Runtime, record: FileRecord, place: Place, message: Message) -> bool:
    redis = rt.require_redis()
    key = reply_key(record.id, place.channel_id or f"dm:{place.user_id}", place.thread_ts)
    if not await redis.set(key, "1", nx=True, ex=REPLY_TTL_S):
        return False  # this place has its answer already
    try:
        where = await _post(web_client(rt.settings), place, message)
    except BaseException:
        await asyncio.shield(redis.delete(key))
        raise
    rt.analytics.log_event(
        EventType.REPLY_SENT,
        user_id=record.user_id,
        tenant_id=record.tenant_id,
        correlation_id=record.correlation_id,
        metadata={"via": "slack", "file_id": record.id, "status": record.status, **where},
    )
    return True


async def _post(client: AsyncWebClient, place: Place, message: Message) -> dict[str, Any]:
    """In the thread; when the bot cannot post there, in a DM to the person who shared it."""
    if place.channel_id:
        try:
            await client.chat_postMessage(
                channel=place.channel_id, thread_ts=place.thread_ts, unfurl_links=False,
                unfurl_media=False, **message.as_kwargs(),
            )  # fmt: skip
            return {"channel_id": place.channel_id, "thread_ts": place.thread_ts}
        except SlackApiError as error:
            if error.response.get("error") not in _NOT_THERE or not place.user_id:
                raise
    if not place.user_id:
        raise ValueError("no channel and no user to answer")
    opened = await client.conversations_open(users=place.user_id)
    channel = str(opened["channel"]["id"])
    await client.chat_postMessage(channel=channel, unfurl_links=False, **message.as_kwargs())
    return {"channel_id": channel, "thread_ts": None, "fallback": "dm"}
