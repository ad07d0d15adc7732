"""The `contentmind` command."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Annotated

import typer

os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")  # before any library could import onnxruntime

from cli import queries  # noqa: E402
from cli.redis import redis_url_for  # noqa: E402
from services.logging import configure_logging  # noqa: E402
from services.settings import Settings  # noqa: E402

app = typer.Typer(
    help="ContentMind: files shared in Slack or forwarded by email become searchable knowledge.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)

UserOpt = Annotated[str | None, typer.Option("--user", help="Email address of the user.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print stable JSON (see README).")]


def _settings() -> Settings:
    settings = Settings()
    configure_logging(settings.log_level, settings.log_format)
    return settings


@app.command()
def up() -> None:
    """Run everything for local use: Redis (when REDIS_URL is unset), the worker and SMTP ingest."""
    from cli.serve import serve

    settings = _settings()
    with redis_url_for(settings) as redis_url:
        asyncio.run(serve(settings, redis_url, smtp=True, worker=True))


@app.command()
def worker() -> None:
    """Run one worker process (production: run several)."""
    from cli.serve import serve

    settings = _settings()
    with redis_url_for(settings) as redis_url:
        asyncio.run(serve(settings, redis_url, smtp=False, worker=True))


@app.command()
def smtp() -> None:
    """Run the SMTP ingest server alone."""
    from cli.serve import serve

    settings = _settings()
    with redis_url_for(settings) as redis_url:
        asyncio.run(serve(settings, redis_url, smtp=True, worker=False))


@app.command()
def migrate() -> None:
    """Create or upgrade the database schema."""
    from services.db import migrate as run_migrations

    settings = _settings()
    run_migrations(settings.effective_database_url)
    typer.echo("Database is up to date.")


@app.command()
def ingest(
    files: Annotated[list[Path], typer.Argument(exists=True, dir_okay=False, readable=True)],
    user: Annotated[str, typer.Option("--user", help="Email address of the owner.")],
    process: Annotated[
        bool, typer.Option(help="Process now in this process (--no-process: only enqueue).")
    ] = True,
    as_json: JsonOpt = False,
) -> None:
    """Add local files as USER's, then process them (with a progress bar)."""
    from cli.ingest import run_ingest

    settings = _settings()
    with redis_url_for(settings) as redis_url:
        ok = asyncio.run(
            run_ingest(settings, redis_url, files, user, process=process, as_json=as_json)
        )
    raise typer.Exit(0 if ok else 1)


@app.command("files")
def list_files(
    user: UserOpt = None,
    status: Annotated[str | None, typer.Option(help="Only files with this status.")] = None,
    limit: int = 50,
    as_json: JsonOpt = False,
) -> None:
    """List files and what became of them."""
    asyncio.run(
        queries.show_files(_settings(), user=user, status=status, limit=limit, as_json=as_json)
    )


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="Words to find.")],
    user: UserOpt = None,
    tenant: Annotated[str | None, typer.Option(help="Tenant id (admin).")] = None,
    limit: int = 10,
    as_json: JsonOpt = False,
) -> None:
    """Ranked full-text search in one tenant's knowledge (the user's tenant)."""
    asyncio.run(
        queries.show_search(
            _settings(), query, user=user, tenant=tenant, limit=limit, as_json=as_json
        )
    )


@app.command()
def stats(
    days: Annotated[int, typer.Option(min=1, help="Days to look back.")] = 7,
    user: UserOpt = None,
    tenant: Annotated[str | None, typer.Option(help="Tenant id.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Usage: files processed and failed, digests, tokens, storage."""
    asyncio.run(
        queries.show_stats(_settings(), days=days, user=user, tenant=tenant, as_json=as_json)
    )


@app.command()
def events(
    correlation_id: Annotated[str | None, typer.Option("--correlation-id")] = None,
    limit: int = 100,
    as_json: JsonOpt = False,
) -> None:
    """Analytics events, oldest first (all of one correlation id, or the latest ones)."""
    asyncio.run(
        queries.show_events(
            _settings(), correlation_id=correlation_id, limit=limit, as_json=as_json
        )
    )


@app.command()
def demo(
    timeout: Annotated[float, typer.Option(help="Seconds to wait for processing.")] = 180.0,
) -> None:
    """Start everything on free ports in a temporary data dir, email the examples, show the result."""
    from cli.demo import run_demo

    configure_logging("WARNING", "console")  # the demo's own output is the story
    raise typer.Exit(run_demo(timeout))


if __name__ == "__main__":
    app()
