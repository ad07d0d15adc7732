"""The `contentmind` command."""

from __future__ import annotations

import asyncio
import errno
import logging
import os
from pathlib import Path
from typing import Annotated

import typer

os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")  # before any library could import onnxruntime

from pydantic import ValidationError  # noqa: E402
from pydantic_settings import SettingsError  # noqa: E402

from cli import queries  # noqa: E402
from cli.paths import readable_files  # noqa: E402
from cli.redis import redis_url_for  # noqa: E402
from services.logging import configure_logging  # noqa: E402
from services.settings import Settings, describe_settings_error  # noqa: E402

app = typer.Typer(
    help="ContentMind: files shared in Slack or forwarded by email become searchable knowledge.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)

UserOpt = Annotated[str | None, typer.Option("--user", help="Email address of the user.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print stable JSON (see README).")]
VerboseOpt = Annotated[
    bool, typer.Option("--verbose", "-v", help="Show the log (INFO), not only warnings and errors.")
]


def _settings(*, one_shot: bool = False, verbose: bool = False) -> Settings:
    try:
        settings = Settings()
    except (ValidationError, SettingsError) as error:  # plain words, and no secret echoed
        typer.echo(describe_settings_error(error), err=True)
        raise typer.Exit(2) from None
    configure_logging(log_level(settings, one_shot=one_shot, verbose=verbose), settings.log_format)
    return settings


def log_level(settings: Settings, *, one_shot: bool, verbose: bool) -> str:
    """Services log at CONTENTMIND_LOG_LEVEL (INFO). A one-shot command's output is its answer:
    its console shows warnings and errors only, unless CONTENTMIND_LOG_LEVEL is set; --verbose
    shows at least INFO."""
    level = settings.log_level.upper()
    if one_shot and "log_level" not in settings.model_fields_set:
        level = "WARNING"
    if verbose and logging.getLevelNamesMapping().get(level, logging.INFO) > logging.INFO:
        level = "INFO"
    return level


@app.command()
def up() -> None:
    """Run everything locally: Redis (if REDIS_URL is unset), worker, SMTP, API, Slack bot."""
    from cli.serve import serve

    settings = _settings()
    with redis_url_for(settings) as redis_url:
        asyncio.run(
            serve(
                settings,
                redis_url,
                smtp=True,
                worker=True,
                api=True,
                slack=True,
                imap=bool(settings.imap_accounts),
            )  # fmt: skip
        )


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
def imap() -> None:
    """Run IMAP ingest alone: read the mailboxes in CONTENTMIND_IMAP_ACCOUNTS (see README)."""
    from cli.serve import serve

    settings = _settings()
    if not settings.imap_accounts:
        typer.echo("No IMAP accounts: set CONTENTMIND_IMAP_ACCOUNTS (see README).", err=True)
        raise typer.Exit(2)
    with redis_url_for(settings) as redis_url:
        asyncio.run(serve(settings, redis_url, smtp=False, worker=False, imap=True))


@app.command()
def api() -> None:
    """Run the HTTP API alone (unsubscribe links) on CONTENTMIND_API_HOST:CONTENTMIND_API_PORT."""
    from cli.serve import serve

    settings = _settings()
    with redis_url_for(settings) as redis_url:
        asyncio.run(serve(settings, redis_url, smtp=False, worker=False, api=True))


@app.command()
def slack() -> None:
    """Run the Slack bot alone: Socket Mode with an app token, else HTTP on the API's port."""
    from bot.server import missing_settings
    from cli.serve import serve

    settings = _settings()
    missing = missing_settings(settings)
    if missing:
        typer.echo("The Slack bot needs " + " and ".join(missing) + " (see README).", err=True)
        raise typer.Exit(2)
    with redis_url_for(settings) as redis_url:
        asyncio.run(serve(settings, redis_url, smtp=False, worker=False, slack=True))


@app.command()
def migrate(verbose: VerboseOpt = False) -> None:
    """Create or upgrade the database schema."""
    from services.db import migrate as run_migrations

    settings = _settings(one_shot=True, verbose=verbose)
    run_migrations(settings.effective_database_url)
    typer.echo("Database is up to date.")


@app.command()
def ingest(
    files: Annotated[
        list[Path], typer.Argument(help="Files to add.", metavar="FILE", show_default=False)
    ],
    user: Annotated[str, typer.Option("--user", help="Email address of the owner.")],
    process: Annotated[
        bool, typer.Option(help="Process now in this process (--no-process: only enqueue).")
    ] = True,
    as_json: JsonOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Add local files as USER's, then process them (with a progress bar)."""
    from cli.ingest import run_ingest

    files = readable_files(files, param_hint="'files'")
    settings = _settings(one_shot=True, verbose=verbose)
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
    verbose: VerboseOpt = False,
) -> None:
    """List files and what became of them."""
    settings = _settings(one_shot=True, verbose=verbose)
    asyncio.run(
        queries.show_files(settings, user=user, status=status, limit=limit, as_json=as_json)
    )


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="Words to find.", metavar="QUERY")],
    user: UserOpt = None,
    tenant: Annotated[str | None, typer.Option(help="Tenant id (admin).")] = None,
    limit: int = 10,
    as_json: JsonOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Ranked full-text search in one tenant's knowledge (the user's tenant)."""
    settings = _settings(one_shot=True, verbose=verbose)
    asyncio.run(
        queries.show_search(settings, query, user=user, tenant=tenant, limit=limit, as_json=as_json)
    )


@app.command()
def stats(
    days: Annotated[int, typer.Option(min=1, help="Days to look back.")] = 7,
    user: UserOpt = None,
    tenant: Annotated[str | None, typer.Option(help="Tenant id.")] = None,
    as_json: JsonOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Usage: files processed and failed, digests, tokens, storage."""
    settings = _settings(one_shot=True, verbose=verbose)
    asyncio.run(queries.show_stats(settings, days=days, user=user, tenant=tenant, as_json=as_json))


@app.command()
def item(
    item_id: Annotated[
        str,
        typer.Argument(
            help="A knowledge_id from `files` or `search`, or the id of the file it came from.",
            metavar="ID",
        ),
    ],
    as_json: JsonOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """One knowledge item: title, summary, key points, keywords (given a file's id: the item
    made from that file)."""
    settings = _settings(one_shot=True, verbose=verbose)
    asyncio.run(queries.show_item(settings, item_id, as_json=as_json))


@app.command()
def events(
    correlation_id: Annotated[str | None, typer.Option("--correlation-id")] = None,
    limit: int = 100,
    as_json: JsonOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Analytics events, oldest first (all of one correlation id, or the latest ones)."""
    settings = _settings(one_shot=True, verbose=verbose)
    asyncio.run(
        queries.show_events(settings, correlation_id=correlation_id, limit=limit, as_json=as_json)
    )


@app.command()
def digest(
    user: Annotated[str, typer.Option("--user", help="Email address of the user.")],
    send: Annotated[bool, typer.Option("--send", help="Send it now (default: print it).")] = False,
    channel: Annotated[
        str | None, typer.Option("--channel", help="email or slack (default: the user's choice).")
    ] = None,
    as_json: JsonOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """USER's digest of what is new, printed as it would go out now, or sent with --send."""
    from cli.digest import run_digest

    if channel not in (None, "email", "slack"):
        typer.echo("--channel is email or slack.", err=True)
        raise typer.Exit(2)
    settings = _settings(one_shot=True, verbose=verbose)
    if not send:  # printing needs only the database
        raise typer.Exit(asyncio.run(run_digest(settings, None, user, send=False,
                                                channel=channel, as_json=as_json)))  # fmt: skip
    with redis_url_for(settings) as redis_url:
        code = asyncio.run(
            run_digest(settings, redis_url, user, send=True, channel=channel, as_json=as_json)
        )
    raise typer.Exit(code)


@app.command()
def prefs(
    user: Annotated[str, typer.Option("--user", help="Email address of the user.")],
    on: Annotated[
        bool | None, typer.Option("--on/--off", help="Turn daily digests on or off.")
    ] = None,
    at: Annotated[
        str | None, typer.Option("--time", help="Local time of the digest, e.g. 07:30.")
    ] = None,
    timezone: Annotated[
        str | None, typer.Option("--timezone", help="IANA time zone, e.g. Europe/Berlin.")
    ] = None,
    weekdays: Annotated[
        bool | None,
        typer.Option("--weekdays-only/--every-day", help="Skip Saturdays and Sundays, or not."),
    ] = None,
    channel: Annotated[
        str | None, typer.Option("--channel", help="Where digests go: email or slack.")
    ] = None,
    verbose: VerboseOpt = False,
) -> None:
    """USER's digest settings: shown, or changed by the options given (the same settings as
    Slack's /digest and the unsubscribe link)."""
    from cli.digest import run_prefs
    from services.errors import ContentMindError

    settings = _settings(one_shot=True, verbose=verbose)
    try:
        sentence = asyncio.run(
            run_prefs(settings, user, enabled=on, at=at, timezone=timezone,
                      weekdays_only=weekdays, channel=channel)
        )  # fmt: skip
    except ContentMindError as error:
        typer.echo(error.user_message, err=True)
        raise typer.Exit(2) from None
    typer.echo(sentence)


@app.command()
def outbox(
    limit: Annotated[int, typer.Option(min=0, help="Newest N (0: all).")] = 20,
    as_json: JsonOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Mail written to the local outbox (when no relay is configured): date, to, subject."""
    from cli.digest import show_outbox

    show_outbox(_settings(one_shot=True, verbose=verbose), limit=limit, as_json=as_json)


@app.command()
def demo(
    timeout: Annotated[float, typer.Option(help="Seconds to wait for processing.")] = 180.0,
) -> None:
    """Run everything on free ports in a temporary data dir, email the examples, show the result."""
    from cli.demo import run_demo

    configure_logging("WARNING", "console")  # the demo's own output is the story
    raise typer.Exit(run_demo(timeout))


def main() -> None:
    """The console entry point: `app` with plain-words answers to common start-up problems."""
    try:
        app()
    except OSError as error:
        if error.errno != errno.EADDRINUSE:
            raise
        typer.echo(
            f"A port ContentMind needs is already in use ({error.strerror}). Another ContentMind "
            "may be running; stop it, or choose other ports (CONTENTMIND_SMTP_PORT, "
            "CONTENTMIND_API_PORT).",
            err=True,
        )
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
