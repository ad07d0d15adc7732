"""What the App Home tab shows: the user's recent knowledge items and their usage this week."""

from __future__ import annotations

from typing import Any

from jinja2 import Environment
from sqlmodel import col, select

from bot.blocks import ItemView, home_view
from bot.usage import StatsArgs, stats_message
from models import KnowledgeItem, Tenant, User
from services.links import item_links
from services.runtime import Runtime

RECENT_ITEMS = 10


async def home_view_for(
    rt: Runtime, env: Environment, *, tenant: Tenant, user: User
) -> dict[str, Any]:
    async with rt.sessions() as session:
        items = (
            await session.exec(
                select(KnowledgeItem)
                .where(KnowledgeItem.tenant_id == tenant.id, KnowledgeItem.user_id == user.id)
                .order_by(col(KnowledgeItem.created_at).desc())
                .limit(RECENT_ITEMS)
            )
        ).all()
    usage = await stats_message(rt, env, tenant=tenant, user=user, args=StatsArgs(days=7))
    return home_view(env, [ItemView.of(i) for i in items], usage,
                     links=item_links(rt.settings), timezone=user.timezone)  # fmt: skip
