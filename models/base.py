"""Shared column helpers for every table."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime


def new_id() -> str:
    """A random 32-hex-character id, used for rows and correlation ids."""
    return uuid.uuid4().hex


def utcnow() -> datetime:
    """Timezone-aware UTC now (SQLModel's UTCDateTime stores and returns UTC)."""
    return datetime.now(UTC)
