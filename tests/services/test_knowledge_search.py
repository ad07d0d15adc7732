"""Ranked full-text search: tenant-scoped, word-based, safe against query syntax."""

from __future__ import annotations

from models import KnowledgeItem, Tenant, User
from services.knowledge import add_item, query_terms, search
from services.runtime import Runtime


async def _item(rt: Runtime, tenant: str, text: str, name: str) -> KnowledgeItem:
    async with rt.sessions() as session:
        if await session.get(Tenant, tenant) is None:
            session.add(Tenant(id=tenant, name=tenant))
            session.add(User(id=f"u-{tenant}", tenant_id=tenant, email=f"u@{tenant}.example"))
            await session.flush()
        item = KnowledgeItem(
            tenant_id=tenant, user_id=f"u-{tenant}", file_id=name, sha256=name.ljust(64, "0"),
            title=name, summary=text[:80], full_text=text, source="cli", original_filename=name,
            keywords=[], key_points=[],
        )  # fmt: skip
        await add_item(session, item)
        await session.commit()
        return item


async def test_single_letters_and_operators_do_not_match_everything(rt: Runtime) -> None:
    """`C++` or `a-b` are not prefix wildcards over the whole index."""
    await _item(rt, "t1", "Please confirm the contacts for Components and cables.", "a.txt")
    async with rt.sessions() as session:
        assert await search(session, tenant_id="t1", query="C++") == []
        assert await search(session, tenant_id="t1", query="a-b") == []
        assert await search(session, tenant_id="t1", query='" OR * NEAR(') == []
    assert query_terms("C++ a-b x2 7") == ["x2", "7"]


async def test_last_word_matches_as_prefix_and_snippet_marks_the_match(rt: Runtime) -> None:
    """The word being typed matches as a prefix; the snippet brackets the matched word."""
    await _item(rt, "t1", "The logistics team proposes a second supplier in Poland.", "b.txt")
    async with rt.sessions() as session:
        [hit] = await search(session, tenant_id="t1", query="second suppl")
        assert hit.filename == "b.txt"
        assert "[supplier]" in hit.snippet
        assert await search(session, tenant_id="t1", query="secon supplier") == []


async def test_search_never_returns_another_tenants_items(rt: Runtime) -> None:
    """An item of tenant t2 with the same word never shows up for t1."""
    await _item(rt, "t1", "Quillfeather audit for team one.", "one.txt")
    await _item(rt, "t2", "Quillfeather audit for team two.", "two.txt")
    async with rt.sessions() as session:
        assert [
            h.filename for h in await search(session, tenant_id="t1", query="quillfeather")
        ] == ["one.txt"]
        assert [
            h.filename for h in await search(session, tenant_id="t2", query="quillfeather")
        ] == ["two.txt"]


async def test_stop_words_alone_match_nothing_on_either_database(rt: Runtime) -> None:
    """ "the" is in every English text: alone it matches nothing (as PostgreSQL's english
    configuration has it); beside a real word it is ignored."""
    await _item(rt, "t1", "The harbour survey found the quay in good repair.", "c.txt")
    await _item(rt, "t1", "The board met on Tuesday.", "d.txt")
    async with rt.sessions() as session:
        assert await search(session, tenant_id="t1", query="the") == []
        assert await search(session, tenant_id="t1", query="what is the") == []
        [hit] = await search(session, tenant_id="t1", query="the harbour")
        assert hit.filename == "c.txt"
    assert query_terms("What is the harbour plan?") == ["harbour", "plan"]
