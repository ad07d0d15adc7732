"""A TCP proxy between the poller and dovecot that can drop its connections on demand: with the
server's `* BYE` first, or abruptly (a TCP reset)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct


class DroppingProxy:
    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self.connections = 0
        self._server: asyncio.Server | None = None
        self._pairs: list[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = []
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        self._pairs.append((writer, up_writer))
        for source, sink in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.create_task(_pipe(source, sink))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def drop(self, *, bye: bool) -> int:
        """End every open connection; returns how many there were."""
        pairs = [(c, u) for c, u in self._pairs if not c.is_closing()]
        self._pairs = []
        for client, upstream in pairs:
            if bye:
                client.write(b"* BYE Server shutting down\r\n")
                with contextlib.suppress(OSError):
                    await client.drain()
                client.close()
            else:  # SO_LINGER 0: close() sends RST
                sock = client.get_extra_info("socket")
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                client.transport.abort()
            upstream.close()
        return len(pairs)

    async def stop(self) -> None:
        await self.drop(bye=False)
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    try:
        while data := await source.read(65536):
            sink.write(data)
            await sink.drain()
    except (OSError, asyncio.CancelledError):
        pass
    finally:
        sink.close()
