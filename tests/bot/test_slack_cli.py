"""`contentmind slack` as an operator runs it: its own process, settings from the environment."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from pathlib import Path

import httpx

from services.settings import Settings
from tests.bot.conftest import SIGNING_SECRET, sign
from tests.bot.fake_slack import BOT_TOKEN, FakeSlack
from tests.conftest import free_port
from tests.e2e.processes import CONTENTMIND, CommandProcess, clean_environment


def test_slack_command_without_settings_says_what_is_missing(tmp_path: Path) -> None:
    """No Slack tokens: exit code 2 and a sentence naming the variables to set."""
    result = subprocess.run(
        [CONTENTMIND, "slack"],
        env=clean_environment(CONTENTMIND_DATA_DIR=str(tmp_path / "data")),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "CONTENTMIND_SLACK_BOT_TOKEN" in result.stderr
    assert "CONTENTMIND_SLACK_SIGNING_SECRET" in result.stderr


async def test_slack_command_serves_signed_http_and_stops_cleanly(
    tmp_path: Path, settings: Settings, fake_slack: FakeSlack
) -> None:
    """HTTP mode: /slack/events on the API port answers a signed request, 401 for a forged one."""
    port = free_port()
    env = clean_environment(
        CONTENTMIND_DATA_DIR=str(tmp_path / "cli-data"),
        DATABASE_URL=settings.database_url or "",
        REDIS_URL=settings.redis_url or "",
        CONTENTMIND_LOG_FORMAT="json",
        CONTENTMIND_SLACK_BOT_TOKEN=BOT_TOKEN,
        CONTENTMIND_SLACK_SIGNING_SECRET=SIGNING_SECRET,
        CONTENTMIND_SLACK_API_BASE_URL=fake_slack.api_url,
        CONTENTMIND_API_PORT=str(port),
    )
    process = CommandProcess(["slack"], env, tmp_path, tmp_path / "slack.log")
    body = json.dumps({"token": "x", "challenge": "c-9", "type": "url_verification"})
    try:
        async with httpx.AsyncClient(timeout=10) as http:
            answers = [await _post(http, port, body, SIGNING_SECRET),
                       await _post(http, port, body, "forged")]  # fmt: skip
        await _ready(process)  # its signal handlers are set once it says how to stop it
        assert process.stop() == 0
    finally:
        process.cleanup()
    assert (answers[0].status_code, answers[0].json()) == (200, {"challenge": "c-9"})
    assert answers[1].status_code == 401
    output = " ".join(process.output(20000).split())
    assert "/slack/events" in output and SIGNING_SECRET not in output and BOT_TOKEN not in output


async def _post(http: httpx.AsyncClient, port: int, body: str, secret: str) -> httpx.Response:
    deadline = time.monotonic() + 60
    while True:
        stamp = int(time.time())
        headers = {"Content-Type": "application/json", "X-Slack-Request-Timestamp": str(stamp),
                   "X-Slack-Signature": sign(body, stamp, secret)}  # fmt: skip
        try:
            return await http.post(f"http://127.0.0.1:{port}/slack/events", content=body,
                                   headers=headers)  # fmt: skip
        except httpx.ConnectError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


async def _ready(process: CommandProcess) -> None:
    deadline = time.monotonic() + 30
    while "press Ctrl-C to stop" not in " ".join(process.output(20000).split()):
        assert time.monotonic() < deadline, process.output()
        await asyncio.sleep(0.1)
