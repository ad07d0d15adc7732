"""/stats and the Home tab's numbers: usage of one user or their team against the period before."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from jinja2 import Environment

from bot.blocks import Message, StatLine, stats
from models import Tenant, User
from services.runtime import Runtime
from services.stats import Scope, UsageStats, storage_bytes, usage_stats

_DAYS = re.compile(r"^(\d{1,3})d?$")
MAX_DAYS = 365
COUNTERS = (
    ("files_processed", "Files processed"),
    ("files_failed", "Files failed"),
    ("digests_sent", "Digests sent"),
    ("total_tokens", "Tokens used"),
)


@dataclass(frozen=True)
class StatsArgs:
    days: int = 7
    team: bool = False


class BadArguments(ValueError):
    """The user typed something the command does not understand; the text says what."""


def parse_stats_args(text: str) -> StatsArgs:
    """`[7d|30d] [me|team]` in any order; unknown words raise BadArguments."""
    days, team = 7, False
    for word in text.lower().split():
        match = _DAYS.match(word)
        if match and 1 <= int(match.group(1)) <= MAX_DAYS:
            days = int(match.group(1))
        elif word in ("me", "mine", "my"):
            team = False
        elif word in ("team", "all", "everyone"):
            team = True
        else:
            raise BadArguments(f"/stats does not understand “{word}”. Try `/stats 30d team`.")
    return StatsArgs(days=days, team=team)


def megabytes(size: int) -> str:
    value = size / (1024 * 1024)
    if size == 0:
        return "0 MB"
    if value < 0.01:
        return "under 0.01 MB"
    return f"{value:,.2f} MB" if value < 10 else f"{value:,.1f} MB"


def _change(current: int, previous: int, days: int) -> str:
    if current == previous:
        return f"same as the {days} days before"
    sign = "▲ +" if current > previous else "▼ −"
    return f"{sign}{abs(current - previous):,} vs the {days} days before"


async def stats_message(
    rt: Runtime,
    env: Environment,
    *,
    tenant: Tenant,
    user: User,
    args: StatsArgs,
    now: datetime | None = None,
) -> Message:
    scope = Scope(tenant_id=tenant.id, user_id=None if args.team else user.id)
    async with rt.sessions() as session:
        current = await usage_stats(session, scope, days=args.days, now=now)
        both = await usage_stats(session, scope, days=2 * args.days, now=now)
        stored = await storage_bytes(session, scope)
    return render_stats(env, current, both, args, stored=stored)


def render_stats(
    env: Environment, current: UsageStats, both: UsageStats, args: StatsArgs, *, stored: int
) -> Message:
    lines = []
    for name, label in COUNTERS:
        now_value = int(getattr(current, name))
        before = int(getattr(both, name)) - now_value
        lines.append(StatLine(label, f"{now_value:,}", _change(now_value, before, args.days)))
    lines.append(StatLine("Storage used", megabytes(stored)))
    whose = "Team" if args.team else "Your"
    title = f"{whose} ContentMind usage — last {args.days} days"
    other = "/stats me" if args.team else "/stats team"
    period = "/stats 7d" if args.days == 30 else "/stats 30d"
    note = f"Storage counts every file kept. See also `{other}` or `{period}`."
    return stats(env, title=title, lines=lines, note=note)
