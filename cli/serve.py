"""Long-running processes: SMTP ingest, the worker, the HTTP API, or all together (`up`)."""

from __future__ import annotations

import asyncio
import signal

import structlog
from rich.console import Console

from api.server import start_api
from bot.client import SlackNotConfigured
from bot.server import RunningSlack, start_slack
from mail.imap import ImapIngest, start_imap_ingest
from mail.smtp import start_smtp_server
from services.runtime import Runtime
from services.settings import Settings
from workers.worker import build_worker, stop_worker

log = structlog.get_logger(__name__)
console = Console(stderr=True)


async def _start_slack(rt: Runtime, *, api_running: bool) -> RunningSlack:
    """The Slack bot when it is configured; otherwise a description saying what is missing."""
    try:
        return await start_slack(rt, api_running=api_running)
    except SlackNotConfigured as missing:
        return RunningSlack(f"not started: {missing}.", _nothing)


async def _nothing() -> None:
    return None


def _print_imap(ingest: ImapIngest | None) -> None:
    """The mailboxes watched (never a password)."""
    for watcher in ingest.watchers if ingest is not None else []:
        account = watcher.account
        console.print(
            f"[bold]IMAP ingest[/] watching {account.folder} of {account.username} on "
            f"{account.host}:{account.effective_port} ({account.security.value})"
        )


async def _wait_for_stop() -> signal.Signals:
    """Wait for SIGINT (Ctrl-C) or SIGTERM; returns the one that came first."""
    loop = asyncio.get_running_loop()
    received: asyncio.Future[signal.Signals] = loop.create_future()

    def handle(sig: signal.Signals) -> None:
        if not received.done():
            received.set_result(sig)

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, handle, sig)
    return await received


async def serve(
    settings: Settings,
    redis_url: str,
    *,
    smtp: bool,
    worker: bool,
    api: bool = False,
    slack: bool = False,
    imap: bool = False,
) -> None:
    """Run the chosen pieces in this event loop until SIGINT/SIGTERM, then stop them cleanly."""
    rt = await Runtime.open(settings, redis_url=redis_url)
    server = await start_smtp_server(rt) if smtp else None
    api_server = await start_api(rt) if api else None
    slack_bot = await _start_slack(rt, api_running=api) if slack else None
    imap_ingest = await start_imap_ingest(rt) if imap and settings.imap_accounts else None
    arq_worker = (
        build_worker(settings, redis_url, handle_signals=False, schedule=True) if worker else None
    )
    worker_task = asyncio.create_task(arq_worker.async_run()) if arq_worker else None
    if server is not None:
        host, port = server.sockets[0].getsockname()[:2]
        addresses = ", ".join(settings.ingest_addresses)
        console.print(f"[bold]SMTP ingest[/] on {host}:{port} — send mail to {addresses}")
    if worker_task is not None:
        console.print(f"[bold]Worker[/] running on {redis_url.rsplit('@', 1)[-1]}")
    if api_server is not None:
        host, port = api_server.address
        console.print(
            f"[bold]API[/] on http://{host}:{port} (links use {settings.public_base_url})"
        )
    if slack_bot is not None:
        console.print(f"[bold]Slack bot[/] {slack_bot.description}")
    _print_imap(imap_ingest)
    console.print(f"Data in {settings.data_dir.resolve()} — press Ctrl-C to stop.")
    reason = "interrupted"
    try:
        reason = (await _wait_for_stop()).name
    finally:
        console.print("Stopping…")
        if imap_ingest is not None:
            await imap_ingest.stop()
        if server is not None:
            server.close()
            await server.wait_closed()
        if api_server is not None:
            await api_server.stop()
        if slack_bot is not None:
            await slack_bot.close()
        if arq_worker is not None and worker_task is not None:
            await stop_worker(arq_worker, worker_task, reason=reason)
        await rt.close()
