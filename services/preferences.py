"""A user's digest preferences: on/off, time of day, time zone, weekdays only, channel.

One place for every door that changes them: the unsubscribe link (api/), the Slack `/digest`
command (`/digest off`, `/digest on`, `/digest time 07:30`), the CLI. Each function takes the
session and the user id, commits, and returns the updated user; bad input raises
PreferenceError with a message fit for the user.
"""

from __future__ import annotations

import re

from sqlmodel.ext.asyncio.session import AsyncSession

from models import User
from models.base import utcnow
from services.digest_delivery import CHANNELS
from services.errors import ContentMindError
from services.schedule import is_known_zone

_TIME = re.compile(r"^\s*(\d{1,2})(?:[:.h](\d{2}))?\s*(am|pm)?\s*$", re.I)


class PreferenceError(ContentMindError):
    reason = "invalid_preference"
    default_message = "That setting is not valid."


class UnknownUser(PreferenceError):
    reason = "user_not_found"
    default_message = "No such user."


def parse_time(text: str) -> tuple[int, int]:
    """Parse a time of day: "08:00", "8:30", "7", "7pm", "19.30" → (hour, minute)."""
    match = _TIME.match(text or "")
    if not match:
        raise PreferenceError(f"“{text}” is not a time; use HH:MM, for example 08:00.")
    hour, minute, half = int(match[1]), int(match[2] or 0), (match[3] or "").lower()
    if half:
        if not 1 <= hour <= 12:
            raise PreferenceError(f"“{text}” is not a time; use HH:MM, for example 08:00.")
        hour = hour % 12 + (12 if half == "pm" else 0)
    if hour > 23 or minute > 59:
        raise PreferenceError(f"“{text}” is not a time of day; use 00:00 to 23:59.")
    return hour, minute


async def _user(session: AsyncSession, user_id: str) -> User:
    user = await session.get(User, user_id)
    if user is None:
        raise UnknownUser()
    return user


async def _save(session: AsyncSession, user: User, *, schedule_changed: bool = False) -> User:
    if schedule_changed:  # a slot already past today is then not "missed" (no catch-up)
        user.digest_changed_at = utcnow()
    session.add(user)
    await session.commit()
    await session.refresh(user)
    return user


async def set_digest_enabled(session: AsyncSession, *, user_id: str, enabled: bool) -> User:
    user = await _user(session, user_id)
    changed = user.digest_enabled != enabled
    user.digest_enabled = enabled
    return await _save(session, user, schedule_changed=changed)


async def set_digest_time(session: AsyncSession, *, user_id: str, time_text: str) -> User:
    """Set the local time of the daily digest (and turn digests on)."""
    hour, minute = parse_time(time_text)
    user = await _user(session, user_id)
    user.digest_hour, user.digest_minute, user.digest_enabled = hour, minute, True
    return await _save(session, user, schedule_changed=True)


async def set_timezone(session: AsyncSession, *, user_id: str, timezone: str) -> User:
    name = timezone.strip()
    if not is_known_zone(name):
        raise PreferenceError(f"“{name}” is not a time zone; use a name like Europe/Berlin.")
    user = await _user(session, user_id)
    user.timezone = name
    return await _save(session, user, schedule_changed=True)


async def set_weekdays_only(session: AsyncSession, *, user_id: str, weekdays_only: bool) -> User:
    user = await _user(session, user_id)
    user.digest_weekdays_only = weekdays_only
    return await _save(session, user, schedule_changed=True)


async def set_digest_channel(session: AsyncSession, *, user_id: str, channel: str) -> User:
    if channel not in CHANNELS:
        raise PreferenceError(f"Digests go by {' or '.join(CHANNELS)}, not “{channel}”.")
    user = await _user(session, user_id)
    if channel == "slack" and not user.slack_user_id:
        raise PreferenceError(
            "Digests by Slack need your Slack account: share a file with ContentMind or use "
            "/digest in Slack first."
        )
    if channel == "email" and not user.email:
        raise PreferenceError("Digests by email need an email address, and Slack gave none.")
    user.digest_channel = channel
    return await _save(session, user)


def describe(user: User) -> str:
    """One sentence for the user, like: Digests are on: every day at 08:00 (UTC) by email."""
    if not user.digest_enabled:
        return "Digests are off."
    days = "every weekday" if user.digest_weekdays_only else "every day"
    at = f"{user.digest_hour:02d}:{user.digest_minute:02d}"
    return f"Digests are on: {days} at {at} ({user.timezone}) by {user.digest_channel}."
