"""Digests from claim to delivery: who is due, which items are new, render, send, record.

The steps, each safe to run twice:

1. `schedule_due(now)` (the cron) finds the users whose local slot has come, chooses each one's
   new items (three queries per 500 users) and inserts their day's `Digest`: `generated` with
   its item ids, or `skipped` when nothing is new. The partial unique index on
   (user_id, local_date, type='daily') lets one insert win; a loser logs
   DIGEST_DUPLICATE_SUPPRESSED and sends nothing.
2. `deliver(digest_id)` (the `send_digest` job) takes the digest's lease — one conditional
   UPDATE … RETURNING, so two runs never send it together — renders it, hands it to the
   channel's sender and records the end: sent, failed, or deferred for a retry (the lease is
   released; a run that finds the lease held is told when to look again, and one that finds the
   digest finished logs DIGEST_DUPLICATE_SUPPRESSED). On-demand digests start `pending` and
   choose their items in `deliver`.

"New" is exact within the look-back window: the user's items and failed files of the last
`digest_lookback_days` that are in no sent (or in-flight) digest. A failed digest releases its
items to the next one; a sent digest's items never come again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import or_, update
from sqlalchemy import select as select_columns
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from agents.digest import DigestFailure, DigestItem
from models import (
    Digest,
    DigestStatus,
    DigestTrigger,
    DigestType,
    FileRecord,
    FileStatus,
    KnowledgeItem,
    User,
)
from models.base import new_id, utcnow
from services.analytics import EventType
from services.digest_delivery import (
    DeliveryDeferred,
    DeliveryRefused,
    DigestKit,
    OutgoingDigest,
)
from services.digest_render import DigestView
from services.queue import SEND_DIGEST, enqueue_once, send_digest_job_id
from services.runtime import Runtime
from services.schedule import DigestPreferences, Slot, due_slot, local_date
from services.unsubscribe import unsubscribe_mailto, unsubscribe_url

log = structlog.get_logger(__name__)

IN_FLIGHT_OR_SENT = (DigestStatus.GENERATED, DigestStatus.SENT)
FAILED_FILES = (FileStatus.FAILED, FileStatus.SKIPPED)
DIGEST_TABLE = Digest.__table__  # type: ignore[attr-defined]  # set by SQLModel
USER_TABLE = User.__table__  # type: ignore[attr-defined]
CLAIM_BATCH = 500  # claims per transaction (one by one only when a batch collides)


@dataclass(frozen=True)
class Outcome:
    """How one delivery attempt ended."""

    digest_id: str
    status: str  # sent | failed | skipped | deferred | suppressed | missing
    reason: str | None = None
    retry_in_s: float | None = None
    delivery_ref: str | None = None
    message: str | None = None  # in plain words, for failed and deferred


@dataclass(frozen=True)
class Selection:
    """What a digest shows: its items and failed files in full."""

    items: list[DigestItem]
    failures: list[DigestFailure]
    since: datetime | None  # the end of the last sent digest, when it is in the window


@dataclass(frozen=True)
class Chosen:
    """What a digest will cover: the ids of the new items and failed files, oldest first."""

    item_ids: list[str]
    failure_ids: list[str]
    since: datetime | None

    @property
    def empty(self) -> bool:
        return not self.item_ids and not self.failure_ids


@dataclass(frozen=True)
class DueUser:
    user_id: str
    tenant_id: str
    channel: str
    slot: Slot


def _ids(digest: Digest) -> dict[str, Any]:
    return {
        "user_id": digest.user_id,
        "tenant_id": digest.tenant_id,
        "correlation_id": digest.correlation_id,
    }


def bind_digest(digest: Digest) -> None:
    structlog.contextvars.bind_contextvars(**_ids(digest), digest_id=digest.id)


# --- 1. who is due, and claiming their day ---------------------------------------------------


async def find_due(rt: Runtime, *, now: datetime) -> list[DueUser]:
    """Users with digests on whose local slot is due at `now` and not yet claimed."""
    catch_up = timedelta(hours=rt.settings.digest_catch_up_hours)
    statement = select_columns(
        col(User.id), col(User.tenant_id), col(User.timezone), col(User.digest_hour),
        col(User.digest_minute), col(User.digest_weekdays_only), col(User.digest_channel),
        col(User.created_at), col(User.digest_changed_at),
    ).where(col(User.digest_enabled).is_(True))  # fmt: skip
    async with rt.sessions() as session:
        due = []
        for row in (await session.execute(statement)).all():
            prefs = DigestPreferences(row.timezone, row.digest_hour, row.digest_minute,
                                      row.digest_weekdays_only)  # fmt: skip
            since = max(row.created_at, row.digest_changed_at or row.created_at)
            slot = due_slot(now, prefs, catch_up=catch_up, not_before=since)
            if slot is not None:
                due.append(DueUser(row.id, row.tenant_id, row.digest_channel, slot))
        taken = await _claimed(session, {d.slot.local_date for d in due})
    return [d for d in due if (d.user_id, d.slot.local_date) not in taken]


async def _claimed(session: AsyncSession, dates: set[date]) -> set[tuple[str, date]]:
    if not dates:
        return set()
    statement = select_columns(col(Digest.user_id), col(Digest.local_date)).where(
        col(Digest.type) == DigestType.DAILY, col(Digest.local_date).in_(dates)
    )
    return {(row.user_id, row.local_date) for row in (await session.execute(statement)).all()}


def _daily(due: DueUser, chosen: Chosen, now: datetime, send_empty: bool) -> Digest:
    """The day's digest, composed: generated with its items, or skipped when nothing is new.

    Every column is given (no default factories run): 10,000 of these are built per batch run.
    """
    skip = chosen.empty and not send_empty
    return Digest(
        id=new_id(),
        correlation_id=new_id(),
        created_at=utcnow(),
        attempts=0,
        tenant_id=due.tenant_id,
        user_id=due.user_id,
        type=DigestType.DAILY,
        local_date=due.slot.local_date,
        channel=due.channel,
        triggered_by=DigestTrigger.SCHEDULED,
        scheduled_for=due.slot.at,
        status=DigestStatus.SKIPPED if skip else DigestStatus.GENERATED,
        error="nothing_new" if skip else None,
        **_composed(chosen, now),
    )


async def _choose(rt: Runtime, batch: Sequence[DueUser], now: datetime) -> dict[str, Chosen]:
    async with rt.engine.connect() as connection:
        return await choose_new_many(
            connection, [(due.user_id, due.tenant_id) for due in batch], now=now,
            lookback=timedelta(days=rt.settings.digest_lookback_days),
        )  # fmt: skip


async def claim_daily(
    rt: Runtime, due: DueUser, *, now: datetime, chosen: Chosen | None = None
) -> Digest | None:
    """Insert the user's composed daily digest for the slot's date; None if it exists already."""
    if chosen is None:
        chosen = (await _choose(rt, [due], now))[due.user_id]
    digest = _daily(due, chosen, now, rt.settings.digest_send_empty)
    async with rt.sessions() as session:
        session.add(digest)
        try:
            await session.commit()
        except IntegrityError:
            await session.rollback()
            await _suppressed_claim(rt, session, due)
            return None
    _log_claimed(rt, [digest])
    return digest


async def _claim_many(rt: Runtime, batch: Sequence[DueUser], now: datetime) -> list[Digest]:
    """Compose and insert the batch in one transaction; if any was claimed meanwhile, one by one."""
    choices = await _choose(rt, batch, now)
    send_empty = rt.settings.digest_send_empty
    digests = [_daily(due, choices[due.user_id], now, send_empty) for due in batch]
    async with rt.sessions() as session:
        session.add_all(digests)
        try:
            await session.commit()
        except IntegrityError:
            await session.rollback()
        else:
            _log_claimed(rt, digests)
            return digests
    claimed = [await claim_daily(rt, due, now=now, chosen=choices[due.user_id]) for due in batch]
    return [digest for digest in claimed if digest is not None]


def _log_claimed(rt: Runtime, digests: Sequence[Digest]) -> None:
    for digest in digests:
        if digest.status == DigestStatus.GENERATED:
            _log_generated(rt, digest)
        else:
            log.info("digest_skipped", reason=digest.error, user_id=digest.user_id)


async def _suppressed_claim(rt: Runtime, session: AsyncSession, due: DueUser) -> None:
    winner = (
        await session.exec(
            select(Digest).where(
                Digest.user_id == due.user_id,
                Digest.local_date == due.slot.local_date,
                Digest.type == DigestType.DAILY,
            )
        )
    ).first()
    log.info("digest_duplicate_suppressed", stage="claim", user_id=due.user_id)
    rt.analytics.log_event(
        EventType.DIGEST_DUPLICATE_SUPPRESSED,
        user_id=due.user_id,
        tenant_id=due.tenant_id,
        correlation_id=winner.correlation_id if winner else None,
        metadata={
            "stage": "claim",
            "digest_id": winner.id if winner else None,
            "local_date": due.slot.local_date.isoformat(),
            "type": DigestType.DAILY,
        },
    )


async def schedule_due(rt: Runtime, *, now: datetime) -> list[Digest]:
    """Claim and compose every due user's daily digest; returns the ones this call claimed
    (generated, to be sent; or skipped, nothing new)."""
    due = await find_due(rt, now=now)
    claimed: list[Digest] = []
    for start in range(0, len(due), CLAIM_BATCH):
        claimed.extend(await _claim_many(rt, due[start : start + CLAIM_BATCH], now))
    if claimed:
        log.info("digests_claimed", count=len(claimed))
    return claimed


async def create_on_demand(
    rt: Runtime, user: User, *, channel: str | None, triggered_by: str, now: datetime
) -> Digest:
    """A digest asked for now (CLI, Slack /digest): any number per day."""
    digest = Digest(
        tenant_id=user.tenant_id,
        user_id=user.id,
        type=DigestType.ON_DEMAND,
        local_date=local_date(now, user.timezone),
        channel=channel or user.digest_channel,
        triggered_by=triggered_by,
    )
    async with rt.sessions() as session:
        session.add(digest)
        await session.commit()
    return digest


async def enqueue_send(rt: Runtime, digest: Digest, *, defer_s: float | None = None) -> None:
    """Queue `send_digest` for the digest (its job id is fixed: a second enqueue is refused)."""
    redis = rt.require_redis()
    if defer_s:  # a retry the caller could not wait for (the CLI)
        await redis.enqueue_job(
            SEND_DIGEST, digest.id, _job_id=send_digest_job_id(digest.id),
            _queue_name=rt.settings.queue_name, _defer_by=defer_s,
        )  # fmt: skip
        return
    await enqueue_once(
        redis, rt.analytics, queue_name=rt.settings.queue_name, function=SEND_DIGEST,
        job_id=send_digest_job_id(digest.id), args=(digest.id,), event_ids=_ids(digest),
    )  # fmt: skip


async def request_digest(
    rt: Runtime,
    user: User,
    *,
    channel: str | None = None,
    triggered_by: str = DigestTrigger.COMMAND,
    now: datetime | None = None,
) -> Digest:
    """An on-demand digest, sent by a worker (Slack `/digest now`): returns at once."""
    digest = await create_on_demand(
        rt, user, channel=channel, triggered_by=triggered_by, now=now or utcnow()
    )
    await enqueue_send(rt, digest)
    return digest


async def unfinished(rt: Runtime, *, now: datetime) -> list[Digest]:
    """Digests of the last two days that never ended (for re-enqueueing at worker start-up)."""
    statement = select(Digest).where(
        col(Digest.status).in_([DigestStatus.PENDING, DigestStatus.GENERATED]),
        col(Digest.created_at) >= now - timedelta(days=2),
    )
    async with rt.sessions() as session:
        return list((await session.exec(statement)).all())


# --- 2. which items are new -----------------------------------------------------------------

_ITEM_COLUMNS = (
    col(KnowledgeItem.id), col(KnowledgeItem.title), col(KnowledgeItem.summary),
    col(KnowledgeItem.key_points), col(KnowledgeItem.keywords), col(KnowledgeItem.source),
    col(KnowledgeItem.original_filename), col(KnowledgeItem.created_at),
    col(KnowledgeItem.token_count),
)  # fmt: skip
_FAILURE_COLUMNS = (
    col(FileRecord.id), col(FileRecord.original_filename), col(FileRecord.reason),
    col(FileRecord.reason_message), col(FileRecord.sha256),
)  # fmt: skip


def _item(row: Any) -> DigestItem:
    return DigestItem(
        id=row.id, title=row.title, summary=row.summary, key_points=row.key_points or [],
        keywords=row.keywords or [], source=row.source, filename=row.original_filename,
        created_at=row.created_at, token_count=row.token_count or 0,
    )  # fmt: skip


def _failure(row: Any) -> DigestFailure:
    return DigestFailure(row.id, row.original_filename, row.reason, row.reason_message, row.sha256)


async def choose_new_many(
    connection: AsyncConnection,
    users: Sequence[tuple[str, str]],
    *,
    now: datetime,
    lookback: timedelta,
) -> dict[str, Chosen]:
    """For each (user_id, tenant_id): the ids of their items and failed files in
    (now - lookback, now] that are in none of their sent or in-flight digests.

    Three queries for the whole batch, reading ids and times only.
    """
    tenant_of = dict(users)
    ids, lower = list(tenant_of), now - lookback
    seen: dict[str, set[str]] = {user_id: set() for user_id in ids}
    sent_ends: dict[str, list[datetime]] = {user_id: [] for user_id in ids}
    covered = await connection.execute(
        select_columns(
            col(Digest.user_id), col(Digest.item_ids), col(Digest.failure_ids),
            col(Digest.status), col(Digest.window_end),
        ).where(
            col(Digest.user_id).in_(ids), col(Digest.status).in_(IN_FLIGHT_OR_SENT),
            or_(col(Digest.window_end) >= lower, col(Digest.window_end).is_(None)),
        )
    )  # fmt: skip
    for row in covered.all():
        seen[row.user_id].update(row.item_ids, row.failure_ids)
        if row.status == DigestStatus.SENT and row.window_end is not None:
            sent_ends[row.user_id].append(row.window_end)
    chosen = {uid: Chosen([], [], max(sent_ends[uid], default=None)) for uid in ids}
    for model, into in ((KnowledgeItem, "item_ids"), (FileRecord, "failure_ids")):
        for row in await _new_rows(connection, model, ids, lower, now):
            if row.tenant_id == tenant_of[row.user_id] and row.id not in seen[row.user_id]:
                getattr(chosen[row.user_id], into).append(row.id)
    return chosen


async def _new_rows(
    connection: AsyncConnection, model: Any, user_ids: Sequence[str], lower: datetime,
    now: datetime,
) -> Sequence[Any]:  # fmt: skip
    """Ids of the users' items (created) or failed files (finished) in (lower, now], oldest first.

    Sorted here, not in SQL: an ORDER BY on the time column tempts SQLite to walk that column's
    index over every user's rows instead of looking up the users.
    """
    moment: Any = col(model.created_at if model is KnowledgeItem else model.completed_at)
    statement = select_columns(
        model.id, model.user_id, model.tenant_id, moment.label("moment")
    ).where(model.user_id.in_(user_ids), moment > lower, moment <= now)
    if model is FileRecord:
        statement = statement.where(col(FileRecord.status).in_(FAILED_FILES))
    return sorted((await connection.execute(statement)).all(), key=lambda row: row.moment)


async def choose_new(
    connection: AsyncConnection, *, user_id: str, tenant_id: str, now: datetime, lookback: timedelta
) -> Chosen:
    """choose_new_many for one user."""
    found = await choose_new_many(connection, [(user_id, tenant_id)], now=now, lookback=lookback)
    return found[user_id]


async def load_selections(
    connection: AsyncConnection, digests: Sequence[Digest]
) -> dict[str, Selection]:
    """The items and failures each generated digest holds, by digest id (two queries)."""
    item_ids = {i for d in digests for i in d.item_ids}
    failure_ids = {i for d in digests for i in d.failure_ids}
    items: dict[str, DigestItem] = {}
    failures: dict[str, DigestFailure] = {}
    if item_ids:
        statement = select_columns(*_ITEM_COLUMNS).where(col(KnowledgeItem.id).in_(item_ids))
        items = {row.id: _item(row) for row in (await connection.execute(statement)).all()}
    if failure_ids:
        failed = select_columns(*_FAILURE_COLUMNS).where(col(FileRecord.id).in_(failure_ids))
        failures = {row.id: _failure(row) for row in (await connection.execute(failed)).all()}
    return {
        d.id: Selection(
            sorted((items[i] for i in d.item_ids if i in items), key=lambda i: i.created_at),
            [failures[i] for i in d.failure_ids if i in failures],
            d.window_start,
        )
        for d in digests
    }


async def load_selection(connection: AsyncConnection, digest: Digest) -> Selection:
    """The items and failures a generated digest holds."""
    return (await load_selections(connection, [digest]))[digest.id]


# --- state changes (each a conditional update: the first run wins) ---------------------------


async def _transition(
    rt: Runtime,
    digest_id: str,
    expected: Sequence[str],
    *,
    where: Sequence[Any] = (),
    **values: Any,
) -> bool:
    """Apply `values` if the digest is still in an `expected` status; True if this call did."""
    async with rt.engine.begin() as connection:
        result = await connection.execute(
            update(DIGEST_TABLE)
            .where(col(Digest.id) == digest_id, col(Digest.status).in_(expected), *where)
            .values(**values)
        )
        return bool(result.rowcount == 1)


def lease_for(rt: Runtime) -> timedelta:
    """How long one delivery attempt may hold a digest: arq's bound on the job, and a little."""
    return timedelta(seconds=rt.settings.job_timeout_s + 10)


async def _busy(rt: Runtime, digest: Digest, now: datetime) -> Outcome:
    """Another run of this digest is ahead: it finished or owns the retries (a duplicate), or it
    is sending right now (look again when its lease ends)."""
    fresh = await _reload(rt, digest.id) or digest
    if fresh.status == DigestStatus.GENERATED and fresh.lease_until and fresh.lease_until > now:
        wait = max((fresh.lease_until - now).total_seconds(), 1.0)
        log.info("digest_in_progress", retry_in_s=wait)
        return Outcome(digest.id, "deferred", reason="in_progress", retry_in_s=wait)
    return _suppressed(rt, fresh, "deliver")


async def _reload(rt: Runtime, digest_id: str) -> Digest | None:
    async with rt.sessions() as session:
        return await session.get(Digest, digest_id)


def _suppressed(rt: Runtime, digest: Digest, stage: str) -> Outcome:
    log.info("digest_duplicate_suppressed", stage=stage, status=digest.status)
    rt.analytics.log_event(
        EventType.DIGEST_DUPLICATE_SUPPRESSED,
        **_ids(digest),
        metadata={
            "stage": stage,
            "digest_id": digest.id,
            "status": digest.status,
            "local_date": digest.local_date.isoformat(),
            "type": digest.type,
        },
    )
    return Outcome(digest.id, "suppressed", reason=f"already_{digest.status}")


async def _fail(
    rt: Runtime, digest: Digest, reason: str, message: str, *, now: datetime, attempt: int
) -> Outcome:
    pending = (DigestStatus.PENDING, DigestStatus.GENERATED)
    if not await _transition(
        rt, digest.id, pending, status=DigestStatus.FAILED, error=reason[:64],
        error_message=message, updated_at=now, lease_until=None,
    ):  # fmt: skip
        return Outcome(digest.id, "suppressed", reason="already_final")
    log.warning("digest_failed", reason=reason, attempt=attempt)
    rt.analytics.log_event(
        EventType.DIGEST_FAILED,
        **_ids(digest),
        metadata={
            "digest_id": digest.id, "reason": reason, "message": message,
            "channel": digest.channel, "type": digest.type, "attempt": attempt,
        },
    )  # fmt: skip
    return Outcome(digest.id, "failed", reason=reason, message=message)


async def _skip(
    rt: Runtime, digest: Digest, reason: str, *, now: datetime, expected: Sequence[str]
) -> Outcome:
    if not await _transition(
        rt,
        digest.id,
        expected,
        status=DigestStatus.SKIPPED,
        error=reason,
        updated_at=now,
        lease_until=None,
    ):
        fresh = await _reload(rt, digest.id)
        return _suppressed(rt, fresh or digest, "skip")
    log.info("digest_skipped", reason=reason)
    return Outcome(digest.id, "skipped", reason=reason)


async def _mark_sent(rt: Runtime, digest: Digest, ref: str, attempt: int, now: datetime) -> Outcome:
    await _transition(
        rt, digest.id, (DigestStatus.GENERATED,), status=DigestStatus.SENT, sent_at=now,
        delivery_ref=ref, error=None, error_message=None, updated_at=now, lease_until=None,
    )  # fmt: skip
    via = ("relay" if ref == "relay" else "outbox") if digest.channel == "email" else digest.channel
    log.info("digest_sent", channel=digest.channel, via=via, attempt=attempt)
    rt.analytics.log_event(
        EventType.DIGEST_SENT,
        **_ids(digest),
        metadata={
            "digest_id": digest.id, "item_count": digest.item_count,
            "failure_count": digest.failure_count, "channel": digest.channel, "via": via,
            "type": digest.type, "attempt": attempt,
        },
    )  # fmt: skip
    return Outcome(digest.id, "sent", delivery_ref=ref)


# --- composing and rendering -----------------------------------------------------------------


def _composed(chosen: Chosen, now: datetime) -> dict[str, Any]:
    """The columns that record what a digest covers."""
    return {
        "item_ids": chosen.item_ids, "failure_ids": chosen.failure_ids,
        "item_count": len(chosen.item_ids), "failure_count": len(chosen.failure_ids),
        "window_start": chosen.since, "window_end": now, "updated_at": now,
    }  # fmt: skip


async def _compose_and_lease(rt: Runtime, digest: Digest, chosen: Chosen, now: datetime) -> bool:
    """pending → generated: the items chosen and the first attempt taken, in one update."""
    values = {
        **_composed(chosen, now), "status": DigestStatus.GENERATED, "attempts": 1,
        "lease_until": now + lease_for(rt),
    }  # fmt: skip
    if not await _transition(rt, digest.id, (DigestStatus.PENDING,), **values):
        return False
    for key, value in values.items():
        setattr(digest, key, value)
    _log_generated(rt, digest)
    return True


def _log_generated(rt: Runtime, digest: Digest) -> None:
    log.info("digest_generated", items=digest.item_count, failures=digest.failure_count)
    rt.analytics.log_event(
        EventType.DIGEST_GENERATED,
        **_ids(digest),
        metadata={
            "digest_id": digest.id, "type": digest.type, "triggered_by": digest.triggered_by,
            "channel": digest.channel, "item_count": digest.item_count,
            "failure_count": digest.failure_count, "local_date": digest.local_date.isoformat(),
        },
    )  # fmt: skip


def render_outgoing(
    rt: Runtime, kit: DigestKit, digest: Digest, user: User, selection: Selection
) -> OutgoingDigest:
    """Run the DigestAgent over the selection and render every form a channel may send."""
    content = kit.agent.build(selection.items, selection.failures)
    token = kit.tokens.make(user.id)
    view = DigestView(
        content=content,
        recipient=user.email or user.display_name or "you",
        local_date=digest.local_date,
        timezone=user.timezone,
        since=digest.window_start,
        unsubscribe_url=unsubscribe_url(rt.settings, token),
        reference=digest.correlation_id,
        on_demand=digest.type == DigestType.ON_DEMAND,
        daily_on=user.digest_enabled,
        slack_linked=bool(user.slack_user_id),
    )
    return OutgoingDigest(
        digest_id=digest.id, correlation_id=digest.correlation_id, tenant_id=digest.tenant_id,
        user_id=user.id, email=user.email, slack_user_id=user.slack_user_id,
        display_name=user.display_name, kind=digest.type, local_date=digest.local_date,
        item_count=content.item_count, failure_count=content.failure_count,
        unsubscribe_url=view.unsubscribe_url,
        unsubscribe_mailto=unsubscribe_mailto(rt.settings, token), view=view, env=kit.env,
    )  # fmt: skip


# --- 3. delivery -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Leased:
    """A generated digest whose next attempt this run holds, with its user and items."""

    digest: Digest
    user: User | None
    selection: Selection


async def _lease_generated(rt: Runtime, digest_id: str, now: datetime) -> Leased | None:
    """Take a generated digest's next attempt if no other run holds it, and read what sending
    needs, in one transaction (UPDATE … RETURNING works on SQLite and PostgreSQL alike)."""
    lease = (
        update(DIGEST_TABLE)
        .where(
            col(Digest.id) == digest_id,
            col(Digest.status) == DigestStatus.GENERATED,
            or_(col(Digest.lease_until).is_(None), col(Digest.lease_until) <= now),
        )
        .values(attempts=Digest.attempts + 1, lease_until=now + lease_for(rt), updated_at=now)
        .returning(*DIGEST_TABLE.c)
    )
    async with rt.engine.begin() as connection:
        row = (await connection.execute(lease)).first()
        if row is None:
            return None
        digest = Digest(**row._mapping)
        owner = select_columns(USER_TABLE).where(col(User.id) == digest.user_id)
        user_row = (await connection.execute(owner)).first()
        selection = await load_selection(connection, digest)
    return Leased(digest, User(**user_row._mapping) if user_row else None, selection)


async def deliver(rt: Runtime, kit: DigestKit, digest_id: str, *, now: datetime) -> Outcome:
    """One delivery attempt of a digest; safe to call again (duplicates are suppressed)."""
    leased = await _lease_generated(rt, digest_id, now)  # the usual case: the cron composed it
    if leased is None:
        return await _deliver_other(rt, kit, digest_id, now)
    digest, user = leased.digest, leased.user
    bind_digest(digest)
    if user is None:
        return await _fail(rt, digest, "user_not_found", "The user no longer exists.",
                           now=now, attempt=digest.attempts)  # fmt: skip
    return await _send(rt, kit, digest, user, leased.selection, now=now)


async def _deliver_other(rt: Runtime, kit: DigestKit, digest_id: str, now: datetime) -> Outcome:
    """Not leased: missing, finished, held by another run, or pending (on demand)."""
    async with rt.sessions() as session:
        digest = await session.get(Digest, digest_id)
        user = await session.get(User, digest.user_id) if digest is not None else None
    if digest is None:
        log.warning("digest_missing", digest_id=digest_id)
        return Outcome(digest_id, "missing")
    bind_digest(digest)
    if digest.status != DigestStatus.PENDING:
        return await _busy(rt, digest, now)
    if user is None:
        return await _fail(rt, digest, "user_not_found", "The user no longer exists.",
                           now=now, attempt=digest.attempts)  # fmt: skip
    return await _deliver_new(rt, kit, digest, user, now)


async def _new_for(rt: Runtime, user: User, now: datetime) -> Chosen:
    async with rt.engine.connect() as connection:
        return await choose_new(
            connection, user_id=user.id, tenant_id=user.tenant_id, now=now,
            lookback=timedelta(days=rt.settings.digest_lookback_days),
        )  # fmt: skip


async def _selection_of(rt: Runtime, digest: Digest) -> Selection:
    async with rt.engine.connect() as connection:
        return await load_selection(connection, digest)


async def _deliver_new(
    rt: Runtime, kit: DigestKit, digest: Digest, user: User, now: datetime
) -> Outcome:
    """An on-demand digest: choose its items and take the first attempt at once, then send
    (even with nothing new: the person asked, and gets a short note)."""
    if not await _compose_and_lease(rt, digest, await _new_for(rt, user, now), now):
        return await _busy(rt, digest, now)  # another run composed it first
    return await _send(rt, kit, digest, user, await _selection_of(rt, digest), now=now)


def _unwanted(digest: Digest, user: User) -> bool:
    """A daily digest for a user who turned digests off since it was claimed."""
    return digest.type == DigestType.DAILY and not user.digest_enabled


async def _send(
    rt: Runtime, kit: DigestKit, digest: Digest, user: User, selection: Selection, *,
    now: datetime,
) -> Outcome:  # fmt: skip
    """With the lease held: hand the rendered digest to its channel's sender, record the end."""
    attempt = digest.attempts
    if _unwanted(digest, user):
        return await _skip(rt, digest, "digest_disabled", now=now,
                           expected=(DigestStatus.GENERATED,))  # fmt: skip
    sender = kit.senders.get(digest.channel)
    if sender is None:
        message = f"No sender is configured for the {digest.channel} channel." + (
            " Set CONTENTMIND_SLACK_BOT_TOKEN for this process."
            if digest.channel == "slack"
            else ""
        )
        return await _fail(rt, digest, f"{digest.channel}_not_configured", message,
                           now=now, attempt=attempt)  # fmt: skip
    try:
        ref = await sender.send(render_outgoing(rt, kit, digest, user, selection))
    except DeliveryRefused as error:
        return await _fail(rt, digest, error.reason, error.user_message, now=now, attempt=attempt)
    except DeliveryDeferred as error:
        return await _defer(rt, digest, error, attempt=attempt, now=now)
    except Exception as error:  # a sender's bug or an unforeseen failure: retried, then failed
        log.exception("digest_sender_error", error_type=type(error).__name__)
        deferred = DeliveryDeferred("The digest could not be delivered.", reason="delivery_error")
        return await _defer(rt, digest, deferred, attempt=attempt, now=now)
    return await _mark_sent(rt, digest, ref, attempt, now)


async def _defer(
    rt: Runtime, digest: Digest, error: DeliveryDeferred, *, attempt: int, now: datetime
) -> Outcome:
    settings = rt.settings
    if attempt >= settings.digest_max_tries:
        return await _fail(rt, digest, error.reason, error.user_message, now=now, attempt=attempt)
    delay = error.retry_after_s or settings.digest_retry_backoff_s * attempt
    await _transition(
        rt, digest.id, (DigestStatus.GENERATED,), error=error.reason[:64],
        error_message=error.user_message, updated_at=now, lease_until=None,
    )  # fmt: skip
    log.info("digest_retrying", reason=error.reason, attempt=attempt, retry_in_s=delay)
    return Outcome(digest.id, "deferred", reason=error.reason, retry_in_s=delay,
                   message=error.user_message)  # fmt: skip


async def preview(
    rt: Runtime, kit: DigestKit, user: User, *, channel: str | None, now: datetime
) -> OutgoingDigest:
    """An on-demand digest rendered but not sent (the CLI without --send); it covers nothing."""
    digest = await create_on_demand(
        rt, user, channel=channel, triggered_by=DigestTrigger.CLI, now=now
    )
    bind_digest(digest)
    chosen = await _new_for(rt, user, now)
    values = {**_composed(chosen, now), "status": DigestStatus.SKIPPED, "error": "preview"}
    await _transition(rt, digest.id, (DigestStatus.PENDING,), **values)
    for key, value in values.items():
        setattr(digest, key, value)
    _log_generated(rt, digest)
    return render_outgoing(rt, kit, digest, user, await _selection_of(rt, digest))
