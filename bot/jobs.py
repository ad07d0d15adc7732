"""Commands whose work is too long for a listener (/ask, /digest now): the slack_command job."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import structlog

from bot.commands import QUEUED, CommandCall
from bot.keys import SLACK_COMMAND, command_job_id
from services.queue import enqueue_once

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class CommandJob:
    """What the job needs: who asked, where to answer, and the request."""

    kind: str  # ask | digest
    text: str
    team_id: str
    slack_user_id: str
    channel_id: str | None
    tenant_id: str
    user_id: str
    response_url: str | None
    correlation_id: str

    def as_job(self) -> dict[str, str | None]:
        return asdict(self)


async def enqueue_command(call: CommandCall, *, kind: str, text: str) -> str:
    job = CommandJob(
        kind=kind,
        text=text,
        team_id=str(call.payload.get("team_id")),
        slack_user_id=str(call.payload.get("user_id")),
        channel_id=call.payload.get("channel_id"),
        tenant_id=call.tenant.id,
        user_id=call.user.id,
        response_url=call.payload.get("response_url"),
        correlation_id=call.correlation_id,
    )
    await enqueue_once(
        call.rt.require_redis(),
        call.rt.analytics,
        queue_name=call.rt.settings.queue_name,
        function=SLACK_COMMAND,
        job_id=command_job_id(call.correlation_id),
        args=(job.as_job(),),
        event_ids={
            "user_id": call.user.id,
            "tenant_id": call.tenant.id,
            "correlation_id": call.correlation_id,
        },  # fmt: skip
    )
    log.info("slack_command_queued", kind=kind)
    return QUEUED
