"""`contentmind imap` as an operator runs it: its own process, accounts from the environment."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from services.runtime import Runtime
from services.settings import Settings
from tests.e2e.conftest import Pipeline
from tests.e2e.processes import CONTENTMIND, CommandProcess, clean_environment
from tests.factories.emails import build_email
from tests.imap.conftest import Mailbox, wait_until


def test_imap_command_without_accounts_says_what_is_missing(tmp_path: Path) -> None:
    """No CONTENTMIND_IMAP_ACCOUNTS: exit code 2 and a plain sentence naming the variable."""
    result = subprocess.run(
        [CONTENTMIND, "imap"],
        env=clean_environment(CONTENTMIND_DATA_DIR=str(tmp_path / "data")),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "CONTENTMIND_IMAP_ACCOUNTS" in result.stderr


async def test_imap_command_ingests_and_never_shows_the_password(
    tmp_path: Path, settings: Settings, rt: Runtime, mailbox: Mailbox
) -> None:
    """`contentmind imap` shows the mailbox (no password), receives mail, stops on SIGTERM."""
    await mailbox.append(build_email("bob@globex.example", "x@y.example", "Via CLI", "Hello."))
    account = mailbox.account().model_dump(mode="json")
    account["password"] = mailbox.password
    env = clean_environment(
        CONTENTMIND_DATA_DIR=str(tmp_path / "cli-data"),
        DATABASE_URL=settings.database_url or "",
        REDIS_URL=settings.redis_url or "",
        CONTENTMIND_QUEUE_NAME=settings.queue_name,
        CONTENTMIND_LOG_FORMAT="json",
        CONTENTMIND_IMAP_ACCOUNTS=json.dumps([account]),
    )
    process = CommandProcess(["imap"], env, tmp_path, tmp_path / "imap.log")
    try:
        await wait_until(
            lambda: _received(rt), timeout=60, what="the message received by the process"
        )
        assert process.stop() == 0
    finally:
        process.cleanup()

    output = " ".join(process.output(20000).split())
    assert f"watching INBOX of {mailbox.username} on 127.0.0.1:{mailbox.server.port}" in output
    assert mailbox.password not in output
    (message,) = await Pipeline(rt).messages()
    assert (message.channel, message.sender) == ("imap", "bob@globex.example")


async def _received(rt: Runtime) -> bool:
    return len(await Pipeline(rt).messages()) == 1
