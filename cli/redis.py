"""Which Redis to use: REDIS_URL when set, else a local server this process starts or shares."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

import structlog

from services.local_redis import STATE_FILE, LocalRedis, LocalRedisError
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
        yield url
        return
    try:
        yield url
    finally:
        local.stop()


def _url_of_running(settings: Settings) -> str:
    """The URL of the local Redis another ContentMind process runs for this data dir."""
    state = json.loads((settings.data_dir / "redis" / STATE_FILE).read_text())
    return f"redis://127.0.0.1:{int(state['port'])}"
