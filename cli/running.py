"""Helpers for commands that run the pipeline in-process and wait for it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlmodel import col, select

from models import FileRecord, FileStatus
from services.runtime import Runtime
from workers.worker import worker_running  # noqa: F401  (re-exported for the commands)


async def wait_until_final(
    rt: Runtime,
    select_files: Callable[[], object],
    *,
    expected: int | None,
    timeout_s: float,
    label: str = "Processing",
) -> list[FileRecord]:
    """Poll the selected files with a progress bar until all are final (or the time is up)."""
    deadline = time.monotonic() + timeout_s
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    # on stderr: stdout carries the command's result (and its --json)
    with Progress(*columns, console=Console(stderr=True), transient=False) as progress:
        task = progress.add_task(label, total=expected)
        while True:
            async with rt.sessions() as session:
                records = list((await session.exec(select_files())).all())  # type: ignore[call-overload]
            done = sum(1 for r in records if FileStatus(r.status).is_final)
            total = max(expected or 0, len(records))
            progress.update(task, completed=done, total=total or None)
            if total and done == total or time.monotonic() > deadline:
                return records
            await asyncio.sleep(0.3)


def files_of_message(message_id: str) -> Callable[[], object]:
    return lambda: (
        select(FileRecord)
        .where(FileRecord.inbound_message_id == message_id)
        .order_by(col(FileRecord.created_at))
    )


def files_by_id(ids: list[str]) -> Callable[[], object]:
    return lambda: select(FileRecord).where(col(FileRecord.id).in_(ids))
