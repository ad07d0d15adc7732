"""/digest now: an on-demand digest created and delivered as a Slack DM, inside the command job.

Composing, rendering, delivery and its events are services.digests'; this only creates the
digest once per command (a retried job delivers the same one) and says what went wrong.
"""

from __future__ import annotations

from typing import Any

from arq import Retry

from bot.blocks import Message, plain
from bot.jobs import CommandJob
from bot.keys import EVENT_TTL_S, command_digest_key
from models import Digest, DigestTrigger, User
from models.base import utcnow
from services.digest_delivery import SLACK, DigestKit, build_kit
from services.digests import create_on_demand, deliver
from services.runtime import Runtime
from workers.digests import KIT


def kit_of(ctx: dict[str, Any], rt: Runtime) -> DigestKit:
    """The worker's digest kit (built at start-up; its senders include Slack's)."""
    if KIT not in ctx:
        ctx[KIT] = build_kit(rt)
    kit: DigestKit = ctx[KIT]
    return kit


async def digest_now(
    ctx: dict[str, Any], rt: Runtime, user: User, job: CommandJob
) -> Message | None:
    """Deliver the digest; None when it went out (the listener already said where it goes)."""
    digest_id = await _digest_for(rt, user, job)
    outcome = await deliver(rt, kit_of(ctx, rt), digest_id, now=utcnow())
    if outcome.status == "deferred" and int(ctx.get("job_try", 1)) < rt.settings.digest_max_tries:
        raise Retry(defer=outcome.retry_in_s or rt.settings.digest_retry_backoff_s)
    if outcome.status in ("sent", "suppressed"):  # suppressed: an earlier run of this job sent it
        return None
    if outcome.status == "skipped":
        return plain("Nothing new since your last digest.")
    async with rt.sessions() as session:
        digest = await session.get(Digest, digest_id)
    why = (digest.error_message if digest else None) or "It could not be delivered."
    return plain(f"Your digest was not sent: {why} Reference: {job.correlation_id}")


async def _digest_for(rt: Runtime, user: User, job: CommandJob) -> str:
    redis = rt.require_redis()
    key = command_digest_key(job.correlation_id)
    known = await redis.get(key)
    if known:
        return known.decode() if isinstance(known, bytes) else str(known)
    digest = await create_on_demand(
        rt, user, channel=SLACK, triggered_by=DigestTrigger.COMMAND, now=utcnow()
    )
    await redis.set(key, digest.id, ex=EVENT_TTL_S)
    return digest.id
