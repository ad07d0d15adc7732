"""Knowledge items: what a file became."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from models.base import new_id, utcnow


class KnowledgeItem(SQLModel, table=True):
    """A searchable summary of one file's content, scoped to a tenant."""

    __tablename__ = "knowledge_item"
    __table_args__ = (UniqueConstraint("tenant_id", "sha256", name="uq_knowledge_content"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    tenant_id: str = Field(foreign_key="tenant.id", index=True, max_length=32)
    user_id: str = Field(foreign_key="app_user.id", index=True, max_length=32)
    file_id: str = Field(max_length=32, index=True)
    sha256: str = Field(max_length=64)
    title: str = Field(sa_column=Column(Text, nullable=False))
    summary: str = Field(sa_column=Column(Text, nullable=False))
    key_points: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    keywords: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    full_text: str = Field(sa_column=Column(Text, nullable=False))
    token_count: int = 0
    tokens_used: int = 0
    backend: str = Field(default="offline", max_length=16)
    source: str = Field(max_length=16)
    original_filename: str = Field(sa_column=Column(Text, nullable=False))
    provenance: str | None = Field(default=None, max_length=255)
    created_at: datetime = Field(default_factory=utcnow, index=True)
