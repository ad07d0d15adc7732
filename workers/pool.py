"""A process pool for CPU-heavy analysis, with a wall-time bound per call and a memory cap.

A call that overruns its time is stopped by killing the pool's processes (a thread cannot be
stopped); the pool is rebuilt and the other calls in flight fail with a retryable error.
"""

from __future__ import annotations

import asyncio
import ctypes
import multiprocessing
import resource
import signal
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

import structlog

from services.errors import JobTimeout, TransientError

log = structlog.get_logger(__name__)
T = TypeVar("T")
PR_SET_PDEATHSIG = 1
FORKSERVER_GUARD = "workers.forkserver_guard"


def _init_child(memory_limit_bytes: int) -> None:
    """In each pool process: die with the parent, and cap the address space."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    if memory_limit_bytes > 0:
        resource.setrlimit(resource.RLIMIT_AS, (memory_limit_bytes, memory_limit_bytes))


class AnalysisPool:
    def __init__(
        self, max_workers: int, *, memory_limit_bytes: int = 0, preload: list[str] | None = None
    ) -> None:
        self.max_workers = max_workers
        self.memory_limit_bytes = memory_limit_bytes
        self._context = multiprocessing.get_context("forkserver")
        # The guard first: the fork server dies with this process, and the pool with it. Then
        # what every pool process imports anyway (the main module, `_call`), so a process started
        # after a restart does not spend its call's time bound on imports.
        self._context.set_forkserver_preload(
            [FORKSERVER_GUARD, "__main__", __name__, *(preload or [])]
        )
        self._executor = self._new_executor()
        self._slots = threading.BoundedSemaphore(max_workers)  # one call per process at a time
        self._restart_lock = threading.Lock()
        self._dispatch = ThreadPoolExecutor(
            max_workers=max(8, 4 * max_workers), thread_name_prefix="analysis-dispatch"
        )

    def _new_executor(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            max_workers=self.max_workers,
            mp_context=self._context,
            initializer=_init_child,
            initargs=(self.memory_limit_bytes,),
        )

    async def run(self, timeout_s: float, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run fn in a pool process; JobTimeout past timeout_s; TransientError if the pool broke.

        The call waits for a free process in a dispatch thread, not in the event loop: when a
        process finishes a file, the next waiting call is handed to it at once, even while the
        loop is busy with other jobs' own work (which would otherwise leave the process idle).
        The time bound starts when a process is free for the call.
        """
        return await asyncio.wrap_future(
            self._dispatch.submit(self._run_blocking, timeout_s, fn, args, kwargs)
        )

    async def warm_up(self) -> None:
        """Start every pool process now (imports done) instead of on the first real call."""
        loop = asyncio.get_running_loop()
        calls = [loop.run_in_executor(self._executor, _noop) for _ in range(self.max_workers)]
        await asyncio.gather(*calls)

    def _run_blocking(
        self, timeout_s: float, fn: Callable[..., T], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> T:
        with self._slots:
            executor = self._executor
            future = executor.submit(_call, fn, args, kwargs)
            try:
                return future.result(timeout=timeout_s)
            except TimeoutError:
                self._restart(executor)
                raise JobTimeout() from None
            except BrokenProcessPool:
                self._restart(executor)
                raise TransientError("The analysis process stopped unexpectedly.") from None

    def _restart(self, broken: ProcessPoolExecutor) -> None:
        with self._restart_lock:
            if broken is not self._executor:
                return  # another caller already rebuilt it
            log.warning("analysis_pool_restart")
            for process in list(getattr(broken, "_processes", {}).values()):
                process.kill()
            broken.shutdown(wait=False, cancel_futures=True)
            self._executor = self._new_executor()

    def shutdown(self) -> None:
        for process in list(getattr(self._executor, "_processes", {}).values()):
            process.kill()
        self._executor.shutdown(wait=False, cancel_futures=True)
        self._dispatch.shutdown(wait=False, cancel_futures=True)


def _noop() -> None:
    return None


def _call(fn: Callable[..., T], args: tuple[Any, ...], kwargs: dict[str, Any]) -> T:
    return fn(*args, **kwargs)
