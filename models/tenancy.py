"""Tenants (teams) and their users."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from models.base import new_id, utcnow


class Tenant(SQLModel, table=True):
    """A team: a Slack workspace, an email domain, or a configured group."""

    __tablename__ = "tenant"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    name: str = Field(max_length=200)
    email_domain: str | None = Field(default=None, max_length=253, unique=True)
    slack_team_id: str | None = Field(default=None, max_length=32, unique=True)
    created_at: datetime = Field(default_factory=utcnow)


class User(SQLModel, table=True):
    """A person in a tenant, known by email address and (later) Slack id."""

    __tablename__ = "app_user"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    tenant_id: str = Field(foreign_key="tenant.id", index=True, max_length=32)
    email: str | None = Field(default=None, max_length=320, unique=True)
    display_name: str | None = Field(default=None, max_length=200)
    slack_user_id: str | None = Field(default=None, max_length=32, index=True)
    timezone: str = Field(default="UTC", max_length=64)
    digest_enabled: bool = Field(default=True)
    digest_hour: int = Field(default=8)
    digest_minute: int = Field(default=0)
    digest_weekdays_only: bool = Field(default=False)
    digest_channel: str = Field(default="email", max_length=16)  # email | slack
    # last change of on/off, time, zone or weekdays: a slot before it is not caught up
    digest_changed_at: datetime | None = Field(default=None)
    created_at: datetime = Field(default_factory=utcnow)
