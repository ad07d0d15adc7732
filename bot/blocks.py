"""Slack messages (Block Kit) rendered from templates/slack/: pure functions of their input.

Every string that comes from a document, a filename or a person is escaped here (&, <, >)
before it reaches a template, so content cannot mention @channel or forge a link. Slack's limits
hold: ≤ 50 blocks per message (100 in a Home tab), ≤ 3000 characters per section, ≤ 150 in a
header, ≤ 10 fields per section.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from jinja2 import Environment

from models import KnowledgeItem
from services.knowledge import SearchHit
from services.rendering import render

MAX_BLOCKS = 50
MAX_HOME_BLOCKS = 100
MAX_SECTION_CHARS = 3000
MAX_HEADER_CHARS = 150
MAX_FIELD_CHARS = 2000
SOURCE_LABELS = {"email": "by email", "imap": "by email", "slack": "from Slack",
                 "cli": "from the command line", "api": "through the API"}  # fmt: skip

Block = dict[str, Any]


@dataclass(frozen=True)
class Message:
    """What chat.postMessage / respond() need: fallback text and blocks."""

    text: str
    blocks: list[Block]

    def as_kwargs(self) -> dict[str, Any]:
        return {"text": self.text, "blocks": self.blocks}


@dataclass(frozen=True)
class ItemView:
    """A knowledge item as a message shows it."""

    id: str
    title: str
    summary: str
    filename: str
    source: str
    created_at: datetime
    key_points: Sequence[str] = field(default_factory=tuple)
    keywords: Sequence[str] = field(default_factory=tuple)

    @classmethod
    def of(cls, item: KnowledgeItem) -> ItemView:
        return cls(
            id=item.id,
            title=item.title,
            summary=item.summary,
            filename=item.original_filename,
            source=item.source,
            created_at=item.created_at,
            key_points=tuple(item.key_points),
            keywords=tuple(item.keywords),
        )


def escape(text: str | None) -> str:
    """Slack's three control characters; everything else is shown as typed."""
    return (text or "").replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def clip(text: str, limit: int) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def when(moment: datetime, timezone: str = "UTC") -> str:
    """ "Tue 5 Mar 2024, 09:00 CET" in the reader's zone; stored times are UTC."""
    if moment.tzinfo is None:  # a raw SQLite row
        moment = moment.replace(tzinfo=UTC)
    try:
        local = moment.astimezone(ZoneInfo(timezone))
    except (ZoneInfoNotFoundError, ValueError):
        local = moment
    return f"{local:%a} {local.day} {local:%b %Y}, {local:%H:%M} {local.tzname() or 'UTC'}"


def header(text: str) -> Block:
    return {
        "type": "header",
        "text": {"type": "plain_text", "text": clip(text, MAX_HEADER_CHARS) or "…"},
    }


def section(text: str) -> Block:
    return {
        "type": "section",
        "text": {"type": "mrkdwn", "text": clip(text, MAX_SECTION_CHARS) or " "},
    }


def context(text: str) -> Block:
    return {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": clip(text, MAX_FIELD_CHARS)}],
    }


def fields(texts: Sequence[str]) -> Block:
    return {
        "type": "section",
        "fields": [{"type": "mrkdwn", "text": clip(t, MAX_FIELD_CHARS)} for t in texts[:10]],
    }


DIVIDER: Block = {"type": "divider"}
Links = Callable[[str], str | None]  # item id → URL of the item (or None)


def _no_links(_item_id: str) -> str | None:
    return None


def file_card(
    env: Environment,
    item: ItemView,
    *,
    reference: str,
    duplicate: bool = False,
    link: str | None = None,
    file_link: str | None = None,
    timezone: str = "UTC",
) -> Message:
    """The thread reply for a file that is (or already was) knowledge."""
    body = render(env, "slack/file_card.mrkdwn.j2", duplicate=duplicate,
                  first_added=when(item.created_at, timezone),
                  first_filename=escape(item.filename), summary=escape(item.summary))  # fmt: skip
    blocks = [header(item.title), section(body)]
    if item.key_points:
        points = [escape(p) for p in item.key_points]
        blocks.append(section(render(env, "slack/file_points.mrkdwn.j2", key_points=points)))
    meta = render(env, "slack/file_meta.mrkdwn.j2", keywords=[escape(k) for k in item.keywords],
                  link=link, item_id=item.id, file_link=file_link,
                  filename=escape(item.filename), reference=reference)  # fmt: skip
    blocks.append(context(meta))
    lead = "Already in your knowledge base" if duplicate else "Added to your knowledge base"
    return Message(clip(f"{lead}: {escape(item.title)}", 300), blocks)


def file_failure(
    env: Environment,
    *,
    filename: str,
    message: str,
    reason: str | None,
    reference: str,
    skipped: bool = False,
) -> Message:
    """The thread reply for a file that did not become knowledge, in plain words."""
    text = render(env, "slack/file_failed.mrkdwn.j2", filename=escape(filename),
                  message=escape(message), skipped=skipped)  # fmt: skip
    blocks = [section(text), context(f"Reason: `{reason or 'unknown'}` · Reference: {reference}")]
    return Message(clip(f"{escape(filename)}: {escape(message)}", 300), blocks)


def search_results(
    env: Environment,
    query: str,
    hits: Sequence[SearchHit],
    *,
    links: Links = _no_links,
    timezone: str = "UTC",
) -> Message:
    if not hits:
        text = f"Nothing in your team's knowledge matches _{escape(query)}_."
        return Message(text, [section(text)])
    blocks = [
        section(f"*{len(hits)} best match{'es' if len(hits) != 1 else ''}* for _{escape(query)}_")
    ]
    for hit in hits[: (MAX_BLOCKS - 1) // 2]:
        blocks.append(DIVIDER)
        blocks.append(section(render(
            env, "slack/search_hit.mrkdwn.j2", title=escape(hit.title), link=links(hit.id),
            snippet=_highlight(hit.snippet), filename=escape(hit.filename),
            source_label=SOURCE_LABELS.get(hit.source, hit.source),
            when=when(hit.created_at, timezone),
        )))  # fmt: skip
    noun = "match" if len(hits) == 1 else "matches"
    return Message(clip(f"{len(hits)} {noun} for {escape(query)}", 300), blocks)


def _highlight(snippet: str) -> str:
    """The search snippet marks matches with [ and ]; show them in bold."""
    return escape(snippet).replace("[", "*").replace("]", "*")


@dataclass(frozen=True)
class StatLine:
    label: str
    value: str
    change: str | None = None


def stats(env: Environment, *, title: str, lines: Sequence[StatLine], note: str) -> Message:
    texts = [render(env, "slack/stats_field.mrkdwn.j2", label=line.label, value=line.value,
                    change=line.change) for line in lines]  # fmt: skip
    blocks = [header(title), fields(texts), context(note)]
    summary = ", ".join(f"{line.label.lower()}: {line.value}" for line in lines)
    return Message(clip(f"{title} — {summary}", 300), blocks)


@dataclass(frozen=True)
class Citation:
    number: int
    item: ItemView


def answer(
    env: Environment,
    question: str,
    text: str,
    citations: Sequence[Citation],
    *,
    backend: str,
    links: Links = _no_links,
    timezone: str = "UTC",
) -> Message:
    body = render(env, "slack/ask_answer.mrkdwn.j2", answer=escape(text))
    blocks = [section(f"*Q:* {escape(question)}"), section(body)]
    if citations:
        sources = [render(env, "slack/ask_source.mrkdwn.j2", number=c.number,
                          title=escape(c.item.title), link=links(c.item.id),
                          filename=escape(c.item.filename),
                          when=when(c.item.created_at, timezone)).strip()
                   for c in citations]  # fmt: skip
        blocks.append(context("\n".join(sources)))
    how = "composed by the language model from" if backend == "llm" else "quoted from"
    blocks.append(context(f"Answer {how} your team's knowledge items; check the sources."))
    return Message(clip(f"{escape(question)} — {escape(text)}", 300), blocks)


def help_text(env: Environment, problem: str | None = None) -> Message:
    body = render(env, "slack/help.mrkdwn.j2", problem=escape(problem) if problem else None)
    return Message("ContentMind commands: /stats, /search, /ask, /digest", [section(body)])


def plain(text: str) -> Message:
    """A one-section message in plain words (errors, confirmations)."""
    return Message(clip(text, 300), [section(escape(text))])


def home_view(
    env: Environment,
    items: Sequence[ItemView],
    stat_message: Message,
    *,
    links: Links = _no_links,
    timezone: str = "UTC",
) -> dict[str, Any]:
    """The App Home tab: recent items of the user, then their usage."""
    blocks: list[Block] = [header("Your recent knowledge")]
    if not items:
        blocks.append(
            section("Nothing yet. Share a file in a channel I am in, or send it to me here.")
        )
    for item in items[:20]:
        blocks.append(section(render(
            env, "slack/home_item.mrkdwn.j2", title=escape(item.title), link=links(item.id),
            summary=escape(clip(item.summary, 400)), filename=escape(item.filename),
            source_label=SOURCE_LABELS.get(item.source, item.source),
            when=when(item.created_at, timezone),
        )))  # fmt: skip
    blocks.append(DIVIDER)
    blocks.extend(stat_message.blocks)
    return {"type": "home", "blocks": blocks[:MAX_HOME_BLOCKS]}
