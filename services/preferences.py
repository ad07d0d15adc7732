"""A user's digest preferences: on/off, time of day, time zone, weekdays only, channel.

One place for every door that changes them: the unsubscribe link (api/), the Slack `/digest`
command (`/digest off`, `/digest on`, `/digest time 07:30`), the CLI. Each function takes the
session and the user id, commits, and returns the updated user; bad input raises
PreferenceError with a message fit for the user, and then nothing is changed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

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


@dataclass(frozen=True)
class Changes:
    """What to change; None leaves a setting as it is."""

    enabled: bool | None = None
    time_text: str | None = None  # "07:30"; setting a time turns digests on
    timezone: str | None = None
    weekdays_only: bool | None = None
    channel: str | None = None


async def change(session: AsyncSession, *, user_id: str, changes: Changes) -> User:
    """Apply every change given, or none: all are checked before anything is saved."""
    at = parse_time(changes.time_text) if changes.time_text is not None else None
    zone = _zone(changes.timezone) if changes.timezone is not None else None
    user = await _user(session, user_id)
    if changes.channel is not None:
        _check_channel(user, changes.channel)
        user.digest_channel = changes.channel
    schedule_changed = False
    if zone is not None:
        user.timezone, schedule_changed = zone, True
    if at is not None:
        user.digest_hour, user.digest_minute = at
        user.digest_enabled, schedule_changed = True, True
    if changes.weekdays_only is not None:
        user.digest_weekdays_only, schedule_changed = changes.weekdays_only, True
    if changes.enabled is not None:
        schedule_changed |= user.digest_enabled != changes.enabled
        user.digest_enabled = changes.enabled
    return await _save(session, user, schedule_changed=schedule_changed)


def _zone(timezone: str) -> str:
    name = timezone.strip()
    if not is_known_zone(name):
        raise PreferenceError(f"“{name}” is not a time zone; use a name like Europe/Berlin.")
    return name


def _check_channel(user: User, channel: str) -> None:
    if channel not in CHANNELS:
        raise PreferenceError(f"Digests go by {' or '.join(CHANNELS)}, not “{channel}”.")
    if channel == "slack" and not user.slack_user_id:
        raise PreferenceError(
            "Digests by Slack need your Slack account: share a file with ContentMind or use "
            "/digest in Slack first."
        )
    if channel == "email" and not user.email:
        raise PreferenceError("Digests by email need an email address, and Slack gave none.")


async def set_digest_enabled(session: AsyncSession, *, user_id: str, enabled: bool) -> User:
    return await change(session, user_id=user_id, changes=Changes(enabled=enabled))


async def set_digest_time(session: AsyncSession, *, user_id: str, time_text: str) -> User:
    """Set the local time of the daily digest (and turn digests on)."""
    return await change(session, user_id=user_id, changes=Changes(time_text=time_text))


def describe(user: User) -> str:
    """One sentence for the user, like: Digests are on: every day at 08:00 (UTC) by email.
    When they are off, the schedule that turning them on brings back."""
    days = "every weekday" if user.digest_weekdays_only else "every day"
    at = f"{user.digest_hour:02d}:{user.digest_minute:02d}"
    schedule = f"{days} at {at} ({user.timezone}) by {user.digest_channel}"
    if not user.digest_enabled:
        return f"Digests are off (turned on, they come {schedule})."
    return f"Digests are on: {schedule}."
