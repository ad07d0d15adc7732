"""File records as intake writes them, for tests that begin after a file has arrived."""

from __future__ import annotations

from models import FileRecord, FileSource
from services.identity import resolve_email_sender
from services.intake import NewFile, add_file
from services.runtime import Runtime


async def recorded_file(
    rt: Runtime, sender: str, new: NewFile, *, source: FileSource = FileSource.CLI
) -> tuple[FileRecord, bool]:
    """The sender's file, recorded (pending, not queued); True when it is new."""
    async with rt.sessions() as session:
        tenant, user = await resolve_email_sender(session, rt.settings, sender)
    return await add_file(rt, tenant=tenant, user=user, source=source, new=new)
