"""IMAP ingest bookkeeping: which mailbox messages were handled, and where each folder stands."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from models.base import new_id, utcnow


class ImapMessageStatus(StrEnum):
    OK = "ok"  # handed to intake (or recognised as already received)
    QUARANTINED = "quarantined"  # could not be handled; moved to the error folder or flagged


class ImapProcessedMessage(SQLModel, table=True):
    """One mailbox message handled once: keyed by (account, folder, UIDVALIDITY, UID).

    UIDs are only meaningful within one UIDVALIDITY of one folder; the Message-ID lets a rescan
    after a UIDVALIDITY change recognise messages already handled under their old UIDs.
    """

    __tablename__ = "imap_processed_message"
    __table_args__ = (
        UniqueConstraint("account", "folder", "uidvalidity", "uid", name="uq_imap_processed"),
        Index("ix_imap_processed_message_id", "account", "folder", "message_id"),
    )

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    account: str = Field(max_length=255)
    folder: str = Field(max_length=255)
    uidvalidity: int = Field(sa_column=Column(BigInteger, nullable=False))  # 32-bit unsigned
    uid: int = Field(sa_column=Column(BigInteger, nullable=False))
    message_id: str | None = Field(default=None, max_length=998)
    status: str = Field(max_length=16)
    reason: str | None = Field(default=None, max_length=64)  # why it was quarantined
    inbound_message_id: str | None = Field(
        default=None, foreign_key="inbound_message.id", index=True, max_length=32
    )
    created_at: datetime = Field(default_factory=utcnow)


class ImapFolderState(SQLModel, table=True):
    """Where the poller stands in one folder: its UIDVALIDITY and the last UID fully handled."""

    __tablename__ = "imap_folder_state"
    __table_args__ = (UniqueConstraint("account", "folder", name="uq_imap_folder"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    account: str = Field(max_length=255)
    folder: str = Field(max_length=255)
    uidvalidity: int = Field(sa_column=Column(BigInteger, nullable=False))
    last_uid: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    updated_at: datetime = Field(default_factory=utcnow)
