"""When is a user's digest due? Pure time arithmetic in the user's own IANA time zone.

A slot is "the user's preferred wall-clock time on a local date", converted to UTC with that
date's offset, so 08:00 in Berlin is 07:00 UTC in winter and 06:00 UTC in summer, and the day
of a DST change has its 08:00 like any other. A wall time that does not exist that day (the
hour skipped in spring) maps to the same instant as an hour later; one that exists twice (the
hour repeated in autumn) is its first occurrence. The database, not this module, makes sure a
slot is used once.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

MAX_CATCH_UP = timedelta(hours=23)  # more would let yesterday's and today's slot both be due


@dataclass(frozen=True)
class Slot:
    local_date: date
    at: datetime  # UTC


@dataclass(frozen=True)
class DigestPreferences:
    timezone: str
    hour: int
    minute: int = 0
    weekdays_only: bool = False


@functools.lru_cache(maxsize=1024)
def zone(name: str) -> ZoneInfo:
    """The IANA zone, or UTC for a name this machine does not know."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def is_known_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def slot_on(day: date, prefs: DigestPreferences) -> datetime:
    """The UTC instant of the preferred wall time on `day` in the user's zone."""
    local = datetime.combine(day, time(prefs.hour, prefs.minute), tzinfo=zone(prefs.timezone))
    return local.astimezone(UTC)


def local_date(now: datetime, timezone: str) -> date:
    return now.astimezone(zone(timezone)).date()


def due_slot(
    now: datetime,
    prefs: DigestPreferences,
    *,
    catch_up: timedelta,
    not_before: datetime | None = None,
) -> Slot | None:
    """The slot that is due at `now`: started, less than `catch_up` ago, after `not_before`.

    `not_before` (the user's creation, or their last change of the schedule) keeps a new user,
    or one who just turned digests on or moved their time, from getting a digest at once for a
    slot that passed before.
    """
    catch_up = min(catch_up, MAX_CATCH_UP)
    today = local_date(now, prefs.timezone)
    for day in (today, today - timedelta(days=1)):
        if prefs.weekdays_only and day.weekday() >= 5:
            continue
        at = slot_on(day, prefs)
        if at <= now < at + catch_up and (not_before is None or at >= not_before):
            return Slot(day, at)
    return None
