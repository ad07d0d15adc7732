"""Append-only analytics events."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, Integer
from sqlmodel import Field, SQLModel

from models.base import utcnow


class AnalyticsEvent(SQLModel, table=True):
    """One interaction: who, which tenant, which correlation id, what happened."""

    __tablename__ = "analytics_event"
    __table_args__ = (
        Index("ix_event_tenant_created", "tenant_id", "created_at"),
        Index("ix_event_user_created", "user_id", "created_at"),
        Index("ix_event_type_created", "event_type", "created_at"),
    )

    id: int | None = Field(
        default=None,
        sa_column=Column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    )
    event_type: str = Field(max_length=64)
    user_id: str | None = Field(default=None, max_length=32)
    tenant_id: str | None = Field(default=None, max_length=32)
    correlation_id: str | None = Field(default=None, max_length=32, index=True)
    event_metadata: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column("metadata", JSON, nullable=False)
    )
    created_at: datetime = Field(default_factory=utcnow)
