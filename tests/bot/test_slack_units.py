"""The bot's pure parts: reading events, arguments, where the token may go, message escaping."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from bot.blocks import ItemView, file_card
from bot.client import token_may_go_to
from bot.download import looks_like_html
from bot.intake import retry_num
from bot.shares import (
    is_file_message,
    message_location,
    share_from_file_shared,
    shares_from_message,
)
from bot.usage import BadArguments, StatsArgs, parse_stats_args
from models.base import utcnow
from services.rendering import create_environment
from services.settings import Settings


def test_connect_stub_is_read_without_name_or_url() -> None:
    """A Slack Connect stub (id + file_access only) becomes a share that asks files.info."""
    body = {"team_id": "T1", "event_id": "Ev1", "is_ext_shared_channel": True}
    event = {"type": "message", "subtype": "file_share", "user": "U1", "channel": "C1",
             "ts": "1.1", "files": [{"id": "F1", "mode": "file_access",
                                     "file_access": "check_file_info"}, {"mode": "x"}]}  # fmt: skip
    [share] = shares_from_message(body, event, parent_correlation_id="p")
    assert (share.file_id, share.team_id, share.is_stub, share.is_ext_shared_channel) == (
        "F1", "T1", True, True,
    )  # fmt: skip
    assert share.reply_thread_ts == "1.1" and share.parent_correlation_id == "p"


def test_which_messages_carry_files() -> None:
    """Shares and plain file messages count; edits, deletions and bots' posts do not."""
    files = [{"id": "F1"}]
    assert is_file_message({"subtype": "file_share", "files": files})
    assert is_file_message({"files": files})
    assert not is_file_message({"subtype": "message_changed", "files": files})
    assert not is_file_message({"subtype": "file_share", "files": files, "bot_id": "B1"})
    assert not is_file_message({"text": "hello"})


def test_file_shared_event_and_its_thread_from_files_info() -> None:
    """file_shared names no message; files.info `shares` gives the message and its thread."""
    event = {"file_id": "F9", "channel_id": "D7", "user_id": "U1"}
    share = share_from_file_shared({"team_id": "T1"}, event, parent_correlation_id=None)
    assert share is not None and (share.file_id, share.channel_type) == ("F9", "im")
    info = {"shares": {"private": {"D7": [{"ts": "5.5", "thread_ts": "4.4"}]}}}
    assert message_location(info, "D7") == ("5.5", "4.4")
    assert message_location({}, "D7") == (None, None)
    assert share_from_file_shared({}, {}, parent_correlation_id=None) is None


def test_retry_num_header_values() -> None:
    """X-Slack-Retry-Num as bolt passes it (a list), missing, or garbage."""
    assert retry_num({"x-slack-retry-num": ["2"]}) == 2
    assert retry_num({}) == 0
    assert retry_num({"x-slack-retry-num": ["x"]}) == 0


def test_stats_arguments() -> None:
    """[7d|30d] [me|team] in any order; anything else is refused in words."""
    assert parse_stats_args("") == StatsArgs(7, False)
    assert parse_stats_args("team 30d") == StatsArgs(30, True)
    with pytest.raises(BadArguments, match="“weekly”"):
        parse_stats_args("weekly")


def test_bot_token_goes_only_to_slack_hosts() -> None:
    """files.slack.com and slack.com yes; anything else (even look-alikes) no."""
    settings = Settings(slack_bot_token=SecretStr("xoxb-1"))
    assert token_may_go_to(settings, "https://files.slack.com/files-pri/T-F/download/a.pdf")
    assert token_may_go_to(settings, "https://slack.com/api/files.info")
    assert not token_may_go_to(settings, "https://files.slack.com.evil.example/a.pdf")
    assert not token_may_go_to(settings, "https://cdn.example.com/a.pdf")


def test_sign_in_page_is_recognised_by_type_or_body() -> None:
    """HTML by content type, or by its first bytes when the type lies."""
    assert looks_like_html("text/html; charset=utf-8", b"%PDF-1.7")
    assert looks_like_html("application/octet-stream", b"  <!DOCTYPE html><html>")
    assert not looks_like_html("application/pdf", b"%PDF-1.7")


def test_card_escapes_content_so_it_cannot_ping_or_link() -> None:
    """A document saying <!channel> or <http://x|y> shows as text, not a mention or a link."""
    item = ItemView(
        id="k1", title="Plan <!channel>", summary="See <http://evil.example|here> & more",
        filename="a<b>.md", source="slack", created_at=utcnow(),
        key_points=["<@U123> owns it"], keywords=["x&y"],
    )  # fmt: skip
    message = file_card(create_environment(), item, reference="ref1")
    header, *mrkdwn = message.blocks
    assert header["text"] == {"type": "plain_text", "text": "Plan <!channel>"}  # never parsed
    text = str(mrkdwn)
    assert "<!channel>" not in text and "<http://evil" not in text and "<@U123>" not in text
    assert "&lt;http://evil.example|here&gt; &amp; more" in text and "a&lt;b&gt;.md" in text
