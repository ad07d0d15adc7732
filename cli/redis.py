"""Which Redis to use: REDIS_URL when set, else a local server this process starts or shares."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import structlog

from services.local_redis import STATE_FILE, LocalRedis, LocalRedisError, ping
from services.settings import Settings

log = structlog.get_logger(__name__)


@contextmanager
def redis_url_for(settings: Settings) -> Iterator[str]:
    """Yield a Redis URL; a local server started here is stopped on exit."""
    if settings.redis_url:
        yield settings.redis_url
        return
    local = LocalRedis(settings.data_dir)
    try:
        url = local.start()
    except LocalRedisError as error:
        if error.reason != "local_redis_in_use":
            raise
        url = _url_of_running(settings)
        log.info("local_redis_shared", url=url)
        _watch_borrowed(url)
        yield url
        return
    try:
        yield url
    finally:
        local.stop()


def _watch_borrowed(url: str, *, interval_s: float = 2.0, misses: int = 3) -> None:
    """A borrowed local Redis stops with the process that runs it; this one then cannot work
    (it would wait on a dead connection without a word). Say so and stop: SIGTERM for a clean
    stop, and exit 1 if that does not end the process within 20 s."""
    port = int(url.rsplit(":", 1)[1])

    def watch() -> None:
        missed = 0
        while missed < misses:
            time.sleep(interval_s)
            missed = 0 if ping(port) else missed + 1
        log.error(
            "local_redis_gone",
            url=url,
            hint="the process that ran this data dir's local Redis stopped; run `contentmind up`, "
            "or give every process one REDIS_URL",
        )
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(20)
        os._exit(1)

    threading.Thread(target=watch, name="local-redis-watch", daemon=True).start()


def _url_of_running(settings: Settings) -> str:
    """The URL of the local Redis another ContentMind process runs for this data dir."""
    state = json.loads((settings.data_dir / "redis" / STATE_FILE).read_text())
    return f"redis://127.0.0.1:{int(state['port'])}"
