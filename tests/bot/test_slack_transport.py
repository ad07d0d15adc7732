"""How Slack reaches the bot: signed HTTP requests (401 otherwise) and Socket Mode."""

from __future__ import annotations

import json
import time

import pytest
from pydantic import SecretStr

from bot.server import start_socket_mode
from services.settings import Settings
from tests.bot.conftest import Bot, message_event, next_ts, running_bot
from tests.bot.fake_slack import APP_TOKEN, FakeFile, FakeSlack
from tests.bot.test_slack_files import NOTES, blocks_text
from workers.pool import AnalysisPool


async def _nothing_queued(bot: Bot) -> None:
    assert await bot.rt.require_redis().keys("contentmind:slack:*") == []
    assert await bot.files() == []
    assert await bot.events("FILE_UPLOAD_INITIATED") == []


async def test_forged_signature_is_refused_with_401(bot: Bot) -> None:
    """A request signed with another secret gets 401 and creates no work."""
    file = bot.slack.add_file(FakeFile("F000FORGE", "notes.md", NOTES, "text/markdown"))
    payload = message_event([bot.share(file)], event_id="EvFORGE01")
    response = await bot.event(payload, secret="not-the-signing-secret")
    assert response.status_code == 401
    await _nothing_queued(bot)


async def test_malformed_body_is_refused_before_it_is_parsed_or_logged(
    bot: Bot, capsys: pytest.CaptureFixture[str]
) -> None:
    """Unsigned garbage gets 401 (not a parser's 500) and its bytes never reach the log; a
    signed body that is not JSON gets 400."""
    marker = "UNSIGNED-BODY-" + "x" * 64
    unsigned = await bot.http.post(
        bot.url + "/slack/events",
        content="{bad " + marker,
        headers={"Content-Type": "application/json"},
    )
    assert unsigned.status_code == 401
    assert unsigned.json() == {"error": "invalid request"}
    signed = await bot.post("/slack/events", "{bad json", "application/json")
    assert signed.status_code == 400
    assert marker not in capsys.readouterr().out
    await _nothing_queued(bot)


async def test_stale_timestamp_is_refused_with_401(bot: Bot) -> None:
    """A correctly signed request whose timestamp is six minutes old gets 401 (replay)."""
    file = bot.slack.add_file(FakeFile("F000STALE", "notes.md", NOTES, "text/markdown"))
    payload = message_event([bot.share(file)], event_id="EvSTALE01")
    response = await bot.event(payload, timestamp=int(time.time()) - 6 * 60)
    assert response.status_code == 401
    await _nothing_queued(bot)


async def test_url_verification_challenge_is_answered(bot: Bot) -> None:
    """Slack's Request URL check gets its challenge back."""
    body = json.dumps({"token": "x", "challenge": "c-123", "type": "url_verification"})
    response = await bot.post("/slack/events", body, "application/json")
    assert (response.status_code, response.json()) == (200, {"challenge": "c-123"})


async def test_socket_mode_envelope_is_acked_and_its_file_answered(
    settings: Settings, fake_slack: FakeSlack, analysis_pool: AnalysisPool
) -> None:
    """With an app token the bot connects over a WebSocket, acks the envelope, files the file."""
    overrides = {"slack_app_token": SecretStr(APP_TOKEN), "slack_signing_secret": None}
    async with running_bot(settings, fake_slack, analysis_pool, **overrides) as bot:
        socket = await start_socket_mode(bot.rt)
        try:
            file = fake_slack.add_file(FakeFile("F000SOCK1", "launch.md", NOTES, "text/markdown"))
            ts = next_ts()
            payload = message_event([bot.share(file)], event_id="EvSOCK001", channel="D000FAKE1",
                                    channel_type="im", ts=ts)  # fmt: skip
            envelope = {"envelope_id": "env-0001", "type": "events_api", "payload": payload,
                        "accepts_response_payload": False, "retry_attempt": 0,
                        "retry_reason": ""}  # fmt: skip
            await fake_slack.send_envelope(envelope)
            await fake_slack.wait_for(lambda: fake_slack.socket_acks, what="the envelope ack")
            assert fake_slack.socket_acks[0]["envelope_id"] == "env-0001"
            files = await bot.wait_final(1)
        finally:
            await socket.close()
    assert [(f.external_id, f.status) for f in files] == [("F000SOCK1", "completed")]
    assert [c.authorization for c in fake_slack.called("apps.connections.open")] == [
        f"Bearer {APP_TOKEN}"
    ]
    posted = fake_slack.posted("D000FAKE1")
    assert len(posted) == 1 and posted[0]["thread_ts"] == ts
    assert "Halvorsen" in blocks_text(posted[0])
