"""The analysis pool keeps a call waiting behind each running one; the time bound of a call
counts from when a pool process starts it, and a call that never started survives a restart."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from services.errors import JobTimeout
from workers.pool import AnalysisPool


@pytest.fixture
async def one_process() -> AsyncIterator[AnalysisPool]:
    pool = AnalysisPool(1)
    await pool.warm_up()
    yield pool
    pool.shutdown()


async def test_time_waiting_behind_another_call_does_not_count(one_process: AnalysisPool) -> None:
    started = time.monotonic()
    results = await asyncio.gather(
        one_process.run(0.9, time.sleep, 0.6), one_process.run(0.9, time.sleep, 0.6)
    )
    took = time.monotonic() - started
    assert results == [None, None]
    assert took >= 1.2  # one process: the second ran after the first, past its own 0.9 s


async def test_a_call_overrunning_its_bound_stops_at_the_bound_from_its_start(
    one_process: AnalysisPool,
) -> None:
    started = time.monotonic()
    first, second = await asyncio.gather(
        one_process.run(5.0, time.sleep, 0.5),
        one_process.run(0.6, time.sleep, 30),
        return_exceptions=True,
    )
    took = time.monotonic() - started
    assert first is None
    assert isinstance(second, JobTimeout)
    assert 1.05 <= took < 3.0, took  # 0.5 s behind the first, then its own 0.6 s


async def test_a_call_waiting_behind_a_hang_runs_on_the_rebuilt_pool(
    one_process: AnalysisPool,
) -> None:
    hang, waiting = await asyncio.gather(
        one_process.run(0.5, time.sleep, 30),
        one_process.run(2.0, sum, [1, 2, 3]),
        return_exceptions=True,
    )
    assert isinstance(hang, JobTimeout)
    assert waiting == 6
    assert await one_process.run(2.0, sum, [4, 5]) == 9  # the pool works afterwards


async def test_run_timed_reports_the_time_in_the_process_not_the_wait(
    one_process: AnalysisPool,
) -> None:
    (_, first), (_, second) = await asyncio.gather(
        one_process.run_timed(5.0, time.sleep, 0.4), one_process.run_timed(5.0, time.sleep, 0.3)
    )
    assert 0.4 <= first < 0.6, first
    assert 0.3 <= second < 0.5, second  # it waited 0.4 s behind the first: not counted
