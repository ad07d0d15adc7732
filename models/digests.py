"""Digests: one row per digest a user is owed (daily: exactly one per local day) and its fate."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import JSON, Column, Index, Text, text
from sqlmodel import Field, SQLModel

from models.base import new_id, utcnow


class DigestType(StrEnum):
    DAILY = "daily"
    ON_DEMAND = "on_demand"


class DigestStatus(StrEnum):
    PENDING = "pending"  # claimed for its day, items not chosen yet
    GENERATED = "generated"  # items chosen; being delivered (or printed only, on demand)
    SENT = "sent"
    FAILED = "failed"
    SKIPPED = "skipped"  # nothing new (and no "nothing new" note wanted), or digests turned off

    @property
    def is_final(self) -> bool:
        return self in (DigestStatus.SENT, DigestStatus.FAILED, DigestStatus.SKIPPED)


class DigestTrigger(StrEnum):
    SCHEDULED = "scheduled"
    COMMAND = "command"  # the Slack /digest command
    CLI = "cli"


class Digest(SQLModel, table=True):
    """A digest for one user: which items it covers, where it went, and how it ended.

    The partial unique index makes a daily digest a fact of the database: whichever worker,
    restart or doubled cron run inserts second for the same user and local day gets an
    IntegrityError and sends nothing.
    """

    __tablename__ = "digest"
    __table_args__ = (
        Index(
            "uq_digest_daily",
            "user_id",
            "local_date",
            "type",
            unique=True,
            sqlite_where=text("type = 'daily'"),
            postgresql_where=text("type = 'daily'"),
        ),
        Index("ix_digest_user_status", "user_id", "status", "window_end"),
        Index("ix_digest_local_date", "local_date", "type"),
    )

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    tenant_id: str = Field(foreign_key="tenant.id", index=True, max_length=32)
    user_id: str = Field(foreign_key="app_user.id", max_length=32)
    type: str = Field(default=DigestType.DAILY, max_length=16)
    local_date: date
    status: str = Field(default=DigestStatus.PENDING, max_length=16)
    channel: str = Field(default="email", max_length=16)
    triggered_by: str = Field(default=DigestTrigger.SCHEDULED, max_length=16)
    item_ids: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    failure_ids: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    item_count: int = 0
    failure_count: int = 0
    window_start: datetime | None = None  # items after this (None: since the beginning)
    window_end: datetime | None = None  # ... up to this; the next digest starts here
    scheduled_for: datetime | None = None  # the user's local slot, in UTC (daily only)
    attempts: int = 0
    lease_until: datetime | None = None  # an attempt in progress holds the digest until then
    error: str | None = Field(default=None, max_length=64)  # a reason code
    error_message: str | None = Field(default=None, sa_column=Column(Text))
    delivery_ref: str | None = Field(default=None, sa_column=Column(Text))
    correlation_id: str = Field(default_factory=new_id, max_length=32, index=True)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    sent_at: datetime | None = None
