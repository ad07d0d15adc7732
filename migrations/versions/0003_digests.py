"""digests

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03

One row per digest a user is owed, with a partial unique index that allows exactly one daily
digest per user and local day (on-demand digests are not limited); and the minute of the
user's preferred digest time.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DAILY_ONLY = sa.text("type = 'daily'")


def upgrade() -> None:
    op.create_table(
        "digest",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("tenant_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("user_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("type", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("local_date", sa.Date(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("channel", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("triggered_by", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("item_ids", sa.JSON(), nullable=False),
        sa.Column("failure_ids", sa.JSON(), nullable=False),
        sa.Column("item_count", sa.Integer(), nullable=False),
        sa.Column("failure_count", sa.Integer(), nullable=False),
        sa.Column("window_start", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("window_end", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("scheduled_for", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("lease_until", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("error", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("delivery_ref", sa.Text(), nullable=True),
        sa.Column("correlation_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("sent_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenant.id"]),
        sa.ForeignKeyConstraint(["user_id"], ["app_user.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("digest", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_digest_correlation_id"), ["correlation_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_digest_tenant_id"), ["tenant_id"], unique=False)
        batch_op.create_index("ix_digest_local_date", ["local_date", "type"], unique=False)
        batch_op.create_index(
            "ix_digest_user_status", ["user_id", "status", "window_end"], unique=False
        )
        batch_op.create_index(
            "uq_digest_daily",
            ["user_id", "local_date", "type"],
            unique=True,
            sqlite_where=DAILY_ONLY,
            postgresql_where=DAILY_ONLY,
        )

    with op.batch_alter_table("app_user", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("digest_minute", sa.Integer(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("app_user", schema=None) as batch_op:
        batch_op.drop_column("digest_minute")
    with op.batch_alter_table("digest", schema=None) as batch_op:
        batch_op.drop_index("uq_digest_daily")
        batch_op.drop_index("ix_digest_user_status")
        batch_op.drop_index("ix_digest_local_date")
        batch_op.drop_index(batch_op.f("ix_digest_tenant_id"))
        batch_op.drop_index(batch_op.f("ix_digest_correlation_id"))
    op.drop_table("digest")
