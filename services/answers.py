"""Which knowledge items answer a question: tenant-scoped retrieval for /ask (and the API).

Full-text search matches every word of its query; a question rarely has all its words in one
document, so items are ranked by how many of the question's content words they match (each
word searched on its own), then by search rank.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from agents.answer import Source, question_terms
from models import KnowledgeItem
from services.knowledge import search

MAX_TERMS = 8
PER_TERM = 10


async def best_items(
    session: AsyncSession, *, tenant_id: str, question: str, limit: int = 3
) -> list[KnowledgeItem]:
    """The `limit` items of one tenant that match most of the question's words."""
    terms = question_terms(question)[:MAX_TERMS]
    if not terms:
        return []
    score: dict[str, tuple[int, float]] = {}
    for term in terms:
        for hit in await search(session, tenant_id=tenant_id, query=term, limit=PER_TERM):
            matched, rank = score.get(hit.id, (0, 0.0))
            score[hit.id] = (matched + 1, rank + hit.rank)
    ranked = sorted(score, key=lambda item_id: score[item_id], reverse=True)[:limit]
    if not ranked:
        return []
    rows = await session.exec(
        select(KnowledgeItem).where(
            KnowledgeItem.tenant_id == tenant_id, col(KnowledgeItem.id).in_(ranked)
        )
    )
    by_id = {item.id: item for item in rows.all()}
    return [by_id[item_id] for item_id in ranked if item_id in by_id]


def as_sources(items: Sequence[KnowledgeItem]) -> list[Source]:
    """Numbered sources ([1], [2], …) with the text an answer may quote."""
    return [
        Source(
            number=number,
            title=item.title,
            text="\n\n".join(
                part for part in (item.summary, "\n".join(item.key_points), item.full_text) if part
            ),
        )
        for number, item in enumerate(items, start=1)
    ]
