"""Knowledge store: saving items with their search index, and ranked full-text search per tenant."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlmodel.ext.asyncio.session import AsyncSession

from models import KnowledgeItem

_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class SearchHit:
    id: str
    title: str
    summary: str
    snippet: str
    filename: str
    source: str
    user_id: str
    created_at: datetime
    rank: float


async def add_item(session: AsyncSession, item: KnowledgeItem) -> None:
    """Add the item and its search entry in the caller's transaction (not committed here)."""
    session.add(item)
    await session.flush()
    if _dialect(session) == "sqlite":
        await session.exec(
            text(
                "INSERT INTO knowledge_fts (item_id, tenant_id, title, summary, keywords, body) "
                "VALUES (:id, :tenant, :title, :summary, :keywords, :body)"
            ).bindparams(
                id=item.id,
                tenant=item.tenant_id,
                title=item.title,
                summary=item.summary,
                keywords=" ".join(item.keywords),
                body=item.full_text,
            )
        )  # type: ignore[call-overload]


def _dialect(session: AsyncSession) -> str:
    bind = session.bind
    assert bind is not None, "sessions are created bound to the engine"
    return bind.dialect.name


def query_terms(query: str) -> list[str]:
    """The words of a user's query; operators and punctuation are never passed through.

    Single letters are dropped (they would match half the index); digits stay. English stop
    words are dropped as PostgreSQL's `english` configuration drops them, so both databases
    answer alike: "the" alone matches nothing, "the harbour" matches "harbour".
    """
    words = _WORD.findall(query.lower())
    return [w for w in words if (len(w) > 1 or w.isdigit()) and w not in STOP_WORDS][:20]


# PostgreSQL's english stop words (the snowball list), the ones people type in a search box.
STOP_WORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for from
    further had has have having he her here hers herself him himself his how i if in into is it
    its itself just me more most my myself no nor not now of off on once only or other our ours
    ourselves out over own same she should so some such than that the their theirs them
    themselves then there these they this those through to too under until up very was we were
    what when where which while who whom why will with would you your yours yourself
    yourselves""".split()
)


def _prefix_last(terms: list[str]) -> list[tuple[str, bool]]:
    """Each term with whether it matches as a prefix: only the last one, as typed so far."""
    return [(term, i == len(terms) - 1 and len(term) >= 3) for i, term in enumerate(terms)]


async def search(
    session: AsyncSession,
    *,
    tenant_id: str,
    query: str,
    limit: int = 10,
    user_id: str | None = None,
) -> list[SearchHit]:
    """Ranked matches for every word of `query` in one tenant's items (optionally one user's)."""
    terms = query_terms(query)
    if not terms:
        return []
    if _dialect(session) == "sqlite":
        return await _search_sqlite(session, tenant_id, terms, limit, user_id)
    return await _search_postgres(session, tenant_id, terms, limit, user_id)


_SQLITE_SEARCH = """
SELECT k.id, k.title, k.summary, k.original_filename, k.source, k.user_id, k.created_at,
       snippet(knowledge_fts, 5, '[', ']', ' … ', 16) AS snippet,
       bm25(knowledge_fts, 0.0, 0.0, 8.0, 4.0, 4.0, 1.0) AS rank
FROM knowledge_fts JOIN knowledge_item AS k ON k.id = knowledge_fts.item_id
WHERE knowledge_fts MATCH :match AND knowledge_fts.tenant_id = :tenant AND k.tenant_id = :tenant
  {user_filter}
ORDER BY rank LIMIT :limit
"""

_POSTGRES_SEARCH = """
SELECT k.id, k.title, k.summary, k.original_filename, k.source, k.user_id, k.created_at,
       ts_headline('english', left(k.full_text, 200000), q,
                   'StartSel=[, StopSel=], MaxWords=24, MinWords=8, MaxFragments=1') AS snippet,
       ts_rank_cd(k.search_vector, q) AS rank
FROM knowledge_item AS k, to_tsquery('english', :tsquery) AS q
WHERE k.tenant_id = :tenant AND k.search_vector @@ q {user_filter}
ORDER BY rank DESC LIMIT :limit
"""


async def _search_sqlite(
    session: AsyncSession, tenant_id: str, terms: list[str], limit: int, user_id: str | None
) -> list[SearchHit]:
    match = " AND ".join(
        f'"{term}"' + ("*" if prefix else "") for term, prefix in _prefix_last(terms)
    )
    sql = _SQLITE_SEARCH.format(user_filter="AND k.user_id = :user" if user_id else "")
    params = {"match": match, "tenant": tenant_id, "limit": limit}
    if user_id:
        params["user"] = user_id
    rows = (await session.exec(text(sql).bindparams(**params))).all()  # type: ignore[call-overload]
    return [_hit(row, rank=-float(row.rank)) for row in rows]


async def _search_postgres(
    session: AsyncSession, tenant_id: str, terms: list[str], limit: int, user_id: str | None
) -> list[SearchHit]:
    tsquery = " & ".join(term + (":*" if prefix else "") for term, prefix in _prefix_last(terms))
    sql = _POSTGRES_SEARCH.format(user_filter="AND k.user_id = :user" if user_id else "")
    params = {"tsquery": tsquery, "tenant": tenant_id, "limit": limit}
    if user_id:
        params["user"] = user_id
    rows = (await session.exec(text(sql).bindparams(**params))).all()  # type: ignore[call-overload]
    return [_hit(row, rank=float(row.rank)) for row in rows]


def _hit(row: object, *, rank: float) -> SearchHit:
    created = row.created_at  # type: ignore[attr-defined]
    if isinstance(created, str):
        created = datetime.fromisoformat(created)
    return SearchHit(
        id=row.id,  # type: ignore[attr-defined]
        title=row.title,  # type: ignore[attr-defined]
        summary=row.summary,  # type: ignore[attr-defined]
        snippet=" ".join((row.snippet or "").split()),  # type: ignore[attr-defined]
        filename=row.original_filename,  # type: ignore[attr-defined]
        source=row.source,  # type: ignore[attr-defined]
        user_id=row.user_id,  # type: ignore[attr-defined]
        created_at=created,
        rank=rank,
    )
