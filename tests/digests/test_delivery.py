"""Delivery on both databases: a real SMTP relay (aiosmtpd) through aiosmtplib, retries,
failures that lose nothing, nothing-new days, and the Slack seam."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

import pytest
from arq import Retry

from models import DigestStatus
from services.digest_delivery import (
    DeliveryDeferred,
    DeliveryRefused,
    DigestKit,
    OutgoingDigest,
    build_kit,
    email_sender,
)
from services.digests import deliver, schedule_due
from services.runtime import Runtime
from tests.conftest import free_port
from tests.digests.conftest import Factory, Relay, RuntimeFactory, digests, events
from workers.digests import digest_cron, send_digest

MORNING = datetime(2024, 3, 5, 8, 0, tzinfo=UTC)  # a Tuesday, 08:00 UTC
EVIL_TITLE = "Q3 <script>alert('x')</script> report"


def body(message: EmailMessage, subtype: str) -> str:
    part = message.get_body(preferencelist=(subtype,))
    assert part is not None
    return str(part.get_content())


async def relay_runtime(runtime_with: RuntimeFactory, relay: Relay, **extra: object) -> Runtime:
    values = {"relay_host": "127.0.0.1", "relay_port": relay.port, "relay_starttls": False,
              "relay_ssl": False, "digest_retry_backoff_s": 0.1, **extra}  # fmt: skip
    rt: Runtime = await runtime_with(**values)
    return rt


async def test_digest_reaches_a_real_relay_as_multipart_with_unsubscribe(
    runtime_with: RuntimeFactory, relay: Relay
) -> None:
    """The relay gets one multipart/alternative digest: items, counts, escaped HTML, headers."""
    rt = await relay_runtime(runtime_with, relay)
    make = Factory(rt)
    dana = await make.user("dana@acme.example")
    earlier = MORNING - timedelta(hours=10)
    await make.item(dana, EVIL_TITLE, at=earlier, summary="Revenue <b>grew</b> 14 %.",
                    key_points=["Cloud revenue up"], keywords=["revenue"])  # fmt: skip
    await make.item(dana, "Revenue forecast", at=earlier, keywords=["revenue"])
    await make.failed_file(dana, "scan.pdf", at=earlier, reason="no_text_layer",
                           message="The file holds only images.")  # fmt: skip

    [digest] = await schedule_due(rt, now=MORNING)
    outcome = await deliver(rt, build_kit(rt), digest.id, now=MORNING)

    assert (outcome.status, outcome.delivery_ref) == ("sent", "relay")
    [message] = relay.received
    assert message.get_content_type() == "multipart/alternative"
    assert message["To"] == "dana@acme.example"
    assert (
        message["Subject"] == "Your ContentMind digest for Tue 5 Mar: 2 new items, 1 file not read"
    )
    assert message["List-Unsubscribe"].startswith("<http://127.0.0.1:8080/unsubscribe?token=")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    # on the wire the header is the literal <URL> mail clients look for (RFC 2369/8058), not
    # RFC 2047 encoded-words, which a long token used to make the folding produce
    [raw] = relay.raw
    wire = f"List-Unsubscribe: {message['List-Unsubscribe']}\r\n".encode()
    assert wire in raw and b"=?utf-8?" not in raw.split(b"\r\n\r\n")[0]
    assert b"\r\nDate: " in raw.split(b"\r\n\r\n")[0]
    text, html = body(message, "plain"), body(message, "html")
    assert EVIL_TITLE in text and "Revenue forecast" in text and "scan.pdf" in text
    assert "2 new items: mostly about revenue. 1 file could not be read." in text
    assert "<script>" not in html and "<b>grew</b>" not in html
    assert "Q3 &lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; report" in html
    assert "Revenue &lt;b&gt;grew&lt;/b&gt; 14 %." in html
    assert "1 file could not be read" in html and "The file holds only images." in html
    token_link = message["List-Unsubscribe"].strip("<>")
    assert f'href="{token_link}"' in html and token_link in text
    [sent] = await events(rt, "DIGEST_SENT")
    assert sent.event_metadata == {
        "digest_id": digest.id, "item_count": 2, "failure_count": 1, "channel": "email",
        "via": "relay", "type": "daily", "attempt": 1,
    }  # fmt: skip
    [generated] = await events(rt, "DIGEST_GENERATED")
    assert generated.event_metadata["triggered_by"] == "scheduled"
    assert sent.correlation_id == generated.correlation_id == digest.correlation_id


async def test_a_broken_file_sent_three_times_is_one_failed_file_in_the_digest(
    runtime_with: RuntimeFactory, relay: Relay
) -> None:
    """Three failed records of one content: the digest lists the file once, says how often it
    came, and counts one file not read (subject, lead, section)."""
    rt = await relay_runtime(runtime_with, relay)
    make = Factory(rt)
    dana = await make.user("dana@acme.example")
    for hours in (10, 9, 8):
        await make.failed_file(
            dana, "half.pdf", at=MORNING - timedelta(hours=hours),
            reason="corrupt_or_truncated_pdf", message="The PDF is damaged or incomplete.",
            sha256="ab" * 32,
        )  # fmt: skip

    [digest] = await schedule_due(rt, now=MORNING)
    assert (await deliver(rt, build_kit(rt), digest.id, now=MORNING)).status == "sent"

    [message] = relay.received
    assert message["Subject"] == "Your ContentMind digest for Tue 5 Mar: 1 file not read"
    text = body(message, "plain")
    assert "Nothing new was added; 1 file could not be read." in text
    assert "== 1 file could not be read ==" in text
    assert text.count("half.pdf") == 1 and "  - half.pdf (sent 3 times)" in text


async def test_relay_451_then_250_delivers_once(runtime_with: RuntimeFactory, relay: Relay) -> None:
    """A 451 defers the job with back-off (arq Retry); the next try delivers exactly once."""
    rt = await relay_runtime(runtime_with, relay)
    make = Factory(rt)
    dana = await make.user("dana@acme.example")
    await make.item(dana, "Board minutes", at=MORNING - timedelta(hours=3))
    relay.script = ["451 4.7.1 Greylisted, try again later"]
    [digest] = await schedule_due(rt, now=MORNING)
    ctx = {"rt": rt, "clock": lambda: MORNING, "job_try": 1}

    with pytest.raises(Retry) as deferred:
        await send_digest(ctx, digest.id)
    assert deferred.value.defer_score == 100  # 0.1 s × attempt 1, in ms
    assert await send_digest({**ctx, "job_try": 2}, digest.id) == "sent"
    assert await send_digest({**ctx, "job_try": 3}, digest.id) == "suppressed"  # a stray re-run

    assert relay.data_commands == 2 and len(relay.received) == 1
    [row] = await digests(rt)
    assert (row.status, row.attempts, row.error) == (DigestStatus.SENT, 2, None)
    assert len(await events(rt, "DIGEST_SENT")) == 1
    assert not await events(rt, "DIGEST_FAILED")
    [dup] = await events(rt, "DIGEST_DUPLICATE_SUPPRESSED")
    assert dup.event_metadata["stage"] == "deliver"


async def test_relay_5xx_fails_once_and_the_next_digest_carries_the_items(
    runtime_with: RuntimeFactory, relay: Relay
) -> None:
    """A 550 fails at once (no retry); the next day's digest has yesterday's items and today's."""
    rt = await relay_runtime(runtime_with, relay)
    make = Factory(rt)
    dana = await make.user("dana@acme.example")
    first = await make.item(dana, "Monday memo", at=MORNING - timedelta(hours=5))
    relay.script = ["550 5.1.1 Mailbox unavailable"]
    [day1] = await schedule_due(rt, now=MORNING)
    failed = await deliver(rt, build_kit(rt), day1.id, now=MORNING)
    assert (failed.status, failed.reason, failed.retry_in_s) == ("failed", "relay_refused", None)

    tomorrow = MORNING + timedelta(days=1)
    second = await make.item(dana, "Tuesday memo", at=tomorrow - timedelta(hours=2))
    [day2] = await schedule_due(rt, now=tomorrow)
    assert (await deliver(rt, build_kit(rt), day2.id, now=tomorrow)).status == "sent"
    third_day = tomorrow + timedelta(days=1)
    third = await make.item(dana, "Wednesday memo", at=third_day - timedelta(hours=1))
    [day3] = await schedule_due(rt, now=third_day)
    assert (await deliver(rt, build_kit(rt), day3.id, now=third_day)).status == "sent"

    rows = {d.local_date.isoformat(): d for d in await digests(rt)}
    assert rows["2024-03-05"].status == "failed" and rows["2024-03-05"].error == "relay_refused"
    assert sorted(rows["2024-03-06"].item_ids) == sorted([first.id, second.id])
    assert rows["2024-03-07"].item_ids == [third.id]  # never an item twice
    assert relay.data_commands == 3 and len(relay.received) == 2
    text = body(relay.received[0], "plain")
    assert "Monday memo" in text and "Tuesday memo" in text
    [failed_event] = await events(rt, "DIGEST_FAILED")
    assert failed_event.event_metadata["reason"] == "relay_refused"
    assert failed_event.event_metadata["attempt"] == 1


async def test_retries_exhausted_fail_and_release_the_items(
    runtime_with: RuntimeFactory, relay: Relay
) -> None:
    """Always 451: after digest_max_tries the digest fails; a later one still has the item."""
    rt = await relay_runtime(runtime_with, relay, digest_max_tries=2)
    make = Factory(rt)
    dana = await make.user("dana@acme.example")
    memo = await make.item(dana, "Only memo", at=MORNING - timedelta(hours=1))
    relay.script = ["451 4.3.0 Try later"] * 2
    [digest] = await schedule_due(rt, now=MORNING)
    kit = build_kit(rt)
    outcomes = [await deliver(rt, kit, digest.id, now=MORNING) for _ in range(2)]
    assert [o.status for o in outcomes] == ["deferred", "failed"]
    assert outcomes[1].reason == "relay_deferred"

    later = MORNING + timedelta(days=1)
    [next_day] = await schedule_due(rt, now=later)
    assert (await deliver(rt, kit, next_day.id, now=later)).status == "sent"
    assert (await digests(rt))[-1].item_ids == [memo.id]
    assert len(relay.received) == 1


async def test_no_new_items_no_digest_unless_the_note_is_wanted(
    runtime_with: RuntimeFactory, relay: Relay
) -> None:
    """Nothing new: the day is marked skipped, nothing is sent; with the setting, a short note."""
    rt = await relay_runtime(runtime_with, relay)
    make = Factory(rt)
    dana = await make.user("dana@acme.example")
    [digest] = await schedule_due(rt, now=MORNING)
    assert (digest.status, digest.error, digest.user_id) == ("skipped", "nothing_new", dana.id)
    assert await digest_cron({"rt": rt, "clock": lambda: MORNING + timedelta(days=1)}) == 1
    assert await rt.require_redis().queued_jobs(queue_name=rt.settings.queue_name) == []
    outcome = await deliver(rt, build_kit(rt), digest.id, now=MORNING)
    assert (outcome.status, outcome.reason) == ("suppressed", "already_skipped")
    assert relay.received == [] and not await events(rt, "DIGEST_GENERATED")
    assert await schedule_due(rt, now=MORNING + timedelta(minutes=5)) == []  # the day is done

    noted = await relay_runtime(runtime_with, relay, digest_send_empty=True)
    await Factory(noted).user("erin@acme.example")
    [note] = await schedule_due(noted, now=MORNING)
    assert (await deliver(noted, build_kit(noted), note.id, now=MORNING)).status == "sent"
    [message] = relay.received
    assert message["Subject"] == "Your ContentMind digest for Tue 5 Mar: nothing new"
    assert "Nothing new." in body(message, "plain")
    assert dana.id != note.user_id


async def test_slack_digest_without_a_slack_sender_fails_clearly(
    rt: Runtime, factory: Factory
) -> None:
    """A slack-channel user with no Slack sender registered: DIGEST_FAILED slack_not_configured."""
    sam = await factory.user("sam@acme.example", channel="slack")
    await factory.item(sam, "Roadmap", at=MORNING - timedelta(hours=1))
    [digest] = await schedule_due(rt, now=MORNING)
    outcome = await deliver(rt, build_kit(rt), digest.id, now=MORNING)  # no Slack bot token
    assert (outcome.status, outcome.reason) == ("failed", "slack_not_configured")
    assert outcome.message is not None and "CONTENTMIND_SLACK_BOT_TOKEN" in outcome.message
    [event] = await events(rt, "DIGEST_FAILED")
    assert event.event_metadata["reason"] == "slack_not_configured"
    assert event.event_metadata["channel"] == "slack"
    assert (await digests(rt))[0].status == "failed"


class FakeSlack:
    """A Slack sender plugged in through the seam: rate-limited once, then posts."""

    channel = "slack"

    def __init__(self, answers: list[Exception | None]) -> None:
        self.answers = answers
        self.posted: list[OutgoingDigest] = []

    async def send(self, digest: OutgoingDigest) -> str:
        answer = self.answers.pop(0) if self.answers else None
        if answer is not None:
            raise answer
        self.posted.append(digest)
        return f"D123:{len(self.posted)}"


async def test_slack_sender_through_the_seam_honours_retry_after(
    rt: Runtime, factory: Factory
) -> None:
    """Rate limited with Retry-After 7 s: the retry waits 7 s; then the blocks are posted."""
    sam = await factory.user("sam@acme.example", channel="slack")
    await factory.item(sam, "Roadmap <2025>", at=MORNING - timedelta(hours=1))
    slack = FakeSlack([DeliveryDeferred("busy", reason="slack_ratelimited", retry_after_s=7)])
    kit = build_kit(rt, [email_sender, lambda _rt: slack])
    [digest] = await schedule_due(rt, now=MORNING)
    ctx = {"rt": rt, "clock": lambda: MORNING, "digest_kit": kit, "job_try": 1}
    with pytest.raises(Retry) as deferred:
        await send_digest(ctx, digest.id)
    assert deferred.value.defer_score == 7000
    assert await send_digest({**ctx, "job_try": 2}, digest.id) == "sent"

    [posted] = slack.posted
    assert posted.slack_user_id == sam.slack_user_id and posted.item_count == 1
    assert any("Roadmap &lt;2025&gt;" in b.get("text", {}).get("text", "") for b in posted.blocks)
    [sent] = await events(rt, "DIGEST_SENT")
    assert (sent.event_metadata["channel"], sent.event_metadata["via"]) == ("slack", "slack")
    assert (await digests(rt))[0].delivery_ref == "D123:1"


async def test_slack_user_not_found_fails_once(rt: Runtime, factory: Factory) -> None:
    """A permanent refusal from the sender ends the digest at once with its reason."""
    sam = await factory.user("sam@acme.example", channel="slack")
    await factory.item(sam, "Roadmap", at=MORNING - timedelta(hours=1))
    slack = FakeSlack([DeliveryRefused("no such user", reason="slack_user_not_found")])
    kit: DigestKit = build_kit(rt, [lambda _rt: slack])
    [digest] = await schedule_due(rt, now=MORNING)
    outcome = await deliver(rt, kit, digest.id, now=MORNING)
    assert (outcome.status, outcome.reason, outcome.retry_in_s) == (
        "failed", "slack_user_not_found", None,
    )  # fmt: skip
    assert (await deliver(rt, kit, digest.id, now=MORNING)).status == "suppressed"
    assert slack.posted == [] and len(await events(rt, "DIGEST_FAILED")) == 1


async def test_relay_without_starttls_is_a_setting_to_fix_said_once(
    runtime_with: RuntimeFactory, relay: Relay
) -> None:
    """STARTTLS on (the default) against a relay that does not offer it: failed at once, with
    the setting to change, not "could not be reached" retried for an hour."""
    rt = await relay_runtime(runtime_with, relay, relay_starttls=True)
    make = Factory(rt)
    dana = await make.user("dana@acme.example")
    await make.item(dana, "Monday memo", at=MORNING - timedelta(hours=5))
    [digest] = await schedule_due(rt, now=MORNING)
    outcome = await deliver(rt, build_kit(rt), digest.id, now=MORNING)
    assert (outcome.status, outcome.reason) == ("failed", "relay_refused")
    assert outcome.message is not None
    assert "does not offer STARTTLS" in outcome.message
    assert "CONTENTMIND_RELAY_STARTTLS=false" in outcome.message
    assert relay.data_commands == 0


async def test_unreachable_relay_names_host_and_cause(runtime_with: RuntimeFactory) -> None:
    rt = await runtime_with(relay_host="127.0.0.1", relay_port=free_port(), relay_starttls=False,
                            digest_max_tries=1)  # fmt: skip
    make = Factory(rt)
    dana = await make.user("dana@acme.example")
    await make.item(dana, "Monday memo", at=MORNING - timedelta(hours=5))
    [digest] = await schedule_due(rt, now=MORNING)
    outcome = await deliver(rt, build_kit(rt), digest.id, now=MORNING)
    assert (outcome.status, outcome.reason) == ("failed", "relay_deferred")
    assert outcome.message is not None and "could not be reached" in outcome.message
    assert f"127.0.0.1:{rt.settings.relay_port}" in outcome.message
