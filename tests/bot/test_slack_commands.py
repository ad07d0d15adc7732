"""Slash commands and the App Home tab, each answered for the caller's own team only."""

from __future__ import annotations

from typing import Any

from models import User
from tests.bot.conftest import TEAM_2, USER, USER_2, Bot, message_event
from tests.bot.fake_slack import TEAM_ID, FakeFile
from tests.bot.test_slack_files import NOTES, blocks_text

TEAM_1_DOC = (
    b"# Quokka supply plan\n\nThe Quokka warehouse in Perth doubles its stock in August.\n\n"
    b"Our team decided to ship Quokka orders from Perth on Tuesdays.\n"
)
TEAM_2_DOC = (
    b"# Quokka competitor notes\n\nTheir Quokka pricing is secret and confidential to team two.\n\n"
    b"Team two decided to drop Quokka discounts in winter.\n"
)


async def _two_teams_with_items(bot: Bot) -> None:
    one = bot.slack.add_file(FakeFile("F000TEAM1", "supply.md", TEAM_1_DOC, "text/markdown"))
    two = bot.slack.add_file(FakeFile("F000TEAM2", "competitor.md", TEAM_2_DOC, "text/markdown",
                                      team=TEAM_2))  # fmt: skip
    await bot.event(message_event([bot.share(one)], event_id="EvTEAM1"))
    await bot.event(message_event([bot.share(two)], event_id="EvTEAM2", team=TEAM_2, user=USER_2,
                                  channel="C000TEAM2"))  # fmt: skip
    files = await bot.wait_final(2)
    assert {f.status for f in files} == {"completed"}
    assert len({f.tenant_id for f in files}) == 2


async def _answer(bot: Bot, count: int = 1) -> dict[str, Any]:
    await bot.slack.wait_for(lambda: len(bot.slack.responses) >= count, what="the command's answer")
    return bot.slack.responses[count - 1]


async def test_search_returns_only_the_callers_team_items(bot: Bot) -> None:
    """/search quokka: each team sees its own item and never the other team's."""
    await _two_teams_with_items(bot)
    assert (await bot.command("/search", "quokka")).status_code == 200
    mine = await _answer(bot, 1)
    assert mine["response_type"] == "ephemeral"
    assert "Quokka supply plan" in blocks_text(mine)
    assert "competitor" not in blocks_text(mine).lower()
    await bot.command("/search", "quokka", team=TEAM_2, user=USER_2, channel="C000TEAM2")
    theirs = blocks_text(await _answer(bot, 2))
    assert "Quokka competitor notes" in theirs and "supply plan" not in theirs
    await bot.command("/search", "confidential")
    assert "Nothing in your team's knowledge matches" in (await _answer(bot, 3))["text"]
    used = await bot.events("COMMAND_USED")
    assert [(e.event_metadata["command"], e.event_metadata["text_length"]) for e in used] == [
        ("search", 6), ("search", 6), ("search", 12),
    ]  # fmt: skip
    assert all(e.correlation_id for e in used)


async def test_ask_answers_from_the_callers_team_with_citations(bot: Bot) -> None:
    """/ask quotes the team's own item with a [1] citation; the other team's text never appears."""
    await _two_teams_with_items(bot)
    await bot.command("/ask", "What did we decide about Quokka orders?")
    answer = await _answer(bot, 1)
    text = blocks_text(answer)
    assert "ship Quokka orders from Perth on Tuesdays. [1]" in text
    assert "[1] <http://contentmind.test/items/" in text and "Quokka supply plan" in text
    assert "discounts" not in text and "confidential" not in text
    await bot.command("/contentmind", "ask what did we decide about quokka discounts?",
                      team=TEAM_2, user=USER_2, channel="C000TEAM2")  # fmt: skip
    theirs = blocks_text(await _answer(bot, 2))
    assert "drop Quokka discounts in winter" in theirs and "Perth" not in theirs
    assert len(await bot.wait_events("COMMAND_COMPLETED", 2)) == 2


async def test_stats_shows_processed_files_against_the_previous_period(bot: Bot) -> None:
    """/stats 30d team: one file processed, ▲ +1 against the 30 days before; storage in MB."""
    file = bot.slack.add_file(FakeFile("F000STAT1", "notes.md", NOTES, "text/markdown"))
    await bot.event(message_event([bot.share(file)], event_id="EvSTAT01"))
    await bot.wait_final(1)
    await bot.wait_events("FILE_PROCESSED")
    await bot.command("/stats", "30d team")
    answer = await _answer(bot)
    text = blocks_text(answer)
    assert answer["response_type"] == "ephemeral"
    assert "Team ContentMind usage — last 30 days" in text
    assert "*Files processed*\n1  (▲ +1 vs the 30 days before)" in text
    assert "*Files failed*\n0  (same as the 30 days before)" in text
    assert "*Storage used*\nunder 0.01 MB" in text
    await bot.command("/stats", "fortnight")
    assert "/stats does not understand “fortnight”" in blocks_text(await _answer(bot, 2))


async def test_help_and_unknown_subcommands_show_the_help_text(bot: Bot) -> None:
    """/contentmind help lists the commands; an unknown word says it is unknown, then helps."""
    await bot.command("/contentmind", "help")
    assert "`/search QUERY`" in blocks_text(await _answer(bot, 1))
    await bot.command("/contentmind", "frobnicate")
    text = blocks_text(await _answer(bot, 2))
    assert "I don't know “frobnicate”." in text and "`/ask QUESTION`" in text
    await bot.command("/stats", "yearly")  # arguments it cannot read: help, and the command ends
    await _answer(bot, 3)
    used = await bot.wait_events("COMMAND_USED", 3)
    ended = await bot.wait_events("COMMAND_COMPLETED", 3)
    assert {e.correlation_id for e in used} == {e.correlation_id for e in ended}


async def test_digest_settings_change_through_the_preferences_service(bot: Bot) -> None:
    """/digest time 07:30 and /digest off change the caller's settings and say so."""
    await bot.command("/digest", "time 07:30")
    assert (await _answer(bot, 1))["text"] == (
        "Digests are on: every day at 07:30 (Europe/Berlin) by slack."
    )
    await bot.command("/digest", "off")
    assert (await _answer(bot, 2))["text"] == (
        "Digests are off (turned on, they come every day at 07:30 (Europe/Berlin) by slack)."
    )
    users: list[User] = await bot.users()
    assert [(u.digest_enabled, u.digest_hour, u.digest_minute) for u in users] == [(False, 7, 30)]
    await bot.command("/digest", "time 25:00")
    assert "not a time of day" in (await _answer(bot, 3))["text"]


async def _open_home(bot: Bot, user: str, event_id: str, opened: int) -> dict[str, Any]:
    event = {"type": "app_home_opened", "user": user, "channel": "D000FAKE1", "tab": "home",
             "event_ts": "1709630000.000001"}  # fmt: skip
    payload = {"token": "x", "team_id": TEAM_ID, "api_app_id": "A000FAKE1", "event": event,
               "type": "event_callback", "event_id": event_id}  # fmt: skip
    assert (await bot.event(payload)).status_code == 200
    await bot.slack.wait_for(
        lambda: len(bot.slack.called("views.publish")) >= opened, what="the view"
    )
    published = bot.slack.called("views.publish")
    assert published[opened - 1].params["user_id"] == user
    view: dict[str, Any] = published[opened - 1].params["view"]
    assert view["type"] == "home"
    return view


async def test_app_home_shows_recent_items_and_usage(bot: Bot) -> None:
    """Opening the Home tab publishes the user's recent items and their week's usage."""
    file = bot.slack.add_file(FakeFile("F000HOME1", "notes.md", NOTES, "text/markdown"))
    await bot.event(message_event([bot.share(file)], event_id="EvHOME01"))
    await bot.wait_final(1)
    text = blocks_text(await _open_home(bot, USER, "EvHOME02", opened=1))
    assert "Launch notes" in text and "Your ContentMind usage — last 7 days" in text


async def test_app_home_shows_the_item_a_colleagues_earlier_share_made(bot: Bot) -> None:
    """A teammate shares a file the team already has: their Home lists the item it matched."""
    first = bot.slack.add_file(FakeFile("F000HOME3", "notes.md", NOTES, "text/markdown"))
    again = bot.slack.add_file(FakeFile("F000HOME4", "launch.md", NOTES, "text/markdown"))
    await bot.event(message_event([bot.share(first)], event_id="EvHOME03"))
    await bot.wait_final(1)
    await bot.event(message_event([bot.share(again)], event_id="EvHOME04", user="U000FAKE2"))
    files = await bot.wait_final(2)
    assert sorted((f.original_filename, f.reason) for f in files) == [
        ("launch.md", "duplicate"), ("notes.md", None),
    ]  # fmt: skip
    text = blocks_text(await _open_home(bot, "U000FAKE2", "EvHOME05", opened=1))
    assert "Launch notes" in text
