"""Digest benchmark: claim, compose and render the daily digest of many users.

    .venv/bin/python bench/digests.py [--users 10000] [--items 20] [--database sqlite|postgres|both]
                                      [--concurrency 8]

For each database: a fresh database with USERS users (100 per tenant) holding ITEMS new
knowledge items each (and one failed file per ten users), all due at 08:00 UTC. Timed:

1. generate: `schedule_due` at 08:00, the cron's work — find the due users, choose each one's
   new items and failures, insert one generated Digest per user (in batches of 500);
2. render: for every digest, its items read back (500 digests per query), the DigestAgent
   (groups, ranking, lead), the email (plain text + HTML) and the Slack blocks;
3. deliver: the `send_digest` job's path for every digest, CONCURRENCY at a time in one
   process — take the lease, read the digest, its user and items, render, hand it to a
   stand-in sender (no SMTP), record it as sent. Workers run this in parallel in production.

The target (10,000 users × 20 items under 60 s) is for generate + render; the job path is
reported beside it, per user. A report, not a test: exit 0 whatever the figures; 1 only if a
digest did not end as sent with every item in it.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

import structlog  # noqa: E402
from sqlalchemy import func, insert, select, text  # noqa: E402
from sqlalchemy.ext.asyncio import create_async_engine  # noqa: E402

from models import Digest, FileRecord, KnowledgeItem, Tenant, User  # noqa: E402
from models.base import new_id  # noqa: E402
from models.digests import DigestStatus  # noqa: E402
from services.db import migrate_async  # noqa: E402
from services.digest_delivery import OutgoingDigest, build_kit  # noqa: E402
from services.digests import deliver, load_selections, render_outgoing, schedule_due  # noqa: E402
from services.runtime import Runtime  # noqa: E402
from services.settings import Settings, normalize_database_url  # noqa: E402

TARGET_S = 60.0
USERS = User.__table__  # type: ignore[attr-defined]  # set by SQLModel
NOW = datetime(2024, 3, 5, 8, 0, tzinfo=UTC)
CREATED = datetime(2024, 1, 1, tzinfo=UTC)
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"
TOPICS = [
    "budget", "hiring", "supplier", "roadmap", "security", "pricing", "onboarding",
    "quarterly revenue", "customer churn", "infrastructure", "marketing", "legal",
]  # fmt: skip
WORDS = ("the team agreed to review the figures before the board meeting and to share the "
         "revised plan with every department next week").split()  # fmt: skip


@dataclass(frozen=True)
class Options:
    users: int
    items: int
    databases: tuple[str, ...]
    concurrency: int
    pg_admin_url: str


def parse_options(argv: list[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(description="ContentMind digest benchmark (a report).")
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--items", type=int, default=20, help="new items per user")
    parser.add_argument("--database", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--concurrency", type=int, default=8, help="digests delivered at once")
    pg_url = os.environ.get("CONTENTMIND_TEST_POSTGRES_URL", DEFAULT_PG)
    parser.add_argument("--pg-url", default=pg_url, help="server for a throw-away database")
    args = parser.parse_args(argv)
    chosen = ("sqlite", "postgres") if args.database == "both" else (args.database,)
    return Options(max(1, args.users), max(1, args.items), chosen, max(1, args.concurrency),
                   normalize_database_url(args.pg_url))  # fmt: skip


def quiet_logging() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))


# --- a database to run on ----------------------------------------------------------------------


@asynccontextmanager
async def database(kind: str, options: Options, folder: Path) -> AsyncIterator[str]:
    """A migrated, empty database: a SQLite file, or a PostgreSQL database dropped afterwards."""
    if kind == "sqlite":
        url = f"sqlite+aiosqlite:///{folder / 'bench.db'}"
        await migrate_async(url)
        yield url
        return
    name = f"contentmind_bench_{uuid.uuid4().hex[:8]}"
    await _admin(options.pg_admin_url, f'CREATE DATABASE "{name}"')
    url = options.pg_admin_url.rsplit("/", 1)[0] + f"/{name}"
    try:
        await migrate_async(url)
        yield url
    finally:
        await _admin(options.pg_admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _admin(url: str, statement: str) -> None:
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
    async with engine.connect() as connection:
        await connection.execute(text(statement))
    await engine.dispose()


# --- seeding -----------------------------------------------------------------------------------


def _sentence(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n)).capitalize() + "."


def seed_rows(options: Options) -> dict[Any, list[dict[str, Any]]]:
    """Tenants, users, and per user ITEMS knowledge items (with their files), one failure per 10."""
    rng = random.Random(4)
    rows: dict[Any, list[dict[str, Any]]] = {
        Tenant: [],
        User: [],
        FileRecord: [],
        KnowledgeItem: [],
    }
    tenants = max(1, options.users // 100)
    for t in range(tenants):
        rows[Tenant].append(
            {"id": f"t{t:06d}", "name": f"team {t}", "email_domain": f"team{t}.example",
             "created_at": CREATED}
        )  # fmt: skip
    for u in range(options.users):
        user = _user(u, tenants)
        rows[User].append(user)
        for i in range(options.items):
            _item(rows, rng, user, i)
        if u % 10 == 0:
            _file(rows, user, f"scan-{u}.pdf", NOW - timedelta(hours=3), "failed", "no_text_layer")
    return rows


def _user(u: int, tenants: int) -> dict[str, Any]:
    return {
        "id": f"u{u:07d}", "tenant_id": f"t{u % tenants:06d}",
        "email": f"user{u}@team{u % tenants}.example", "timezone": "UTC", "digest_enabled": True,
        "digest_hour": 8, "digest_minute": 0, "digest_weekdays_only": False,
        "digest_channel": "email", "created_at": CREATED,
    }  # fmt: skip


def _item(
    rows: dict[Any, list[dict[str, Any]]], rng: random.Random, user: dict[str, Any], i: int
) -> None:
    at = NOW - timedelta(minutes=10 + i * 37)
    record = _file(rows, user, f"report-{i}.pdf", at, "completed", None)
    keywords = rng.sample(TOPICS, 3)
    rows[KnowledgeItem].append(
        {
            "id": new_id(), "tenant_id": user["tenant_id"], "user_id": user["id"],
            "file_id": record["id"], "sha256": new_id() * 2,
            "title": f"{keywords[0].capitalize()} report {i}",
            "summary": " ".join(_sentence(rng, 18) for _ in range(3)),
            "key_points": [_sentence(rng, 10) for _ in range(3)], "keywords": keywords,
            "full_text": "", "token_count": rng.randint(200, 6000), "tokens_used": 0,
            "backend": "offline", "source": rng.choice(["email", "email", "slack"]),
            "original_filename": record["original_filename"], "provenance": None,
            "created_at": at,
        }
    )  # fmt: skip


def _file(rows: dict[Any, list[dict[str, Any]]], user: dict[str, Any], name: str, at: datetime,
          status: str, reason: str | None) -> dict[str, Any]:  # fmt: skip
    record = {
        "id": new_id(), "tenant_id": user["tenant_id"], "user_id": user["id"], "source": "email",
        "external_id": None, "inbound_message_id": None, "original_filename": name,
        "declared_type": "application/pdf", "detected_type": "application/pdf", "size": 1000,
        "sha256": new_id() * 2, "storage_key": None, "provenance": None, "status": status,
        "reason": reason, "reason_message": "The file holds only images." if reason else None,
        "attempts": 1, "knowledge_id": None, "correlation_id": new_id(), "details": {},
        "created_at": at, "updated_at": at, "completed_at": at,
    }  # fmt: skip
    rows[FileRecord].append(record)
    return record


async def seed(rt: Runtime, options: Options) -> float:
    started = time.perf_counter()
    rows = seed_rows(options)
    async with rt.engine.begin() as connection:
        for model in (Tenant, User, FileRecord, KnowledgeItem):
            table = model.__table__  # type: ignore[union-attr]  # set by SQLModel
            batch = rows[model]
            for start in range(0, len(batch), 2000):
                await connection.execute(insert(table), batch[start : start + 2000])
    return time.perf_counter() - started


# --- the timed phases ----------------------------------------------------------------------------


class MeasuringSender:
    """Stands in for the relay: takes the rendered digest, keeps its sizes."""

    channel = "email"

    def __init__(self) -> None:
        self.sizes: list[int] = []
        self.blocks: list[int] = []

    async def send(self, digest: OutgoingDigest) -> str:
        self.sizes.append(len(digest.text) + len(digest.html))
        self.blocks.append(len(digest.blocks))
        return "bench"


async def run_one(kind: str, options: Options) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix=f"cm-digest-bench-{kind}-"))
    try:
        async with database(kind, options, folder) as url:
            settings = Settings(_env_file=None, data_dir=folder, database_url=url,  # type: ignore[call-arg]
                                log_level="WARNING", analytics_flush_interval_s=1.0)  # fmt: skip
            rt = await Runtime.open(settings, redis_url=None, migrate=False)
            try:
                return await _phases(rt, kind, options)
            finally:
                await rt.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


async def _phases(rt: Runtime, kind: str, options: Options) -> dict[str, Any]:
    seeded_s = await seed(rt, options)
    sender = MeasuringSender()
    kit = build_kit(rt, [lambda _rt: sender])
    started = time.perf_counter()
    claimed = await schedule_due(rt, now=NOW)
    generate_s = time.perf_counter() - started
    started = time.perf_counter()
    sizes = await render_all(rt, claimed, kit)
    render_s = time.perf_counter() - started
    gate = asyncio.Semaphore(options.concurrency)

    async def one(digest_id: str) -> str:
        async with gate:
            return (await deliver(rt, kit, digest_id, now=NOW)).status

    started = time.perf_counter()
    statuses = await asyncio.gather(*(one(d.id) for d in claimed))
    deliver_s = time.perf_counter() - started
    await rt.analytics.flush()
    return {
        "database": kind, "users": options.users, "items": options.items, "seed_s": seeded_s,
        "generate_s": generate_s, "render_s": render_s, "deliver_s": deliver_s,
        "claimed": len(claimed), "sent": statuses.count("sent"),
        "items_ok": await _every_item_sent(rt, options), "mean_size": statistics.mean(sizes or [0]),
        "max_blocks": max(sender.blocks or [0]),
    }  # fmt: skip


async def render_all(rt: Runtime, digests: list[Digest], kit: Any, batch: int = 500) -> list[int]:
    """Every digest rendered in full (email parts and Slack blocks); the size of each email."""
    users = {}
    async with rt.engine.connect() as connection:
        for row in (await connection.execute(select(USERS))).all():
            users[row.id] = User(**row._mapping)
        sizes = []
        for start in range(0, len(digests), batch):
            chunk = [
                d for d in digests[start : start + batch] if d.status == DigestStatus.GENERATED
            ]
            selections = await load_selections(connection, chunk)
            for digest in chunk:
                out = render_outgoing(rt, kit, digest, users[digest.user_id], selections[digest.id])
                sizes.append(len(out.text) + len(out.html))
                assert out.blocks and out.item_count == len(digest.item_ids)
    return sizes


async def _every_item_sent(rt: Runtime, options: Options) -> bool:
    async with rt.engine.connect() as connection:
        counts = (
            await connection.execute(
                select(func.min(Digest.item_count), func.max(Digest.item_count))
            )
        ).one()
    return tuple(counts) == (options.items, options.items)


def report(result: dict[str, Any]) -> bool:
    target_s = result["generate_s"] + result["render_s"]
    users = result["users"]
    ok = result["sent"] == users == result["claimed"] and result["items_ok"]
    verdict = "PASS" if target_s < TARGET_S and ok else "FAIL"
    print(f"\n== {result['database']}: {users:,} users × {result['items']} items ==")
    print(f"  seed (not timed)       {result['seed_s']:7.1f} s")
    for label, seconds, note in (
        ("1 generate (cron)", result["generate_s"], ""),
        ("2 render", result["render_s"], ""),
        ("generate + render", target_s, f"  target < {TARGET_S:.0f} s: {verdict}"),
        ("3 deliver (job path)", result["deliver_s"], "  (one process; workers add up)"),
    ):
        print(f"  {label:21s}  {seconds:7.2f} s  {seconds / users * 1000:6.2f} ms/user{note}")
    print(
        f"  sent {result['sent']:,} of {result['claimed']:,}; every digest has all its items: "
        f"{result['items_ok']}; mean email {result['mean_size'] / 1024:.1f} KiB; "
        f"max Slack blocks {result['max_blocks']}"
    )
    return ok


def main(argv: list[str] | None = None) -> int:
    options = parse_options(argv)
    quiet_logging()
    print(f"Digest benchmark: {options.users:,} users × {options.items} items, "
          f"concurrency {options.concurrency}, {os.cpu_count()} CPUs")  # fmt: skip
    ok = True
    for kind in options.databases:
        ok = report(asyncio.run(run_one(kind, options))) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
