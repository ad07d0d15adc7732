"""The DigestAgent: a user's new items (and failed files) in, a ranked, grouped digest out.

Pure and synchronous: no database, no clock, no I/O. Which items are "new" is decided by the
caller (services.digests); this module decides how they are told: grouped by shared topic
keywords (or by source), ranked within each group, each with a short summary and its key
points, a one-line "what's new" lead, counts, and the failures of the period grouped by why.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property

from agents.text import trim

OTHER_GROUP = "Other new items"
SOURCE_LABELS = {
    "email": "By email",
    "imap": "By email",
    "slack": "From Slack",
    "cli": "From the command line",
    "api": "Through the API",
}
SOURCE_PHRASES = {
    "email": "by email",
    "imap": "by email",
    "slack": "from Slack",
    "cli": "from the command line",
    "api": "through the API",
}


@dataclass(frozen=True)
class DigestItem:
    """One knowledge item as the digest sees it."""

    id: str
    title: str
    summary: str
    key_points: Sequence[str]
    keywords: Sequence[str]
    source: str
    filename: str
    created_at: datetime
    token_count: int = 0

    @cached_property
    def topics(self) -> tuple[str, ...]:
        """Its keywords normalised (lower case, single spaces), each once, in order."""
        return tuple(dict.fromkeys(k for k in (one_line(w).lower() for w in self.keywords) if k))


@dataclass(frozen=True)
class DigestFailure:
    """One file of the period that did not become knowledge, with the reason told to users."""

    id: str
    filename: str
    reason: str | None
    message: str | None
    sha256: str | None = None  # the same file sent again fails again: it is listed once


@dataclass(frozen=True)
class RankedItem:
    item: DigestItem
    summary: str
    key_points: tuple[str, ...]
    score: float


@dataclass(frozen=True)
class DigestGroup:
    name: str
    kind: str  # topic | source | other
    items: tuple[RankedItem, ...]


@dataclass(frozen=True)
class FailureGroup:
    """Files that failed for the same reason: "2 files could not be read — <message>"."""

    reason: str | None
    message: str
    filenames: tuple[str, ...]

    @property
    def count(self) -> int:
        return len(self.filenames)


@dataclass(frozen=True)
class DigestContent:
    lead: str
    groups: tuple[DigestGroup, ...]
    failures: tuple[FailureGroup, ...]
    item_count: int
    failure_count: int
    more_count: int  # items counted but not shown (beyond max_items)
    topics: tuple[str, ...] = ()
    by_source: dict[str, int] = field(default_factory=dict)

    @property
    def is_empty(self) -> bool:
        return self.item_count == 0 and self.failure_count == 0

    @property
    def shown_count(self) -> int:
        return sum(len(group.items) for group in self.groups)


def one_line(text: str) -> str:
    """Whitespace runs as single spaces, ends stripped (str.split: cheaper than a regex)."""
    return " ".join(text.split())


def clip(text: str, limit: int) -> str:
    """One line of at most `limit` characters, cut at a word with an ellipsis when longer."""
    line = one_line(text)
    return line if len(line) <= limit else trim(line, limit)


def plural(count: int, word: str, many: str | None = None) -> str:
    return f"{count} {word if count == 1 else (many or word + 's')}"


def join_words(parts: Sequence[str]) -> str:
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]


@dataclass(frozen=True)
class DigestAgent:
    """Turns items and failures into DigestContent; every limit is a constructor argument."""

    group_by: str = "topic"  # topic | source
    max_items: int = 30
    max_groups: int = 6
    max_points: int = 3
    summary_chars: int = 400
    point_chars: int = 200

    def build(
        self, items: Sequence[DigestItem], failures: Sequence[DigestFailure] = ()
    ) -> DigestContent:
        frequency = _keyword_frequency(items)
        ranked = sorted(
            (self._rank(item, frequency) for item in items),
            key=lambda r: (-r.score, -r.item.created_at.timestamp(), r.item.id),
        )
        shown = ranked[: self.max_items]
        groups, topics = self._group(shown, frequency)
        by_source = dict(Counter(item.source for item in items).most_common())
        failure_groups = group_failures(failures)
        failure_count = sum(group.count for group in failure_groups)
        return DigestContent(
            lead=lead_text(len(items), topics, by_source, shown, failure_count),
            groups=groups,
            failures=failure_groups,
            item_count=len(items),
            failure_count=failure_count,
            more_count=len(items) - len(shown),
            topics=topics,
            by_source=by_source,
        )

    def _rank(self, item: DigestItem, frequency: Counter[str]) -> RankedItem:
        """Shared topics first, then substance (length, key points); recency breaks ties."""
        shared = sum(1 for k in item.topics if frequency[k] >= 2)
        substance = min(1.0, math.log10(item.token_count + 1) / 4)
        points = tuple(clip(p, self.point_chars) for p in item.key_points[: self.max_points])
        points = tuple(p for p in points if p)
        score = shared * 0.5 + substance + (0.25 if points else 0.0)
        return RankedItem(item, clip(item.summary, self.summary_chars), points, round(score, 4))

    def _group(
        self, ranked: Sequence[RankedItem], frequency: Counter[str]
    ) -> tuple[tuple[DigestGroup, ...], tuple[str, ...]]:
        if self.group_by == "topic":
            groups = _by_topic(ranked, frequency, self.max_groups)
            if groups is not None:
                topics = tuple(g.name for g in groups if g.kind == "topic")
                return groups, topics
        return _by_source(ranked), ()


def _keyword_frequency(items: Sequence[DigestItem]) -> Counter[str]:
    frequency: Counter[str] = Counter()
    for item in items:
        frequency.update(item.topics)
    return frequency


def _by_topic(
    ranked: Sequence[RankedItem], frequency: Counter[str], max_groups: int
) -> tuple[DigestGroup, ...] | None:
    """Greedy: the most shared keyword takes every item that has it, then the next one…

    None when no keyword is shared by two items (grouping by topic would say nothing).
    """
    left = list(ranked)
    groups: list[DigestGroup] = []
    for keyword, count in sorted(frequency.items(), key=lambda kv: (-kv[1], kv[0])):
        if count < 2 or len(groups) >= max_groups - 1:
            break
        members = [r for r in left if keyword in r.item.topics]
        if len(members) < 2:
            continue
        groups.append(DigestGroup(_topic_name(keyword), "topic", tuple(members)))
        taken = {r.item.id for r in members}
        left = [r for r in left if r.item.id not in taken]
    if not groups:
        return None
    if left:
        groups.append(DigestGroup(OTHER_GROUP, "other", tuple(left)))
    return tuple(groups)


def _topic_name(keyword: str) -> str:
    return keyword[:1].upper() + keyword[1:]


def _by_source(ranked: Sequence[RankedItem]) -> tuple[DigestGroup, ...]:
    buckets: dict[str, list[RankedItem]] = {}
    for entry in ranked:
        buckets.setdefault(entry.item.source, []).append(entry)
    ordered = sorted(buckets.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    return tuple(
        DigestGroup(SOURCE_LABELS.get(source, f"From {source}"), "source", tuple(members))
        for source, members in ordered
    )


def group_failures(failures: Sequence[DigestFailure]) -> tuple[FailureGroup, ...]:
    """Failures with the same message together, the largest group first; a file (the same
    content) that failed more than once is one file, "name (sent 3 times)"."""
    buckets: dict[tuple[str | None, str], dict[str, list[str]]] = {}
    for failure in failures:
        message = one_line(failure.message or "") or "The file could not be read."
        files = buckets.setdefault((failure.reason, message), {})
        files.setdefault(failure.sha256 or failure.id, []).append(failure.filename)
    ordered = sorted(buckets.items(), key=lambda kv: (-len(kv[1]), kv[0][1]))
    return tuple(
        FailureGroup(reason, message, tuple(_sent(names) for names in files.values()))
        for (reason, message), files in ordered
    )


def _sent(names: Sequence[str]) -> str:
    return names[0] if len(names) == 1 else f"{names[0]} (sent {len(names)} times)"


def lead_text(
    item_count: int,
    topics: Sequence[str],
    by_source: dict[str, int],
    shown: Sequence[RankedItem],
    failure_count: int,
) -> str:
    """One or two sentences: how many, about what, from where, and what failed."""
    failed = f"{plural(failure_count, 'file')} could not be read."
    if item_count == 0:
        return f"Nothing new was added; {failed}" if failure_count else "Nothing new."
    if topics:
        about = f"mostly about {join_words([t.lower() for t in topics[:3]])}"
    else:
        titles = [clip(r.item.title, 60) for r in shown[:2]]
        rest = item_count - len(titles)
        about = join_words([*titles, f"{rest} more"] if rest > 0 else titles)
    sources = join_words(
        [f"{n} {SOURCE_PHRASES.get(source, f'from {source}')}" for source, n in by_source.items()]
    )
    text = f"{plural(item_count, 'new item')}: {about}."
    if len(by_source) > 1:
        text += f" {sources[:1].upper()}{sources[1:]}."
    return f"{text} {failed}" if failure_count else text
