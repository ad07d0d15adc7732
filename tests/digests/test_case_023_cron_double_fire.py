"""Case 023: a unique cron that fires on several workers, twice, and after a restart.

arq's `unique` flag alone let a fast job run again on another worker. Here three worker
contexts (three Runtimes, three engines, one database and Redis) run the digest cron at the
same instant, twice, and then every send job runs on every worker: each user still gets one
digest for the day, DIGEST_SENT once, and the extra runs are DIGEST_DUPLICATE_SUPPRESSED. The
idempotency key is the database's unique index on (user_id, local_date, type='daily'), which
outlives Redis (no TTL to choose, nothing lost when Redis is flushed).
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from arq import Retry

from services.digest_delivery import build_kit
from services.digests import claim_daily, find_due
from services.runtime import Runtime
from tests.digests.conftest import Factory, RuntimeFactory, digests, events
from workers.digests import digest_cron, send_digest

CASE = Path(__file__).resolve().parents[3] / "shared/cases/023-arq-unique-cron-double-fire"
SCENARIO: dict[str, Any] = (
    json.loads((CASE / "scenario.json").read_text())
    if (CASE / "scenario.json").exists()
    else {"workers": 3, "day": "2024-03-06", "cron": {"hour": 8, "minute": 0}}
)
AT_EIGHT = datetime.fromisoformat(SCENARIO["day"]).replace(
    hour=SCENARIO["cron"]["hour"], minute=SCENARIO["cron"]["minute"], tzinfo=UTC
)


async def _workers(runtime_with: RuntimeFactory) -> list[dict[str, Any]]:
    contexts = []
    for _ in range(SCENARIO["workers"]):
        rt: Runtime = await runtime_with()
        contexts.append({"rt": rt, "clock": lambda: AT_EIGHT, "digest_kit": build_kit(rt)})
    return contexts


async def _run_job(ctx: dict[str, Any], digest_id: str) -> str:
    """send_digest as arq runs it: a Retry (another worker is sending it) runs it again later."""
    while True:
        try:
            return await send_digest(ctx, digest_id)
        except Retry:
            await asyncio.sleep(0.05)


async def _flush(contexts: list[dict[str, Any]]) -> None:
    for ctx in contexts:
        await ctx["rt"].analytics.flush()


async def test_case_023_three_workers_and_a_doubled_cron_send_one_digest_per_user(
    runtime_with: RuntimeFactory,
) -> None:
    """3 workers × 2 cron fires at 08:00, every send job on every worker: one digest per user."""
    contexts = await _workers(runtime_with)
    rt = contexts[0]["rt"]
    make = Factory(rt)
    users = [await make.user(f"user{n}@example.com") for n in range(4)]
    for user in users:
        await make.item(user, f"Notes of {user.email}", at=AT_EIGHT.replace(hour=6))

    for _fire in range(2):
        claimed = await asyncio.gather(*(digest_cron(ctx) for ctx in contexts))
        assert sum(claimed) == (len(users) if _fire == 0 else 0)
    rows = await digests(rt)
    assert sorted(r.user_id for r in rows) == sorted(u.id for u in users)

    results = await asyncio.gather(*(_run_job(ctx, row.id) for row in rows for ctx in contexts))
    assert sorted(results).count("sent") == len(users)
    assert set(results) <= {"sent", "suppressed"}
    await _flush(contexts)
    sent = await events(rt, "DIGEST_SENT")
    assert sorted(e.user_id or "" for e in sent) == sorted(u.id for u in users)
    suppressed = await events(rt, "DIGEST_DUPLICATE_SUPPRESSED")
    stages = [e.event_metadata["stage"] for e in suppressed]
    extra_runs = len(rows) * (len(contexts) - 1)
    assert len(stages) - stages.count("claim") == extra_runs  # every extra send job, once
    assert stages.count("claim") <= extra_runs  # claims that raced (timing decides how many)
    outbox = sorted(rt.settings.outbox_dir.glob("*.eml"))
    assert len(outbox) == len(users)


async def test_case_023_racing_claims_leave_one_row_and_log_the_losers(
    runtime_with: RuntimeFactory,
) -> None:
    """Both fires see the user due before either claims: the unique key lets one insert win."""
    contexts = await _workers(runtime_with)
    rt = contexts[0]["rt"]
    dana = await Factory(rt).user("dana@example.com")
    seen = [await find_due(ctx["rt"], now=AT_EIGHT) for ctx in contexts]  # all before any claim
    assert all([d.user_id for d in due] == [dana.id] for due in seen)

    won = await asyncio.gather(
        *(
            claim_daily(ctx["rt"], due[0], now=AT_EIGHT)
            for ctx, due in zip(contexts, seen, strict=True)
        )
    )
    assert sum(w is not None for w in won) == 1
    await _flush(contexts)
    [row] = await digests(rt)
    suppressed = await events(rt, "DIGEST_DUPLICATE_SUPPRESSED")
    assert len(suppressed) == len(contexts) - 1
    assert {e.event_metadata["digest_id"] for e in suppressed} == {row.id}
    assert {e.correlation_id for e in suppressed} == {row.correlation_id}
    assert {e.event_metadata["stage"] for e in suppressed} == {"claim"}


async def test_case_023_restarted_worker_does_not_resend(runtime_with: RuntimeFactory) -> None:
    """After the day's digest went out, a fresh worker (new Runtime) at 08:05 claims nothing."""
    first = (await _workers(runtime_with))[0]
    dana = await Factory(first["rt"]).user("dana@example.com")
    await Factory(first["rt"]).item(dana, "Plan", at=AT_EIGHT.replace(hour=7))
    assert await digest_cron(first) == 1
    [row] = await digests(first["rt"])
    assert await send_digest(first, row.id) == "sent"

    restarted: Runtime = await runtime_with()
    later = AT_EIGHT.replace(minute=5)
    assert await digest_cron({"rt": restarted, "clock": lambda: later}) == 0
    assert await send_digest({"rt": restarted, "clock": lambda: later}, row.id) == "suppressed"
    assert len(list(restarted.settings.outbox_dir.glob("*.eml"))) == 1
