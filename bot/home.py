"""What the App Home tab shows: the items of the user's recent files and their usage this week."""

from __future__ import annotations

from typing import Any

from jinja2 import Environment
from sqlalchemy import func
from sqlmodel import col, select

from bot.blocks import ItemView, home_view
from bot.usage import StatsArgs, stats_message
from models import FileRecord, KnowledgeItem, Tenant, User
from services.links import item_links
from services.runtime import Runtime

RECENT_ITEMS = 10


async def home_view_for(
    rt: Runtime, env: Environment, *, tenant: Tenant, user: User
) -> dict[str, Any]:
    # The items of the files the user sent, newest share first: a file that was already in the
    # team's knowledge (shared before by someone else) shows the item it matched.
    shared = (
        select(FileRecord.knowledge_id, func.max(FileRecord.created_at).label("shared_at"))
        .where(
            FileRecord.tenant_id == tenant.id,
            FileRecord.user_id == user.id,
            col(FileRecord.knowledge_id).is_not(None),
        )
        .group_by(col(FileRecord.knowledge_id))
        .subquery()
    )
    async with rt.sessions() as session:
        items = (
            await session.exec(
                select(KnowledgeItem)
                .join(shared, col(KnowledgeItem.id) == shared.c.knowledge_id)
                .where(KnowledgeItem.tenant_id == tenant.id)
                .order_by(shared.c.shared_at.desc())
                .limit(RECENT_ITEMS)
            )
        ).all()
    usage = await stats_message(rt, env, tenant=tenant, user=user, args=StatsArgs(days=7))
    return home_view(env, [ItemView.of(i) for i in items], usage,
                     links=item_links(rt.settings), timezone=user.timezone)  # fmt: skip
