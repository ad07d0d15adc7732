"""The `slack_command` job: the slow half of /ask and /digest now, answered via response_url.

The command was acknowledged before this job was queued. Whatever happens here, the person
hears back once: the answer, or a plain-words failure (never silence, never a traceback).
"""

from __future__ import annotations

import asyncio
from typing import Any

import structlog
from arq import Retry
from slack_sdk.webhook.async_client import AsyncWebhookClient

from agents.answer import compose_answer
from bot.blocks import Citation, ItemView, Message, answer, plain
from bot.commands import SORRY
from bot.jobs import CommandJob
from models import Tenant, User
from services.analytics import EventType
from services.answers import as_sources, best_items
from services.links import item_links
from services.runtime import Runtime
from services.settings import Settings
from workers.process_file import llm_from
from workers.slack_digest import digest_now
from workers.slack_replies import templates

log = structlog.get_logger(__name__)


def command_budget_s(settings: Settings) -> float:
    """How long one run may take before the person is told it failed (an /ask or a digest).

    Within arq's timeout for the job (the same as every job's: a longer one would keep a crashed
    worker's jobs stranded longer, as arq holds them for the longest timeout of any function).
    """
    return settings.job_timeout_s


async def slack_command(ctx: dict[str, Any], job_data: dict[str, Any]) -> str:
    rt: Runtime = ctx["rt"]
    job = CommandJob(**job_data)
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(
        correlation_id=job.correlation_id, tenant_id=job.tenant_id, user_id=job.user_id,
        command=job.kind,
    )  # fmt: skip
    try:
        async with asyncio.timeout(command_budget_s(rt.settings)):
            message = await _run(ctx, rt, job)
    except (Retry, asyncio.CancelledError):
        raise
    except Exception as error:  # told in plain words; the detail goes to the log
        log.exception("slack_command_job_failed", error_type=type(error).__name__)
        _log(rt, job, EventType.COMMAND_FAILED, error_type=type(error).__name__)
        await respond(job, plain(SORRY.format(reference=job.correlation_id)))
        return "failed"
    if message is not None:
        await respond(job, message)
    _log(rt, job, EventType.COMMAND_COMPLETED)
    return "done"


async def _run(ctx: dict[str, Any], rt: Runtime, job: CommandJob) -> Message | None:
    async with rt.sessions() as session:
        tenant = await session.get(Tenant, job.tenant_id)
        user = await session.get(User, job.user_id)
    if tenant is None or user is None:
        return plain("Your ContentMind account could not be found; try again.")
    if job.kind == "ask":
        return await _ask(rt, tenant, user, job.text)
    if job.kind == "digest":
        return await digest_now(ctx, rt, user, job)
    raise ValueError(f"unknown command kind {job.kind!r}")


async def _ask(rt: Runtime, tenant: Tenant, user: User, question: str) -> Message:
    async with rt.sessions() as session:
        items = await best_items(session, tenant_id=tenant.id, question=question, limit=3)
    sources = as_sources(items)
    result = await asyncio.to_thread(compose_answer, question, sources, llm=llm_from(rt))
    by_number = {source.number: item for source, item in zip(sources, items, strict=True)}
    citations = [Citation(n, ItemView.of(by_number[n])) for n in result.cited if n in by_number]
    return answer(
        templates(rt.settings.templates_dir), question, result.text, citations,
        backend=result.backend, links=item_links(rt.settings), timezone=user.timezone,
    )  # fmt: skip


async def respond(job: CommandJob, message: Message) -> None:
    """Ephemeral, through the command's response_url (valid 30 minutes, 5 uses)."""
    if not job.response_url:
        log.warning("slack_command_without_response_url")
        return
    webhook = AsyncWebhookClient(job.response_url, timeout=30)
    response = await webhook.send(response_type="ephemeral", replace_original=False,
                                  **message.as_kwargs())  # fmt: skip
    if response.status_code >= 300:
        log.warning("slack_response_url_refused", status=response.status_code)


def _log(rt: Runtime, job: CommandJob, event: EventType, **extra: Any) -> None:
    rt.analytics.log_event(
        event,
        user_id=job.user_id,
        tenant_id=job.tenant_id,
        correlation_id=job.correlation_id,
        metadata={"command": job.kind, "via": "slack", **extra},
    )
