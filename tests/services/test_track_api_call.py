"""`track_api_call`: every call of a handler becomes an API_CALLED event of the bound user."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest
import structlog
from sqlmodel import col, select

from models import AnalyticsEvent
from services.analytics import track_api_call
from services.identity import resolve_email_sender
from services.runtime import Runtime


@dataclass
class Response:
    status_code: int


@track_api_call("/files/{id}")
async def get_file(file_id: str) -> Response:
    await asyncio.sleep(0.03)
    return Response(status_code=404 if file_id == "missing" else 200)


@track_api_call("/search")
async def broken_search(query: str) -> Response:
    raise RuntimeError("index unavailable")


@track_api_call("/ping")
async def ping() -> str:
    return "pong"


async def _api_events(rt: Runtime) -> list[AnalyticsEvent]:
    await rt.analytics.flush()
    async with rt.sessions() as session:
        statement = (
            select(AnalyticsEvent)
            .where(AnalyticsEvent.event_type == "API_CALLED")
            .order_by(col(AnalyticsEvent.id))
        )
        return list((await session.exec(statement)).all())


async def test_api_calls_are_recorded_with_endpoint_status_duration_and_user(rt: Runtime) -> None:
    """Status from the response (404, 200), 500 when the handler raises; user/tenant as bound."""
    async with rt.sessions() as session:
        tenant, user = await resolve_email_sender(session, rt.settings, "carol@acme.example")
    with structlog.contextvars.bound_contextvars(
        user_id=user.id, tenant_id=tenant.id, correlation_id="req-1"
    ):
        assert (await get_file("missing")).status_code == 404
        with pytest.raises(RuntimeError, match="index unavailable"):
            await broken_search("budget")
        assert await ping() == "pong"

    events = await _api_events(rt)
    assert [(e.event_metadata["endpoint"], e.event_metadata["status"]) for e in events] == [
        ("/files/{id}", 404),
        ("/search", 500),
        ("/ping", 200),
    ]
    assert all(
        (e.user_id, e.tenant_id, e.correlation_id) == (user.id, tenant.id, "req-1") for e in events
    )
    durations = [e.event_metadata["duration_ms"] for e in events]
    assert durations[0] >= 25 and all(d >= 0 for d in durations)
    assert set(events[0].event_metadata) == {"endpoint", "status", "duration_ms"}
