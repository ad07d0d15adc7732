"""Slack cases from ../shared/cases (017, 018, 020, 021), recreated here and driven through the
real path: signed HTTP requests to /slack/events, Redis, the worker, the fake Slack."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.keys import event_key
from models import FileStatus
from services.settings import Settings
from tests.bot.conftest import (
    CHANNEL,
    Bot,
    file_shared_event,
    message_event,
    running_bot,
)
from tests.bot.fake_slack import BOT_TOKEN, TEAM_ID, FakeFile, FakeSlack
from tests.bot.test_slack_files import blocks_text
from tests.factories.files import make_pdf, make_pptx
from workers.pool import AnalysisPool

ROADMAP = make_pdf(["Roadmap 2024", "Q1: the Tessaract importer ships to every customer."])
PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"


# --- 017: the download returns an HTML sign-in page -------------------------------------------


async def test_case_017_file_shared_download_keeps_bearer_across_redirect(bot: Bot) -> None:
    """file_shared → files.info → download with the bot token on both hops → the PDF's text."""
    bot.slack.add_file(FakeFile("F000PDF01", "roadmap-2024.pdf", ROADMAP, "application/pdf",
                                filetype="pdf"))  # fmt: skip
    assert (
        await bot.event(file_shared_event("F000PDF01", event_id="Ev000FAKE01"))
    ).status_code == 200
    files = await bot.wait_final(1)
    assert (files[0].status, files[0].original_filename) == ("completed", "roadmap-2024.pdf")
    assert [c.params["file"] for c in bot.slack.called("files.info")] == ["F000PDF01"]
    hops = [(d.path.split("/")[1], d.authorization, d.status) for d in bot.slack.downloads]
    assert hops == [
        ("files-pri", f"Bearer {BOT_TOKEN}", 302),
        ("files-cdn", f"Bearer {BOT_TOKEN}", 200),
    ]
    item = (await bot.items())[0]
    assert "Roadmap 2024" in item.full_text
    assert bot.slack.posted(CHANNEL)[0]["text"].startswith("Added to your knowledge base")


async def test_case_017_sign_in_page_instead_of_file_fails_with_a_hint(bot: Bot) -> None:
    """HTML where files.info says PDF: no extraction; FILE_FAILED slack_download_unauthorized."""
    bot.slack.add_file(FakeFile("F000PDF02", "roadmap-2024.pdf", ROADMAP, "application/pdf",
                                filetype="pdf", sign_in_page=True))  # fmt: skip
    assert (
        await bot.event(file_shared_event("F000PDF02", event_id="Ev000FAKE02"))
    ).status_code == 200
    files = await bot.wait_final(1)
    assert (files[0].status, files[0].reason) == ("failed", "slack_download_unauthorized")
    assert files[0].size == 0 and files[0].storage_key is None  # the page was not stored
    assert await bot.items() == []
    failed = await bot.events("FILE_FAILED")
    assert len(failed) == 1
    meta = failed[0].event_metadata
    assert (meta["reason"], meta["status"]) == ("slack_download_unauthorized", 200)
    assert meta["content_type"].startswith("text/html")
    assert await bot.events("AGENT_STARTED") == []  # never extracted or summarised
    text = blocks_text(bot.slack.posted(CHANNEL)[0])
    assert "files:read" in text and "member of the channel" in text
    assert "Sign in" not in text


# --- 018: Slack retries (X-Slack-Retry-Num) -------------------------------------------------


def _notes_files(slack: FakeSlack) -> tuple[FakeFile, FakeFile]:
    notes = slack.add_file(FakeFile("F000TXT01", "notes.md",
                                    b"# Notes 2024-03-05\n\n- Customer call moved to Thursday\n",
                                    "text/markdown", filetype="markdown"))  # fmt: skip
    decisions = slack.add_file(FakeFile("F000TXT02", "decisions.md",
                                        b"# Decisions\n\n- Adopt weekly release train\n",
                                        "text/markdown", filetype="markdown"))  # fmt: skip
    return notes, decisions


async def test_case_018_retry_is_deduplicated_and_first_seen_retry_is_processed(bot: Bot) -> None:
    """A retry of a seen event makes no work; a retry whose first delivery was lost is processed."""
    notes, decisions = _notes_files(bot.slack)
    first = message_event([bot.share(notes)], event_id="Ev000RETRY1", ts="1709626600.000300")
    only_retry = message_event([bot.share(decisions)], event_id="Ev000RETRY2",
                               ts="1709626700.000400")  # fmt: skip
    responses = [
        await bot.event(first),
        await bot.event(first, retry_num=1, retry_reason="http_timeout"),
        await bot.event(only_retry, retry_num=1, retry_reason="http_error"),
    ]
    assert [r.status_code for r in responses] == [200, 200, 200]
    assert max(bot.timings) < 3.0
    files = await bot.wait_final(2)
    assert sorted((f.external_id, f.status) for f in files) == [
        ("F000TXT01", FileStatus.COMPLETED), ("F000TXT02", FileStatus.COMPLETED),
    ]  # fmt: skip
    assert sorted(i.original_filename for i in await bot.items()) == ["decisions.md", "notes.md"]
    initiated = [
        e.event_metadata["slack_file_id"] for e in await bot.events("FILE_UPLOAD_INITIATED")
    ]
    assert sorted(initiated) == ["F000TXT01", "F000TXT02"]  # one fetch job each
    assert len(await bot.events("FILE_PROCESSED")) == 2
    duplicates = await bot.events("SLACK_EVENT_DUPLICATE")
    assert [(e.event_metadata["event_id"], e.event_metadata["retry_num"]) for e in duplicates] == [
        ("Ev000RETRY1", 1)
    ]
    assert len(bot.slack.posted(CHANNEL)) == 2  # one answer per file
    ttl = await bot.rt.require_redis().ttl(event_key(TEAM_ID, "Ev000RETRY1"))
    assert ttl >= 3600  # dedupe records outlive Slack's last retry


# --- 020: Slack Connect stub (file_access = check_file_info) --------------------------------


def _connect_event(slack: FakeSlack, file_id: str) -> dict[str, object]:
    slack.add_user("U000EXTRN", email="partner@partner.example", team_id="T000OTHER")
    stub = {"id": file_id, "mode": "file_access", "file_access": "check_file_info", "created": 0,
            "timestamp": 0, "user": ""}  # fmt: skip
    payload = message_event([stub], event_id=f"Ev{file_id}", user="U000EXTRN",
                            channel="C000SHARED", is_ext_shared_channel=True)  # fmt: skip
    payload["event"]["user_team"] = payload["event"]["source_team"] = "T000OTHER"  # type: ignore[index]
    return payload


async def test_case_020_slack_connect_stub_is_completed_with_files_info(bot: Bot) -> None:
    """No KeyError on a stub: files.info gives name and URL; the deck's text is extracted."""
    deck = make_pptx(
        [("Partner programme 2024", "Joint webinars every quarter with the Veldt team.")]
    )
    bot.slack.add_file(FakeFile("F000EXT01", "partner-deck.pptx", deck, PPTX, team="T000OTHER",
                                filetype="pptx"))  # fmt: skip
    assert (await bot.event(_connect_event(bot.slack, "F000EXT01"))).status_code == 200
    files = await bot.wait_final(1)
    assert (files[0].original_filename, files[0].status) == ("partner-deck.pptx", "completed")
    assert files[0].details["slack"]["is_ext_shared_channel"] is True
    assert "Partner programme 2024" in (await bot.items())[0].full_text
    assert [c.params["file"] for c in bot.slack.called("files.info")] == ["F000EXT01"]
    initiated = (await bot.events("FILE_UPLOAD_INITIATED"))[0].event_metadata
    assert initiated["is_ext_shared_channel"] is True
    assert len(bot.slack.posted("C000SHARED")) == 1
    partner = next(u for u in await bot.users() if u.slack_user_id == "U000EXTRN")
    assert partner.email is None  # a partner's address never joins or picks a tenant
    assert [t.email_domain for t in await bot.tenants()] == [None]


async def test_case_020_files_info_refused_fails_as_slack_connect_no_access(bot: Bot) -> None:
    """files.info refusing the stub: FILE_FAILED slack_connect_no_access, told in the thread."""
    bot.slack.add_file(FakeFile("F000EXT02", "partner-deck.pptx", b"", PPTX,
                                info_error="file_not_found"))  # fmt: skip
    assert (await bot.event(_connect_event(bot.slack, "F000EXT02"))).status_code == 200
    files = await bot.wait_final(1)
    assert (files[0].status, files[0].reason) == ("failed", "slack_connect_no_access")
    failed = (await bot.events("FILE_FAILED"))[0].event_metadata
    assert (failed["reason"], failed["is_ext_shared_channel"]) == ("slack_connect_no_access", True)
    assert bot.slack.downloads == []
    assert "Slack Connect" in blocks_text(bot.slack.posted("C000SHARED")[0])


# --- 021: a slash command whose work takes 30 s --------------------------------------------


@pytest.fixture
async def patient_bot(
    settings: Settings, fake_slack: FakeSlack, analysis_pool: AnalysisPool
) -> AsyncIterator[Bot]:
    """The bot with jobs allowed 60 s (a 30 s digest fits in it)."""
    async with running_bot(settings, fake_slack, analysis_pool, job_timeout_s=60) as running:
        yield running


async def test_case_021_slow_digest_command_is_acked_within_3s_and_posted_once(
    patient_bot: Bot,
) -> None:
    """`/kb digest last 7 days` answers 200 at once; the 30 s digest arrives once, as a job."""
    bot = patient_bot
    bot.slack.delays.update({"conversations.open": 15.0, "chat.postMessage": 15.0})
    response = await bot.command("/kb", "digest last 7 days", path="/slack/commands")
    assert response.status_code == 200
    assert bot.timings[-1] < 3.0
    completed = await bot.wait_events("COMMAND_COMPLETED", timeout=60)
    digest = bot.slack.posted("D000FAKE1")
    assert len(digest) == 1
    assert "Your ContentMind digest" in blocks_text(digest[0])
    interim = "Putting your digest together — it will arrive in your direct messages with"
    assert [r["text"] for r in bot.slack.responses] == [f"{interim} ContentMind shortly."]
    used = await bot.events("COMMAND_USED")
    assert [(e.event_metadata["command"], e.event_metadata["slash_command"]) for e in used] == [
        ("digest", "/kb")
    ]
    assert [e.correlation_id for e in completed] == [used[0].correlation_id]
    assert len(await bot.events("DIGEST_SENT")) == 1
    assert len(await bot.events("JOB_DEDUPED")) == 0


async def test_case_021_failed_digest_job_answers_with_an_ephemeral_error(bot: Bot) -> None:
    """When the digest cannot be delivered the job says so ephemerally, never stays silent."""
    bot.slack.errors["conversations.open"] = "user_not_found"
    assert (await bot.command("/digest", "now")).status_code == 200
    await bot.slack.wait_for(lambda: len(bot.slack.responses) >= 2, what="the error reply")
    first, second = bot.slack.responses
    assert first["response_type"] == second["response_type"] == "ephemeral"
    assert second["text"].startswith(
        "Your digest was not sent: Slack refused the digest (user_not_found). Reference: "
    )
    assert len(await bot.events("DIGEST_FAILED")) == 1


async def test_download_failing_on_every_try_ends_failed_without_promising_a_retry(
    settings: Settings, fake_slack: FakeSlack, analysis_pool: AnalysisPool
) -> None:
    """Slack answering 503 to every download: after the last try the thread says it gave up,
    not that it will be retried."""
    async with running_bot(settings, fake_slack, analysis_pool, job_max_tries=2,
                           job_retry_backoff_s=0.1) as bot:  # fmt: skip
        file = bot.slack.add_file(FakeFile("F000FLAKY", "flaky.pdf", b"%PDF-1.7", "application/pdf",
                                           download_status=503))  # fmt: skip
        await bot.event(message_event([bot.share(file)], event_id="EvFLK001"))
        [record] = await bot.wait_final(1)
        assert (record.status, record.reason) == ("failed", "slack_download_failed")
        assert [d.status for d in bot.slack.downloads] == [503, 503]
        [answer] = bot.slack.posted(CHANNEL)
        assert "will be retried" not in answer["text"]
        assert "did not work after 2 tries" in answer["text"]
