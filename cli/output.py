"""Turning rows into the CLI's stable JSON and its tables."""

from __future__ import annotations

import json
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


def table(title: str, columns: list[str], rows: list[list[Any]]) -> None:
    view = Table(title=title, show_lines=False)
    for column in columns:
        view.add_column(column, overflow="fold")
    for row in rows:
        view.add_row(*["" if value is None else escape(str(value)) for value in row])
    console.print(view)
