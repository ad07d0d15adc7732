"""imap ingest

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03

The IMAP poller's bookkeeping: one row per mailbox message handled, keyed by (account, folder,
UIDVALIDITY, UID) with its Message-ID, and the last UID handled per folder.

Autogenerate also proposes dropping SQLite's FTS5 shadow tables (knowledge_fts*), which it does
not know are created by migration 0001; those lines were removed.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "imap_folder_state",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("account", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("folder", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("uidvalidity", sa.BigInteger(), nullable=False),
        sa.Column("last_uid", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("account", "folder", name="uq_imap_folder"),
    )
    op.create_table(
        "imap_processed_message",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("account", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("folder", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("uidvalidity", sa.BigInteger(), nullable=False),
        sa.Column("uid", sa.BigInteger(), nullable=False),
        sa.Column("message_id", sqlmodel.sql.sqltypes.AutoString(length=998), nullable=True),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("inbound_message_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["inbound_message_id"], ["inbound_message.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("account", "folder", "uidvalidity", "uid", name="uq_imap_processed"),
    )
    with op.batch_alter_table("imap_processed_message", schema=None) as batch_op:
        batch_op.create_index(
            "ix_imap_processed_message_id", ["account", "folder", "message_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_imap_processed_message_inbound_message_id"),
            ["inbound_message_id"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("imap_processed_message", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_imap_processed_message_inbound_message_id"))
        batch_op.drop_index("ix_imap_processed_message_id")
    op.drop_table("imap_processed_message")
    op.drop_table("imap_folder_state")
