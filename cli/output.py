"""Turning rows into the CLI's stable JSON and its tables."""

from __future__ import annotations

import json
from collections.abc import Collection
from datetime import UTC, datetime
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from models import AnalyticsEvent, FileRecord, KnowledgeItem
from services.knowledge import SearchHit

console = Console()


def iso(moment: datetime) -> str:
    """ISO 8601 with its offset; stored times are UTC (a raw SQLite query returns them naive)."""
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).isoformat()


def file_json(record: FileRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "filename": record.original_filename,
        "source": record.source,
        "status": record.status,
        "reason": record.reason,
        "reason_message": record.reason_message,
        "knowledge_id": record.knowledge_id,
        "correlation_id": record.correlation_id,
        "declared_type": record.declared_type,
        "detected_type": record.detected_type,
        "size": record.size,
        "provenance": record.provenance,
        "created_at": iso(record.created_at),
    }


def item_json(item: KnowledgeItem) -> dict[str, Any]:
    return {
        "id": item.id,
        "title": item.title,
        "summary": item.summary,
        "key_points": item.key_points,
        "keywords": item.keywords,
        "token_count": item.token_count,
        "filename": item.original_filename,
        "source": item.source,
        "provenance": item.provenance,
        "file_id": item.file_id,
        "created_at": iso(item.created_at),
    }


def hit_json(hit: SearchHit) -> dict[str, Any]:
    return {
        "id": hit.id,
        "title": hit.title,
        "summary": hit.summary,
        "snippet": hit.snippet,
        "filename": hit.filename,
        "source": hit.source,
        "rank": round(hit.rank, 4),
        "created_at": iso(hit.created_at),
    }


def event_json(event: AnalyticsEvent) -> dict[str, Any]:
    return {
        "id": event.id,
        "event_type": event.event_type,
        "user_id": event.user_id,
        "tenant_id": event.tenant_id,
        "correlation_id": event.correlation_id,
        "metadata": event.event_metadata,
        "created_at": iso(event.created_at),
    }


def print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def table(
    title: str, columns: list[str], rows: list[list[Any]], *, whole: Collection[str] = ()
) -> None:
    """Print rows as a table. The columns named in `whole` (ids, to be copied into the next
    command) are never wrapped or cut: as wide as their longest line, the others give way."""
    cells = [["" if value is None else str(value) for value in row] for row in rows]
    view = Table(title=title, show_lines=False)
    for index, column in enumerate(columns):
        if column in whole:
            lines = [line for row in cells for line in row[index].splitlines()]
            width = max(map(len, [column, *lines]))
            view.add_column(column, no_wrap=True, min_width=width)
        else:
            view.add_column(column, overflow="fold")
    for row in cells:
        view.add_row(*map(escape, row))
    console.print(view)


def stacked(*values: Any) -> str:
    """Values on lines of their own in one cell (e.g. a column headed "a / b"); None is left out."""
    return "\n".join(str(value) for value in values if value is not None)
