"""`contentmind ingest`: local files through the same intake path as every other door."""

from __future__ import annotations

import mimetypes
from pathlib import Path

from rich.console import Console

from cli.output import file_json, print_json, table
from cli.running import files_by_id, wait_until_final, worker_running
from models import FileSource, FileStatus
from models.base import new_id
from services.analytics import EventType
from services.identity import resolve_email_sender
from services.intake import NewFile, add_file, enqueue_file
from services.runtime import Runtime
from services.settings import Settings

console = Console(stderr=True)


async def run_ingest(
    settings: Settings,
    redis_url: str,
    paths: list[Path],
    user_email: str,
    *,
    process: bool,
    as_json: bool,
) -> bool:
    """Record and enqueue every file; with `process`, run a worker here until all are done."""
    rt = await Runtime.open(settings, redis_url=redis_url)
    try:
        async with rt.sessions() as session:
            tenant, user = await resolve_email_sender(session, settings, user_email)
        ids, queued = [], []
        for path in paths:
            correlation_id = new_id()  # the file's, from its first event on
            rt.analytics.log_event(
                EventType.FILE_UPLOAD_INITIATED,
                user_id=user.id,
                tenant_id=tenant.id,
                correlation_id=correlation_id,
                metadata={"source": "cli", "filename": path.name},
            )
            declared, _ = mimetypes.guess_type(path.name)
            record, _ = await add_file(
                rt, tenant=tenant, user=user, source=FileSource.CLI,
                new=NewFile(data=path.read_bytes(), filename=path.name, declared_type=declared,
                            correlation_id=correlation_id),
            )  # fmt: skip
            await enqueue_file(rt, record)
            ids.append(record.id)
            queued.append(record)
        if not process:
            console.print(f"Queued {len(ids)} file(s); a running worker will process them.")
            if as_json:  # the records as queued (status pending), for scripts to follow up
                print_json([file_json(r) for r in queued])
            return True
        async with worker_running(settings, redis_url):
            records = await wait_until_final(
                rt, files_by_id(ids), expected=len(ids), timeout_s=settings.job_timeout_s * 4
            )
    finally:
        await rt.close()
    _report(records, as_json)
    return all(r.status == FileStatus.COMPLETED for r in records)


def _report(records: list, as_json: bool) -> None:
    if as_json:
        print_json([file_json(r) for r in records])
        return
    table(
        "Ingested",
        ["filename", "status", "reason", "knowledge_id"],
        [
            [r.original_filename, r.status, r.reason_message or r.reason, r.knowledge_id]
            for r in records
        ],
        whole={"knowledge_id"},
    )
