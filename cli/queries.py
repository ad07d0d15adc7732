"""Read-only CLI commands: files, search, stats, events."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import typer
from rich.markup import escape
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from cli.output import (
    console,
    event_json,
    file_json,
    hit_json,
    item_json,
    print_json,
    stacked,
    table,
)
from models import AnalyticsEvent, FileRecord, InboundMessage, KnowledgeItem, User
from services.db import create_engine, migrate_async, session_factory
from services.knowledge import search
from services.settings import Settings
from services.stats import Scope, usage_stats


@asynccontextmanager
async def database(settings: Settings) -> AsyncIterator[AsyncSession]:
    """The database the services write, for reading; a SQLite file that does not exist yet is
    reported, not created (a command run in another folder would otherwise make an empty one)."""
    url = settings.effective_database_url
    if url.startswith("sqlite") and not Path(make_url(url).database or "").exists():
        raise not_found(settings, "Nothing has been received yet: there is no database")
    await migrate_async(url)
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as session:
            yield session
    finally:
        await engine.dispose()


def database_in_use(settings: Settings) -> str:
    """The database a command reads, for messages: the data dir's SQLite file, or DATABASE_URL
    without its password."""
    if not settings.database_url:
        data_dir = settings.data_dir.resolve()
        return f"{make_url(settings.effective_database_url).database} (data dir {data_dir})"
    try:
        url = make_url(settings.database_url)._replace(password=None)  # set() ignores None
    except ArgumentError:
        return "the database of DATABASE_URL"
    return f"{url.render_as_string(hide_password=False)} (DATABASE_URL)"


def not_found(settings: Settings, what: str) -> typer.Exit:
    """Say that `what` is not in the database this command reads, and which one that is: a
    command run with another data dir than the services' reads another (perhaps new) database."""
    typer.echo(f"{what} in {database_in_use(settings)}.", err=True)
    typer.echo(
        "Commands see the data of their CONTENTMIND_DATA_DIR (default: ./.contentmind) and "
        "DATABASE_URL: run them with the values the running `contentmind up` has.",
        err=True,
    )
    return typer.Exit(2)


async def find_user(session: AsyncSession, settings: Settings, email: str) -> User:
    user = (await session.exec(select(User).where(User.email == email.strip().lower()))).first()
    if user is None:
        raise not_found(settings, f"No user with the address {email}")
    return user


async def show_files(
    settings: Settings, *, user: str | None, status: str | None, limit: int, as_json: bool
) -> None:
    async with database(settings) as session:
        statement = select(FileRecord).order_by(col(FileRecord.created_at).desc()).limit(limit)
        if user:
            statement = statement.where(
                FileRecord.user_id == (await find_user(session, settings, user)).id
            )
        if status:
            statement = statement.where(FileRecord.status == status)
        records = (await session.exec(statement)).all()
    if as_json:
        print_json([file_json(r) for r in records])
        return
    table(
        "Files",
        ["filename", "source", "status", "id / knowledge_id"],
        [
            [r.original_filename, r.source, stacked(r.status, r.reason_message or r.reason),
             stacked(r.id, r.knowledge_id)]
            for r in records
        ],
        whole={"id / knowledge_id"},
    )  # fmt: skip


async def show_search(
    settings: Settings,
    query: str,
    *,
    user: str | None,
    tenant: str | None,
    limit: int,
    as_json: bool,
) -> None:
    async with database(settings) as session:
        if user:
            tenant = (await find_user(session, settings, user)).tenant_id
        if not tenant:
            typer.echo("Search is per team: give --user EMAIL (or --tenant ID).", err=True)
            raise typer.Exit(2)
        hits = await search(session, tenant_id=tenant, query=query, limit=limit)
    if as_json:
        print_json([hit_json(h) for h in hits])
        return
    if not hits:
        typer.echo("No matches.")
        return
    table(
        "Results",
        ["title", "file", "snippet", "id"],
        [[h.title, h.filename, h.snippet, h.id] for h in hits],
        whole={"id"},
    )


async def show_stats(
    settings: Settings, *, days: int, user: str | None, tenant: str | None, as_json: bool
) -> None:
    async with database(settings) as session:
        scope = Scope(tenant_id=tenant)
        if user:
            found = await find_user(session, settings, user)
            scope = Scope(tenant_id=found.tenant_id, user_id=found.id)
        stats = await usage_stats(session, scope, days=days)
    if as_json:
        print_json(stats.as_dict())
        return
    table(
        f"Usage, last {days} days",
        ["files processed", "files failed", "digests generated", "digests sent", "tokens",
         "storage MB"],
        [[stats.files_processed, stats.files_failed, stats.digests_generated, stats.digests_sent,
          stats.total_tokens, stats.storage_used_mb]],
    )  # fmt: skip


async def correlation_family(session: AsyncSession, correlation_id: str) -> list[str]:
    """An email's correlation id stands for its own events and those of all its files; a
    file's id (as `files` lists it) stands for the file's correlation id."""
    record = await session.get(FileRecord, correlation_id)
    if record is not None:
        return [record.correlation_id]
    message = (
        await session.exec(
            select(InboundMessage).where(InboundMessage.correlation_id == correlation_id)
        )
    ).first()
    if message is None:
        return [correlation_id]
    files = await session.exec(
        select(FileRecord.correlation_id).where(FileRecord.inbound_message_id == message.id)
    )
    return [correlation_id, *files.all()]


_FILE_STATES = {
    "failed": "it failed",
    "skipped": "it was skipped",
    "pending": "it is waiting for a worker",
    "processing": "a worker is processing it",
}


def _no_item_yet(record: FileRecord) -> typer.Exit:
    """The file exists but became no knowledge item: say what it is instead."""
    why = f": {record.reason_message or record.reason}" if record.reason else "."
    state = _FILE_STATES.get(record.status, f"it is {record.status}")
    typer.echo(
        f"{record.original_filename} ({record.id}) is a file with no knowledge item: {state}{why}",
        err=True,
    )
    return typer.Exit(2)


async def show_events(
    settings: Settings, *, correlation_id: str | None, limit: int, as_json: bool
) -> None:
    async with database(settings) as session:
        # by time, not id: each process writes its events in batches, so ids follow the writes
        when = (col(AnalyticsEvent.created_at), col(AnalyticsEvent.id))
        statement = select(AnalyticsEvent)
        if correlation_id:
            family = await correlation_family(session, correlation_id)
            statement = statement.where(col(AnalyticsEvent.correlation_id).in_(family))
            statement = statement.order_by(*when).limit(limit)
        else:
            statement = statement.order_by(*(c.desc() for c in when)).limit(limit)
        events = list((await session.exec(statement)).all())
    if correlation_id and not events:
        raise not_found(settings, f"No events with the correlation id {correlation_id}")
    events.sort(key=lambda event: (event.created_at, event.id or 0))
    if as_json:
        print_json([event_json(e) for e in events])
        return
    table(
        "Events",
        ["time", "event / correlation id", "details"],
        [[e.created_at.strftime("%H:%M:%S"), stacked(e.event_type, e.correlation_id),
          ", ".join(f"{k}={v}" for k, v in e.event_metadata.items() if v is not None)]
         for e in events],
        whole={"event / correlation id"},
    )  # fmt: skip


async def show_item(settings: Settings, item_id: str, *, as_json: bool) -> None:
    async with database(settings) as session:
        item = await session.get(KnowledgeItem, item_id)
        if item is None:  # the id of a file, as `files` lists it first: show what it became
            record = await session.get(FileRecord, item_id)
            if record is not None and record.knowledge_id is None:
                raise _no_item_yet(record)
            if record is not None:
                item = await session.get(KnowledgeItem, record.knowledge_id)
    if item is None:
        raise not_found(settings, f"No knowledge item {item_id}")
    if as_json:
        print_json(item_json(item))
        return
    console.print(f"[bold]{escape(item.title)}[/]  ({escape(item.original_filename)})")
    console.print(escape(item.summary))
    for point in item.key_points:
        console.print(f"  • {escape(point)}")
    console.print(f"Keywords: {escape(', '.join(item.keywords))}")
    console.print(f"Tokens: {item.token_count}  backend: {item.backend}")
