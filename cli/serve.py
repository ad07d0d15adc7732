"""Long-running processes: SMTP ingest, the worker, or both together (`up`)."""

from __future__ import annotations

import asyncio
import signal

import structlog
from rich.console import Console

from mail.smtp import start_smtp_server
from services.runtime import Runtime
from services.settings import Settings
from workers.worker import build_worker, stop_worker

log = structlog.get_logger(__name__)
console = Console(stderr=True)


async def _wait_for_stop() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


async def serve(settings: Settings, redis_url: str, *, smtp: bool, worker: bool) -> None:
    """Run the chosen pieces in this event loop until SIGINT/SIGTERM, then stop them cleanly."""
    rt = await Runtime.open(settings, redis_url=redis_url)
    server = await start_smtp_server(rt) if smtp else None
    arq_worker = build_worker(settings, redis_url, handle_signals=False) if worker else None
    worker_task = asyncio.create_task(arq_worker.async_run()) if arq_worker else None
    if server is not None:
        host, port = server.sockets[0].getsockname()[:2]
        addresses = ", ".join(settings.ingest_addresses)
        console.print(f"[bold]SMTP ingest[/] on {host}:{port} — send mail to {addresses}")
    if worker_task is not None:
        console.print(f"[bold]Worker[/] running on {redis_url.rsplit('@', 1)[-1]}")
    console.print(f"Data in {settings.data_dir.resolve()} — press Ctrl-C to stop.")
    try:
        await _wait_for_stop()
    finally:
        console.print("Stopping…")
        if server is not None:
            server.close()
            await server.wait_closed()
        if arq_worker is not None and worker_task is not None:
            await stop_worker(arq_worker, worker_task)
        await rt.close()
