"""Files shared in Slack become knowledge, and the bot answers in the file's thread."""

from __future__ import annotations

import json
import re
from typing import Any

from services.settings import Settings
from tests.bot.conftest import (
    CHANNEL,
    USER,
    Bot,
    file_shared_event,
    message_event,
    next_ts,
    running_bot,
)
from tests.bot.fake_slack import FakeFile, FakeSlack
from tests.factories.files import make_pdf
from workers.pool import AnalysisPool

NOTES = (
    b"# Launch notes\n\nThe Halvorsen launch moves to the second week of May.\n\n"
    b"Marketing prepares the Halvorsen press kit. Support trains two extra agents before launch.\n"
)


def blocks_text(params: dict[str, Any]) -> str:
    """Every text of a posted message's blocks, joined (blocks arrive as a JSON string)."""
    blocks = params.get("blocks")
    blocks = json.loads(blocks) if isinstance(blocks, str) else blocks or []
    texts: list[str] = []
    for block in blocks:
        for part in [block.get("text"), *block.get("elements", []), *block.get("fields", [])]:
            if isinstance(part, dict) and isinstance(part.get("text"), str):
                texts.append(part["text"])
    return "\n".join(texts)


async def test_file_in_a_dm_becomes_knowledge_with_its_card_in_the_thread(bot: Bot) -> None:
    """A file sent to the bot in a DM is processed by the worker; the card answers its message."""
    file = bot.slack.add_file(FakeFile("F000DM001", "launch-notes.md", NOTES, "text/markdown"))
    ts = next_ts()
    payload = message_event([bot.share(file)], event_id="EvDM0001", channel="D000FAKE1",
                            channel_type="im", ts=ts)  # fmt: skip
    response = await bot.event(payload)
    assert response.status_code == 200
    assert bot.timings[-1] < 3.0

    files = await bot.wait_final(1)
    assert [(f.source, f.external_id, f.status) for f in files] == [
        ("slack", "F000DM001", "completed")
    ]
    assert files[0].provenance == "shared with the Slack bot in a direct message"
    item = (await bot.items())[0]
    assert "Halvorsen" in item.full_text
    posted = bot.slack.posted("D000FAKE1")
    assert len(posted) == 1
    assert posted[0]["thread_ts"] == ts
    text = blocks_text(posted[0])
    assert item.summary.split(".")[0] in text
    assert posted[0]["text"].startswith("Added to your knowledge base")
    link = re.search(r"<http://contentmind\.test(/items/[^|>]+)\|Open in ContentMind>", text)
    assert link is not None
    page = await bot.http.get(bot.url + link.group(1))
    assert page.status_code == 200 and item.title in page.text and "Halvorsen" in page.text
    forged = await bot.http.get(bot.url + link.group(1)[:-3] + "xyz")
    assert forged.status_code == 404 and "Halvorsen" not in forged.text


async def test_file_in_a_thread_is_answered_in_that_thread(bot: Bot) -> None:
    """A file posted as a thread reply gets its card in the same thread (the parent's ts)."""
    file = bot.slack.add_file(FakeFile("F000THR01", "notes.md", NOTES, "text/markdown"))
    parent = next_ts()
    payload = message_event([bot.share(file)], event_id="EvTHR001", thread_ts=parent)
    assert (await bot.event(payload)).status_code == 200
    await bot.wait_final(1)
    posted = bot.slack.posted(CHANNEL)
    assert [p["thread_ts"] for p in posted] == [parent]
    assert "Halvorsen" in blocks_text(posted[0])


async def test_file_that_fails_is_answered_with_the_reason_in_plain_words(bot: Bot) -> None:
    """An empty file fails as empty_file; the thread reply says so without any traceback."""
    file = bot.slack.add_file(FakeFile("F000EMPTY", "empty.pdf", b"", "application/pdf"))
    ts = next_ts()
    assert (
        await bot.event(message_event([bot.share(file)], event_id="EvEMP001", ts=ts))
    ).status_code == 200
    files = await bot.wait_final(1)
    assert (files[0].status, files[0].reason) == ("failed", "empty_file")
    posted = bot.slack.posted(CHANNEL)
    assert len(posted) == 1 and posted[0]["thread_ts"] == ts
    text = blocks_text(posted[0])
    assert "could not be added to your knowledge base" in text
    assert "The file is empty (0 bytes)." in text
    assert "empty_file" in text and "Traceback" not in text
    assert await bot.items() == []


async def test_same_content_shared_twice_says_already_in_your_knowledge_base(bot: Bot) -> None:
    """A second upload of the same content (another file id) answers with the existing item."""
    pdf = make_pdf(["Vendor review 2025", "The Ostrander contract renews in June."])
    first = bot.slack.add_file(FakeFile("F000DUP01", "review.pdf", pdf, "application/pdf"))
    second = bot.slack.add_file(FakeFile("F000DUP02", "review-copy.pdf", pdf, "application/pdf"))
    await bot.event(message_event([bot.share(first)], event_id="EvDUP001"))
    await bot.wait_final(1)
    await bot.event(message_event([bot.share(second)], event_id="EvDUP002"))
    files = await bot.wait_final(2)
    assert [f.reason for f in files] == [None, "duplicate"]
    assert len(await bot.items()) == 1
    posted = bot.slack.posted(CHANNEL)
    assert len(posted) == 2
    assert "Already in your knowledge base" in blocks_text(posted[1])
    assert "review.pdf" in blocks_text(posted[1])  # the existing item's file


async def test_one_upload_as_message_and_file_shared_events_is_processed_once(bot: Bot) -> None:
    """The message event and the file_shared event of one upload create one file and one reply."""
    file = bot.slack.add_file(FakeFile("F000BOTH1", "notes.md", NOTES, "text/markdown"))
    ts = next_ts()
    file.shares = {"public": {CHANNEL: [{"ts": ts, "channel_name": "general"}]}}
    assert (await bot.event(file_shared_event("F000BOTH1", event_id="EvBOTH01"))).status_code == 200
    assert (
        await bot.event(message_event([bot.share(file)], event_id="EvBOTH02", ts=ts))
    ).status_code == 200
    files = await bot.wait_final(1)
    assert len(files) == 1
    duplicates = await bot.wait_events("SLACK_EVENT_DUPLICATE")
    assert [(e.event_metadata["kind"], e.event_metadata["file_id"]) for e in duplicates] == [
        ("file", "F000BOTH1")
    ]
    posted = bot.slack.posted(CHANNEL)
    assert len(posted) == 1 and posted[0]["thread_ts"] == ts


async def test_file_shared_event_before_its_message_event_still_answers_in_the_thread(
    bot: Bot,
) -> None:
    """Slack does not order the two events of an upload: file_shared first, files.info telling
    no thread, must not answer at the top of the channel — the message event's job answers."""
    file = bot.slack.add_file(FakeFile("F000ORDER", "notes.md", NOTES, "text/markdown"))
    ts = next_ts()
    assert (await bot.event(file_shared_event("F000ORDER", event_id="EvORD001"))).status_code == 200
    assert (
        await bot.event(message_event([bot.share(file)], event_id="EvORD002", ts=ts))
    ).status_code == 200
    await bot.wait_final(1)
    await bot.wait_events("SLACK_EVENT_DUPLICATE")
    posted = bot.slack.posted(CHANNEL)
    assert [p["thread_ts"] for p in posted] == [ts]
    assert len([d for d in bot.slack.downloads if d.status == 200]) == 1


async def test_a_file_shared_event_alone_is_fetched_after_the_wait(bot: Bot) -> None:
    """No message event comes (say the app does not get the channel's messages): the
    file_shared event alone makes the file knowledge, answered in the thread files.info names."""
    file = bot.slack.add_file(FakeFile("F000ALONE", "notes.md", NOTES, "text/markdown"))
    ts = next_ts()
    file.shares = {"public": {CHANNEL: [{"ts": ts, "channel_name": "general"}]}}
    assert (await bot.event(file_shared_event("F000ALONE", event_id="EvALN001"))).status_code == 200
    [record] = await bot.wait_final(1)
    assert record.status == "completed"
    await bot.slack.wait_for(lambda: bot.slack.posted(CHANNEL), what="the card")
    assert [p["thread_ts"] for p in bot.slack.posted(CHANNEL)] == [ts]


async def test_sharing_a_known_file_again_in_the_same_channel_answers_again(bot: Bot) -> None:
    """A re-share is a new message: it gets its own "already in your knowledge base" answer."""
    file = bot.slack.add_file(FakeFile("F000RESHR", "notes.md", NOTES, "text/markdown"))
    await bot.event(message_event([bot.share(file)], event_id="EvRSH001"))
    await bot.wait_final(1)
    await bot.slack.wait_for(lambda: bot.slack.posted(CHANNEL), what="the first card")
    again = next_ts()
    await bot.event(message_event([bot.share(file)], event_id="EvRSH002", ts=again))
    await bot.slack.wait_for(lambda: len(bot.slack.posted(CHANNEL)) == 2, what="the second answer")
    second = bot.slack.posted(CHANNEL)[1]
    assert second["thread_ts"] == again
    assert second["text"].startswith("Already in your knowledge base: Launch notes")
    assert len(await bot.files()) == 1 and len(await bot.items()) == 1


async def test_reshare_in_the_same_channel_after_a_refused_download_fetches_again(
    bot: Bot,
) -> None:
    """The sign-in page made the first share fail; once access is fixed, sharing the file again
    in the same channel downloads it and answers with the card."""
    file = bot.slack.add_file(FakeFile("F000FIXED", "notes.md", NOTES, "text/markdown",
                                       sign_in_page=True))  # fmt: skip
    await bot.event(message_event([bot.share(file)], event_id="EvFIX001"))
    [failed] = await bot.wait_final(1)
    assert failed.reason == "slack_download_unauthorized"
    file.sign_in_page = False
    again = next_ts()
    await bot.event(message_event([bot.share(file)], event_id="EvFIX002", ts=again))
    await bot.slack.wait_for(lambda: len(bot.slack.posted(CHANNEL)) == 2, what="the card")
    [record] = await bot.files()
    assert (record.status, record.reason) == ("completed", None)
    card = bot.slack.posted(CHANNEL)[1]
    assert card["thread_ts"] == again and "Halvorsen" in blocks_text(card)


async def test_slack_and_email_items_of_one_person_are_one_history(bot: Bot) -> None:
    """A Slack user whose profile email is an email-ingest user's is that same user and tenant."""
    from services.identity import resolve_email_sender

    async with bot.rt.sessions() as session:
        tenant, user = await resolve_email_sender(session, bot.rt.settings, "dana@example.com")
    file = bot.slack.add_file(FakeFile("F000LINK1", "notes.md", NOTES, "text/markdown"))
    await bot.event(message_event([bot.share(file)], event_id="EvLINK01", user=USER))
    files = await bot.wait_final(1)
    assert (files[0].tenant_id, files[0].user_id) == (tenant.id, user.id)
    users = await bot.users()
    assert [(u.email, u.slack_user_id) for u in users] == [("dana@example.com", USER)]
    assert users[0].timezone == "Europe/Berlin"  # email gave no zone; the Slack profile did
    tenants = await bot.tenants()
    assert [(t.email_domain, t.slack_team_id) for t in tenants] == [("example.com", "T000FAKE1")]


async def test_same_slack_file_shared_in_another_channel_answers_there(bot: Bot) -> None:
    """Sharing a known Slack file in a second channel answers there with the existing item."""
    file = bot.slack.add_file(FakeFile("F000AGAIN", "notes.md", NOTES, "text/markdown"))
    await bot.event(message_event([bot.share(file)], event_id="EvAGAIN1"))
    await bot.wait_final(1)
    ts = next_ts()
    await bot.event(
        message_event([bot.share(file)], event_id="EvAGAIN2", channel="C000OTHER", ts=ts)
    )
    await bot.slack.wait_for(lambda: bot.slack.posted("C000OTHER"), what="the second answer")
    [again] = bot.slack.posted("C000OTHER")
    assert again["thread_ts"] == ts
    assert again["text"].startswith("Already in your knowledge base: Launch notes")
    assert len(await bot.files()) == 1 and len(await bot.items()) == 1
    assert len([d for d in bot.slack.downloads if d.status == 200]) == 1  # fetched once


async def test_a_failed_users_info_is_retried_not_turned_into_a_tenant_of_its_own(
    settings: Settings, fake_slack: FakeSlack, analysis_pool: AnalysisPool
) -> None:
    """Slack erring on the team's first users.info must not decide the tenant for good: the
    fetch is retried, and the person is linked to their email history as always."""
    from services.identity import resolve_email_sender

    fake_slack.errors["users.info"] = "internal_error"
    fake_slack.error_times["users.info"] = 1
    async with running_bot(settings, fake_slack, analysis_pool, job_retry_backoff_s=0.1) as bot:
        async with bot.rt.sessions() as session:
            tenant, user = await resolve_email_sender(session, bot.rt.settings, "dana@example.com")
        file = bot.slack.add_file(FakeFile("F000RETRY", "notes.md", NOTES, "text/markdown"))
        await bot.event(message_event([bot.share(file)], event_id="EvUIR001"))
        [record] = await bot.wait_final(1)
        assert (record.status, record.tenant_id, record.user_id) == (
            "completed",
            tenant.id,
            user.id,
        )
        assert [t.email_domain for t in await bot.tenants()] == ["example.com"]
        assert len([c for c in bot.slack.calls if c.method == "users.info"]) == 2
