"""Inbound messages and the files taken from them (or from any other door)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from models.base import new_id, utcnow


class FileStatus(StrEnum):
    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    SKIPPED = "skipped"

    @property
    def is_final(self) -> bool:
        return self in (FileStatus.COMPLETED, FileStatus.FAILED, FileStatus.SKIPPED)


class FileSource(StrEnum):
    EMAIL = "email"
    SLACK = "slack"
    API = "api"
    CLI = "cli"


class MessageStatus(StrEnum):
    RECEIVED = "received"
    PARSED = "parsed"
    FAILED = "failed"


class InboundMessage(SQLModel, table=True):
    """One email as received (SMTP or IMAP); the raw bytes live in storage under raw_key."""

    __tablename__ = "inbound_message"
    __table_args__ = (UniqueConstraint("tenant_id", "dedupe_key", name="uq_inbound_dedupe"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    tenant_id: str = Field(foreign_key="tenant.id", index=True, max_length=32)
    user_id: str = Field(foreign_key="app_user.id", index=True, max_length=32)
    channel: str = Field(max_length=16)  # smtp | imap
    dedupe_key: str = Field(max_length=255)  # Message-ID, else sha256 of the raw bytes
    message_id: str | None = Field(default=None, max_length=998)
    raw_key: str = Field(max_length=128)
    raw_size: int
    sender: str = Field(max_length=320)
    subject: str | None = Field(default=None, sa_column=Column(Text))
    body_text: str | None = Field(default=None, sa_column=Column(Text))
    status: str = Field(default=MessageStatus.RECEIVED, max_length=16)
    defects: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    correlation_id: str = Field(max_length=32, index=True)
    reply_sent_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)


class FileRecord(SQLModel, table=True):
    """One file on its way to becoming knowledge."""

    __tablename__ = "file_record"
    __table_args__ = (
        UniqueConstraint("tenant_id", "source", "external_id", name="uq_file_external"),
    )

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    tenant_id: str = Field(foreign_key="tenant.id", index=True, max_length=32)
    user_id: str = Field(foreign_key="app_user.id", index=True, max_length=32)
    source: str = Field(max_length=16)
    external_id: str | None = Field(default=None, max_length=255)
    inbound_message_id: str | None = Field(
        default=None, foreign_key="inbound_message.id", index=True, max_length=32
    )
    original_filename: str = Field(sa_column=Column(Text, nullable=False))
    declared_type: str | None = Field(default=None, max_length=255)
    detected_type: str | None = Field(default=None, max_length=255)
    size: int = 0
    sha256: str = Field(max_length=64, index=True)
    storage_key: str | None = Field(default=None, max_length=128)
    provenance: str | None = Field(default=None, max_length=255)
    status: str = Field(default=FileStatus.PENDING, max_length=16, index=True)
    reason: str | None = Field(default=None, max_length=64)
    reason_message: str | None = Field(default=None, sa_column=Column(Text))
    attempts: int = 0
    knowledge_id: str | None = Field(default=None, max_length=32)
    correlation_id: str = Field(max_length=32, index=True)
    details: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, index=True)
    updated_at: datetime = Field(default_factory=utcnow)
    completed_at: datetime | None = None
