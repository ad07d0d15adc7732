"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-12-03

Tables for tenants, users, inbound mail, files, knowledge and analytics events, plus
full-text search: an FTS5 table on SQLite, a weighted tsvector column with a GIN index on
PostgreSQL.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


SQLITE_FTS = (
    "CREATE VIRTUAL TABLE knowledge_fts USING fts5("
    "item_id UNINDEXED, tenant_id UNINDEXED, title, summary, keywords, body, "
    "tokenize = 'porter unicode61 remove_diacritics 2')"
)
POSTGRES_TSVECTOR = (
    "ALTER TABLE knowledge_item ADD COLUMN search_vector tsvector GENERATED ALWAYS AS ("
    "setweight(to_tsvector('english', coalesce(title, '')), 'A') || "
    "setweight(to_tsvector('english', coalesce(summary, '')), 'B') || "
    "setweight(to_tsvector('english', left(coalesce(full_text, ''), 400000)), 'C')"
    ") STORED"
)


def upgrade() -> None:
    op.create_table(
        "analytics_event",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("event_type", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("user_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("tenant_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("correlation_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("analytics_event", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_analytics_event_correlation_id"), ["correlation_id"], unique=False
        )
        batch_op.create_index("ix_event_tenant_created", ["tenant_id", "created_at"], unique=False)
        batch_op.create_index("ix_event_type_created", ["event_type", "created_at"], unique=False)
        batch_op.create_index("ix_event_user_created", ["user_id", "created_at"], unique=False)

    op.create_table(
        "tenant",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("email_domain", sqlmodel.sql.sqltypes.AutoString(length=253), nullable=True),
        sa.Column("slack_team_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("email_domain"),
        sa.UniqueConstraint("slack_team_id"),
    )
    op.create_table(
        "app_user",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("tenant_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("email", sqlmodel.sql.sqltypes.AutoString(length=320), nullable=True),
        sa.Column("display_name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("slack_user_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("timezone", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("digest_enabled", sa.Boolean(), nullable=False),
        sa.Column("digest_hour", sa.Integer(), nullable=False),
        sa.Column("digest_weekdays_only", sa.Boolean(), nullable=False),
        sa.Column("digest_channel", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenant.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("email"),
    )
    with op.batch_alter_table("app_user", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_app_user_slack_user_id"), ["slack_user_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_app_user_tenant_id"), ["tenant_id"], unique=False)

    op.create_table(
        "inbound_message",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("tenant_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("user_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("channel", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("dedupe_key", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("message_id", sqlmodel.sql.sqltypes.AutoString(length=998), nullable=True),
        sa.Column("raw_key", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("raw_size", sa.Integer(), nullable=False),
        sa.Column("sender", sqlmodel.sql.sqltypes.AutoString(length=320), nullable=False),
        sa.Column("subject", sa.Text(), nullable=True),
        sa.Column("body_text", sa.Text(), nullable=True),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("defects", sa.JSON(), nullable=False),
        sa.Column("correlation_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("reply_sent_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenant.id"],
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["app_user.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("tenant_id", "dedupe_key", name="uq_inbound_dedupe"),
    )
    with op.batch_alter_table("inbound_message", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_inbound_message_correlation_id"), ["correlation_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_inbound_message_tenant_id"), ["tenant_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_inbound_message_user_id"), ["user_id"], unique=False)

    op.create_table(
        "knowledge_item",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("tenant_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("user_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("file_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("key_points", sa.JSON(), nullable=False),
        sa.Column("keywords", sa.JSON(), nullable=False),
        sa.Column("full_text", sa.Text(), nullable=False),
        sa.Column("token_count", sa.Integer(), nullable=False),
        sa.Column("tokens_used", sa.Integer(), nullable=False),
        sa.Column("backend", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("original_filename", sa.Text(), nullable=False),
        sa.Column("provenance", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenant.id"],
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["app_user.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("tenant_id", "sha256", name="uq_knowledge_content"),
    )
    with op.batch_alter_table("knowledge_item", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_knowledge_item_created_at"), ["created_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_knowledge_item_file_id"), ["file_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_knowledge_item_tenant_id"), ["tenant_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_knowledge_item_user_id"), ["user_id"], unique=False)

    op.create_table(
        "file_record",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("tenant_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("user_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("external_id", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
        sa.Column("inbound_message_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("original_filename", sa.Text(), nullable=False),
        sa.Column("declared_type", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
        sa.Column("detected_type", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("storage_key", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True),
        sa.Column("provenance", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("reason_message", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("knowledge_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("correlation_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("completed_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["inbound_message_id"],
            ["inbound_message.id"],
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenant.id"],
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["app_user.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("tenant_id", "source", "external_id", name="uq_file_external"),
    )
    with op.batch_alter_table("file_record", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_file_record_correlation_id"), ["correlation_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_file_record_created_at"), ["created_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_file_record_inbound_message_id"), ["inbound_message_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_file_record_sha256"), ["sha256"], unique=False)
        batch_op.create_index(batch_op.f("ix_file_record_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_file_record_tenant_id"), ["tenant_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_file_record_user_id"), ["user_id"], unique=False)

    _create_search_index()


def _create_search_index() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute(SQLITE_FTS)
    else:
        op.execute(POSTGRES_TSVECTOR)
        op.execute("CREATE INDEX ix_knowledge_search ON knowledge_item USING gin (search_vector)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE IF EXISTS knowledge_fts")
    with op.batch_alter_table("file_record", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_file_record_user_id"))
        batch_op.drop_index(batch_op.f("ix_file_record_tenant_id"))
        batch_op.drop_index(batch_op.f("ix_file_record_status"))
        batch_op.drop_index(batch_op.f("ix_file_record_sha256"))
        batch_op.drop_index(batch_op.f("ix_file_record_inbound_message_id"))
        batch_op.drop_index(batch_op.f("ix_file_record_created_at"))
        batch_op.drop_index(batch_op.f("ix_file_record_correlation_id"))

    op.drop_table("file_record")
    with op.batch_alter_table("knowledge_item", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_knowledge_item_user_id"))
        batch_op.drop_index(batch_op.f("ix_knowledge_item_tenant_id"))
        batch_op.drop_index(batch_op.f("ix_knowledge_item_file_id"))
        batch_op.drop_index(batch_op.f("ix_knowledge_item_created_at"))

    op.drop_table("knowledge_item")
    with op.batch_alter_table("inbound_message", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_inbound_message_user_id"))
        batch_op.drop_index(batch_op.f("ix_inbound_message_tenant_id"))
        batch_op.drop_index(batch_op.f("ix_inbound_message_correlation_id"))

    op.drop_table("inbound_message")
    with op.batch_alter_table("app_user", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_app_user_tenant_id"))
        batch_op.drop_index(batch_op.f("ix_app_user_slack_user_id"))

    op.drop_table("app_user")
    op.drop_table("tenant")
    with op.batch_alter_table("analytics_event", schema=None) as batch_op:
        batch_op.drop_index("ix_event_user_created")
        batch_op.drop_index("ix_event_type_created")
        batch_op.drop_index("ix_event_tenant_created")
        batch_op.drop_index(batch_op.f("ix_analytics_event_correlation_id"))

    op.drop_table("analytics_event")
