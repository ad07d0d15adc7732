"""A process pool for CPU-heavy analysis, with a wall-time bound per call and a memory cap.

A call that overruns its time is stopped by killing the pool's processes (a thread cannot be
stopped); the pool is rebuilt, the other calls that were running fail with a retryable error,
and the calls still waiting run on the rebuilt pool.

Each process has one call waiting behind the one it runs, so it starts the next file the moment
it finishes one, without a round trip through this process (whose threads may be busy). The time
bound counts from when a process starts the call: each process writes that moment into shared
memory, under the call's ticket.
"""

from __future__ import annotations

import asyncio
import ctypes
import multiprocessing
import queue
import resource
import signal
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import CancelledError, Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

import structlog

from services.errors import JobTimeout, TransientError

log = structlog.get_logger(__name__)
T = TypeVar("T")
PR_SET_PDEATHSIG = 1
FORKSERVER_GUARD = "workers.forkserver_guard"
NOT_STARTED = 0.0
RESUBMITS = 2  # times a call that never started is moved to a rebuilt pool
_started: Any = None  # in a pool process: the shared start times, by ticket
_finished: Any = None  # and the end times


def _init_child(memory_limit_bytes: int, started: Any, finished: Any) -> None:
    """In each pool process: die with the parent, cap the address space, keep the call times."""
    global _started, _finished
    _started, _finished = started, finished
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
        # Calls in flight: one running in each process and one waiting behind each.
        depth = 2 * max_workers
        self._started = self._context.Array("d", depth, lock=False)  # monotonic s, by ticket
        self._finished = self._context.Array("d", depth, lock=False)
        self._tickets: queue.SimpleQueue[int] = queue.SimpleQueue()
        for ticket in range(depth):
            self._tickets.put(ticket)
        self._slots = threading.BoundedSemaphore(depth)
        self._executor = self._new_executor()
        self._restart_lock = threading.Lock()
        self._dispatch = ThreadPoolExecutor(
            max_workers=max(8, 4 * max_workers), thread_name_prefix="analysis-dispatch"
        )

    def _new_executor(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            max_workers=self.max_workers,
            mp_context=self._context,
            initializer=_init_child,
            initargs=(self.memory_limit_bytes, self._started, self._finished),
        )

    async def run(self, timeout_s: float, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run fn in a pool process; JobTimeout past timeout_s; TransientError if the pool broke.

        The call waits for its turn in a dispatch thread, not in the event loop, and is queued in
        the pool ahead of time (see the module's docstring). The time bound starts when a pool
        process starts the call; the time spent waiting behind another call does not count.
        """
        result, _seconds = await self.run_timed(timeout_s, fn, *args, **kwargs)
        return result

    async def run_timed(
        self, timeout_s: float, fn: Callable[..., T], *args: Any, **kwargs: Any
    ) -> tuple[T, float]:
        """As `run`, with the seconds the call ran in its pool process."""
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
    ) -> tuple[T, float]:
        with self._slots:
            ticket = self._tickets.get()
            try:
                return self._run_ticket(ticket, timeout_s, fn, args, kwargs)
            finally:
                self._tickets.put(ticket)

    def _run_ticket(
        self,
        ticket: int,
        timeout_s: float,
        fn: Callable[..., T],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> tuple[T, float]:
        for _ in range(RESUBMITS + 1):
            self._started[ticket] = NOT_STARTED
            executor = self._executor
            try:
                future = executor.submit(_call, ticket, fn, args, kwargs)
                result = self._result(future, ticket, timeout_s)
                return result, self._finished[ticket] - self._started[ticket]
            except TimeoutError:
                self._restart(executor)
                raise JobTimeout() from None
            except (BrokenProcessPool, CancelledError):  # cancelled: still queued at the restart
                self._restart(executor)
                if self._started[ticket] != NOT_STARTED:
                    break
                # It was waiting behind a call that broke the pool: it never ran, so it runs on
                # the rebuilt pool instead of failing with the one that did.
        raise TransientError("The analysis process stopped unexpectedly.")

    def _result(self, future: Future[T], ticket: int, timeout_s: float) -> T:
        """The call's result; TimeoutError once it has run timeout_s in its process.

        The calls ahead of it were already running when it was queued, each bounded by
        timeout_s: so a call that has not started within twice the bound never will (the pool is
        stuck), and times out as well.
        """
        give_up = time.monotonic() + 2 * timeout_s
        while True:
            started = self._started[ticket]
            deadline = started + timeout_s if started != NOT_STARTED else give_up
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            try:
                return future.result(timeout=remaining)
            except TimeoutError:
                if started == NOT_STARTED and self._started[ticket] != NOT_STARTED:
                    continue  # it started meanwhile: wait for its own bound
                if time.monotonic() >= deadline:
                    raise

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


def _call(ticket: int, fn: Callable[..., T], args: tuple[Any, ...], kwargs: dict[str, Any]) -> T:
    _started[ticket] = time.monotonic()
    try:
        return fn(*args, **kwargs)
    finally:
        _finished[ticket] = time.monotonic()
