"""The unsubscribe link, over real HTTP to the running API, and the preferences behind it."""

from __future__ import annotations

import email
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.policy import default as default_policy
from zoneinfo import ZoneInfo

import httpx
import pytest
from pydantic import SecretStr

from api.server import ApiServer, start_api
from models import User
from models.base import utcnow
from services.digest_delivery import build_kit
from services.digests import deliver, schedule_due
from services.preferences import (
    Changes,
    PreferenceError,
    change,
    describe,
    parse_time,
    set_digest_time,
)
from services.runtime import Runtime
from services.schedule import DigestPreferences, local_date, slot_on
from services.settings import Settings
from services.unsubscribe import UnsubscribeTokens, load_secret_key
from tests.conftest import free_port
from tests.digests.conftest import Factory, RuntimeFactory, events

MORNING = datetime(2024, 3, 5, 8, 0, tzinfo=UTC)


@pytest.fixture
async def api(runtime_with: RuntimeFactory) -> AsyncIterator[tuple[Runtime, ApiServer]]:
    """The API on a free port, with digest links pointing at it."""
    port = free_port()
    rt: Runtime = await runtime_with(api_port=port, public_base_url=f"http://127.0.0.1:{port}/")
    server = await start_api(rt)
    yield rt, server
    await server.stop()


def outbox(rt: Runtime) -> list[EmailMessage]:
    paths = sorted(rt.settings.outbox_dir.glob("*.eml"))
    return [email.message_from_bytes(p.read_bytes(), policy=default_policy) for p in paths]  # type: ignore[misc]


async def send_today(rt: Runtime, factory: Factory, user: User, now: datetime) -> list[str]:
    """Add an item, run the cron at `now` and deliver what it claimed; the statuses."""
    await factory.item(user, f"Memo {now:%d}", at=now - timedelta(hours=1))
    kit = build_kit(rt)
    return [(await deliver(rt, kit, d.id, now=now)).status for d in await schedule_due(rt, now=now)]


async def user_row(rt: Runtime, user_id: str) -> User:
    async with rt.sessions() as session:
        user = await session.get(User, user_id)
    assert user is not None
    return user


async def test_footer_link_confirms_then_turns_digests_off(api: tuple[Runtime, ApiServer]) -> None:
    """GET the mail's link shows a button; its POST turns digests off; the next day has none."""
    rt, server = api
    factory = Factory(rt)
    dana = await factory.user("dana@acme.example")
    assert await send_today(rt, factory, dana, MORNING) == ["sent"]
    [message] = outbox(rt)
    header_link = message["List-Unsubscribe"].strip("<>")
    host, port = server.address
    assert header_link.startswith(f"http://127.0.0.1:{port}/unsubscribe?token=")
    html = message.get_body(preferencelist=("html",)).get_content()  # type: ignore[union-attr]
    assert f'href="{header_link}"' in html

    async with httpx.AsyncClient() as client:
        page = await client.get(header_link)
        assert page.status_code == 200 and "Stop sending digests to d•••@acme.example?" in page.text
        assert (
            await user_row(rt, dana.id)
        ).digest_enabled  # a GET (or a link scanner) changes nothing
        action = re.search(r'<form method="post" action="([^"]+)"', page.text)
        assert action is not None
        done = await client.post(action.group(1).replace("&amp;", "&"))
    assert done.status_code == 200 and "will get no more digests" in done.text
    assert done.headers["cache-control"] == "no-store"
    assert not (await user_row(rt, dana.id)).digest_enabled

    assert await send_today(rt, factory, dana, MORNING + timedelta(days=1)) == []
    assert len(outbox(rt)) == 1
    [event] = await events(rt, "DIGEST_UNSUBSCRIBED")
    assert (event.user_id, event.event_metadata) == (dana.id, {"via": "link"})
    called = await events(rt, "API_CALLED")
    assert [(e.event_metadata["endpoint"], e.event_metadata["status"]) for e in called] == [
        ("/unsubscribe", 200), ("/unsubscribe", 200),
    ]  # fmt: skip


async def test_one_click_post_from_the_mail_client(api: tuple[Runtime, ApiServer]) -> None:
    """RFC 8058: POST List-Unsubscribe=One-Click to the header's URL turns digests off at once."""
    rt, _server = api
    factory = Factory(rt)
    erin = await factory.user("erin@acme.example")
    token = UnsubscribeTokens(load_secret_key(rt.settings)).make(erin.id)
    url = f"{rt.settings.public_base_url.rstrip('/')}/unsubscribe?token={token}"
    async with httpx.AsyncClient() as client:
        answer = await client.post(
            url,
            content=b"List-Unsubscribe=One-Click",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
    assert answer.status_code == 200
    assert not (await user_row(rt, erin.id)).digest_enabled
    [event] = await events(rt, "DIGEST_UNSUBSCRIBED")
    assert event.event_metadata == {"via": "one_click"}


async def test_a_forged_or_cut_token_changes_nothing(api: tuple[Runtime, ApiServer]) -> None:
    """A token signed with another key, cut short, or missing: 400 and digests stay on."""
    rt, _server = api
    dana = await Factory(rt).user("dana@acme.example")
    good = UnsubscribeTokens(load_secret_key(rt.settings)).make(dana.id)
    forged = UnsubscribeTokens("another-key").make(dana.id)
    base = f"{rt.settings.public_base_url.rstrip('/')}/unsubscribe"
    async with httpx.AsyncClient() as client:
        answers = [
            await client.post(f"{base}?token={forged}"),
            await client.post(f"{base}?token={good[:-3]}"),
            await client.post(base),
            await client.get(f"{base}?token=nonsense"),
        ]
    assert [a.status_code for a in answers] == [400, 400, 400, 400]
    assert "not valid" in answers[0].text
    assert (await user_row(rt, dana.id)).digest_enabled
    assert not await events(rt, "DIGEST_UNSUBSCRIBED")


async def test_health_endpoint(api: tuple[Runtime, ApiServer]) -> None:
    """GET /healthz answers ok when the database does."""
    _rt, server = api
    host, port = server.address
    async with httpx.AsyncClient() as client:
        answer = await client.get(f"http://{host}:{port}/healthz")
    assert (answer.status_code, answer.json()) == (200, {"status": "ok"})


def test_secret_key_is_generated_once_and_kept(settings: Settings) -> None:
    """Unset CONTENTMIND_SECRET_KEY: one key is generated in the data dir (0600) and reused."""
    first = load_secret_key(settings)
    assert len(first) >= 48 and load_secret_key(settings) == first
    path = settings.data_dir / "secret_key"
    assert path.stat().st_mode & 0o777 == 0o600
    configured = settings.model_copy(update={"secret_key": SecretStr("from-env")})
    assert load_secret_key(configured) == "from-env"


def test_parse_time_accepts_common_forms_and_refuses_the_rest() -> None:
    """HH:MM, H, h.mm, am/pm; out-of-range and words are refused with a plain message."""
    assert [parse_time(t) for t in ("08:00", "7", "19.30", "7pm", "12am", "23:59")] == [
        (8, 0), (7, 0), (19, 30), (19, 0), (0, 0), (23, 59),
    ]  # fmt: skip
    for bad in ("24:00", "8:60", "13pm", "noon", ""):
        with pytest.raises(PreferenceError):
            parse_time(bad)


async def test_preferences_change_the_schedule(rt: Runtime, factory: Factory) -> None:
    """/digest time 07:30 and a time zone move the next slot; bad values are refused."""
    dana = await factory.user("dana@acme.example", enabled=False)
    async with rt.sessions() as session:
        await set_digest_time(session, user_id=dana.id, time_text="07:30")
        await change(session, user_id=dana.id, changes=Changes(timezone="Europe/Berlin"))
        user = await change(session, user_id=dana.id, changes=Changes(channel="slack"))
        with pytest.raises(PreferenceError, match="not a time zone"):
            await change(session, user_id=dana.id, changes=Changes(timezone="Mars/Olympus"))
    assert describe(user) == "Digests are on: every day at 07:30 (Europe/Berlin) by slack."
    # the change happened now (wall clock): the first slot is tomorrow's 07:30 in Berlin
    tomorrow = local_date(utcnow(), "Europe/Berlin") + timedelta(days=1)
    slot = slot_on(tomorrow, DigestPreferences("Europe/Berlin", 7, 30))
    assert slot.astimezone(ZoneInfo("Europe/Berlin")).strftime("%H:%M") == "07:30"
    assert await schedule_due(rt, now=slot - timedelta(minutes=1)) == []
    due = await schedule_due(rt, now=slot)
    assert [(d.user_id, d.channel) for d in due] == [(dana.id, "slack")]
