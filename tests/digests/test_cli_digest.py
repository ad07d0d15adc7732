"""`contentmind digest` and `contentmind outbox` as separate processes on the test's database."""

from __future__ import annotations

import asyncio
import json
import subprocess
import uuid
from datetime import timedelta
from email.parser import BytesParser
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

from models.base import utcnow
from services.runtime import Runtime
from tests.digests.conftest import Factory, digests
from tests.e2e.processes import CONTENTMIND, clean_environment


def run(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CONTENTMIND, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=90
    )


def cli_environment(rt: Runtime) -> dict[str, str]:
    """A CLI process on the test's data dir, database and Redis, with a queue of its own."""
    return clean_environment(
        CONTENTMIND_DATA_DIR=str(rt.settings.data_dir),
        DATABASE_URL=rt.settings.effective_database_url,
        REDIS_URL=rt.settings.redis_url or "",
        CONTENTMIND_QUEUE_NAME=f"test:{uuid.uuid4().hex[:8]}",
        CONTENTMIND_LOG_FORMAT="json",
    )


async def test_digest_prints_then_sends_and_outbox_lists_it(
    rt: Runtime, factory: Factory, tmp_path: Path
) -> None:
    """digest prints without sending; --send writes the .eml; outbox lists date, to, subject."""
    env = cli_environment(rt)
    dana = await factory.user("dana@acme.example")
    await factory.item(dana, "Harbour <survey>", at=utcnow() - timedelta(hours=2),
                       keywords=["harbour"], key_points=["Quay 4 needs repair"])  # fmt: skip

    printed = await asyncio.to_thread(run, env, tmp_path, "digest", "--user", "dana@acme.example")
    assert printed.returncode == 0, printed.stderr[-2000:]
    assert printed.stdout.startswith("Subject: Your ContentMind digest for ")
    assert "Harbour <survey>" in printed.stdout and "- Quay 4 needs repair" in printed.stdout
    blocks = await asyncio.to_thread(run, env, tmp_path, "digest", "--user", "dana@acme.example",
                                     "--channel", "slack")  # fmt: skip
    assert any("Harbour &lt;survey&gt;" in json.dumps(b) for b in json.loads(blocks.stdout))
    assert not rt.settings.outbox_dir.exists()  # printing sends nothing

    sent = await asyncio.to_thread(run, env, tmp_path, "digest", "--user", "dana@acme.example",
                                   "--send", "--json")  # fmt: skip
    assert sent.returncode == 0, sent.stderr[-2000:]
    result: dict[str, Any] = json.loads(sent.stdout)
    assert (result["status"], result["reason"]) == ("sent", None)

    listed = await asyncio.to_thread(run, env, tmp_path, "outbox", "--json")
    [entry] = json.loads(listed.stdout)
    assert entry["to"] == "dana@acme.example"
    assert entry["subject"].endswith(": 1 new item") and entry["date"]
    assert Path(entry["file"]).parent == rt.settings.outbox_dir
    assert result["delivery_ref"] == entry["file"]  # where it went: the outbox file

    rows = {d.id: d for d in await digests(rt)}
    assert rows[result["digest_id"]].status == "sent"
    assert rows[result["digest_id"]].type == "on_demand"
    assert sorted(d.status for d in rows.values()) == ["sent", "skipped", "skipped"]  # 2 previews
    again = await asyncio.to_thread(run, env, tmp_path, "digest", "--user", "dana@acme.example",
                                    "--send", "--json")  # fmt: skip
    assert json.loads(again.stdout)["status"] == "sent"  # a "nothing new" note, asked for
    unknown = await asyncio.to_thread(run, env, tmp_path, "digest", "--user", "nobody@acme.example")
    assert unknown.returncode == 2 and "No user with the address" in unknown.stderr


async def test_send_in_words_and_prefs_change_the_schedule(
    rt: Runtime, factory: Factory, tmp_path: Path
) -> None:
    """`digest --send` without --json says where the digest went and exits 0 (it crashed
    formatting a retry delay it did not have); `prefs` shows and changes time, zone, weekdays
    and on/off, all of them or (one refused) none; an on-demand digest for a user with daily
    digests off says so in its footer."""
    env = cli_environment(rt)
    erin = await factory.user("erin@acme.example")
    await factory.item(erin, "Dock schedule", at=utcnow() - timedelta(hours=1), keywords=["dock"])

    shown = await asyncio.to_thread(run, env, tmp_path, "prefs", "--user", "erin@acme.example")
    assert shown.returncode == 0, shown.stderr[-2000:]
    assert shown.stdout.strip() == "Digests are on: every day at 08:00 (UTC) by email."
    changed = await asyncio.to_thread(
        run, env, tmp_path, "prefs", "--user", "erin@acme.example", "--time", "7:30",
        "--timezone", "America/New_York", "--weekdays-only", "--off",
    )  # fmt: skip
    assert changed.returncode == 0, changed.stderr[-2000:]
    assert changed.stdout.strip() == (
        "Digests are off (turned on, they come every weekday at 07:30 (America/New_York) by email)."
    )
    async with rt.sessions() as session:
        from models import User

        fresh = await session.get(User, erin.id)
    assert fresh is not None
    assert (fresh.digest_hour, fresh.digest_minute, fresh.timezone) == (7, 30, "America/New_York")
    assert (fresh.digest_weekdays_only, fresh.digest_enabled) == (True, False)
    bad = await asyncio.to_thread(
        run, env, tmp_path, "prefs", "--user", "erin@acme.example", "--timezone", "Mars/Base"
    )
    assert bad.returncode == 2 and "is not a time zone" in bad.stderr
    email_only = await factory.user("fay@acme.example")
    async with rt.sessions() as session:
        from models import User

        fay = await session.get(User, email_only.id)
        assert fay is not None
        fay.slack_user_id = None
        session.add(fay)
        await session.commit()
    no_slack = await asyncio.to_thread(
        run, env, tmp_path, "prefs", "--user", "fay@acme.example", "--channel", "slack"
    )
    assert no_slack.returncode == 2 and "need your Slack account" in no_slack.stderr
    refused = await asyncio.to_thread(
        run, env, tmp_path, "prefs", "--user", "fay@acme.example", "--weekdays-only",
        "--time", "06:15", "--channel", "slack",
    )  # fmt: skip
    assert refused.returncode == 2 and "need your Slack account" in refused.stderr
    async with rt.sessions() as session:
        from models import User

        unchanged = await session.get(User, email_only.id)
    assert unchanged is not None  # a change refused in part is refused whole
    assert (unchanged.digest_weekdays_only, unchanged.digest_hour, unchanged.digest_minute) == (
        False, 8, 0,
    )  # fmt: skip

    sent = await asyncio.to_thread(run, env, tmp_path, "digest", "--user", "erin@acme.example",
                                   "--send")  # fmt: skip
    assert sent.returncode == 0, sent.stderr[-2000:]
    [eml] = rt.settings.outbox_dir.glob("*.eml")
    assert sent.stdout.strip().endswith(f"Digest sent to the local outbox: {eml}")
    mail = BytesParser(policy=default_policy).parsebytes(eml.read_bytes())
    plain = mail.get_body(preferencelist=("plain",))
    assert plain is not None
    text = plain.get_content()
    assert (
        "This digest was made on request, outside the schedule; scheduled digests for"
        " erin@acme.example are off.\nTurn them on with `/digest on` in Slack.\n" in text
    )
    assert "because digests are on" not in text
    assert mail["List-Unsubscribe"] is None  # scheduled digests off: no unsubscribe button
