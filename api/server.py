"""Serving the app with uvicorn inside the caller's event loop (beside the worker and SMTP)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import uvicorn

from api.app import RouteFactory, create_app
from services.runtime import Runtime


class _EmbeddedServer(uvicorn.Server):
    """uvicorn without its own signal handlers: the process that embeds it decides when to stop."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@dataclass
class ApiServer:
    server: uvicorn.Server
    task: asyncio.Task[None]

    @property
    def address(self) -> tuple[str, int]:
        host, port = self.server.servers[0].sockets[0].getsockname()[:2]
        return str(host), int(port)

    async def stop(self) -> None:
        self.server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError, SystemExit):
            await asyncio.wait_for(self.task, timeout=10)


async def start_api(
    rt: Runtime,
    *,
    host: str | None = None,
    port: int | None = None,
    routers: Sequence[RouteFactory] | None = None,
) -> ApiServer:
    """Start serving the app (port 0: any free port) and return once it listens."""
    config = uvicorn.Config(
        create_app(rt, routers=routers),
        host=host or rt.settings.api_host,
        port=rt.settings.api_port if port is None else port,
        lifespan="off",
        log_config=None,  # our structlog set-up handles uvicorn's records
        access_log=False,
        server_header=False,
    )
    server = _EmbeddedServer(config)
    task = asyncio.create_task(server.serve(), name="api-server")
    while not server.started:
        if task.done():  # it could not bind (uvicorn exits on that)
            with contextlib.suppress(SystemExit, asyncio.CancelledError):
                task.result()
            raise OSError(f"the API could not listen on {config.host}:{config.port}")
        await asyncio.sleep(0.02)
    return ApiServer(server, task)
