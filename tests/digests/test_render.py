"""Rendering alone: Block Kit within Slack's limits, escaped HTML, plain text, overrides."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from agents.digest import DigestAgent, DigestFailure, DigestItem
from services.digest_render import (
    MAX_BLOCKS,
    MAX_HEADER_CHARS,
    MAX_SECTION_CHARS,
    DigestView,
    build_email_message,
    fallback_text,
    render_blocks,
    render_email,
)
from services.rendering import create_environment

T0 = datetime(2024, 3, 5, 6, 30, tzinfo=UTC)
EVIL = '<script>alert("x")</script> & <!channel>'


def view_of(items: list[DigestItem], failures: list[DigestFailure] | None = None,
            **agent: Any) -> DigestView:  # fmt: skip
    return DigestView(
        content=DigestAgent(**agent).build(items, failures or []),
        recipient="dana@acme.example", local_date=date(2024, 3, 5), timezone="Europe/Berlin",
        since=T0 - timedelta(days=1), unsubscribe_url="http://127.0.0.1:8080/unsubscribe?token=t.k",
        reference="c0ffee",
    )  # fmt: skip


def many_items(count: int, *, text: str = "x") -> list[DigestItem]:
    return [
        DigestItem(
            id=f"i{n}", title=f"Report {n} {text}", summary=f"Summary {n} " + text * 50,
            key_points=[f"Point {k} of {n}" for k in range(3)], keywords=[f"topic{n % 4}"],
            source="email", filename=f"report-{n}.pdf", created_at=T0 + timedelta(minutes=n),
        )
        for n in range(count)
    ]  # fmt: skip


def assert_valid_blocks(blocks: list[dict[str, Any]]) -> None:
    assert 0 < len(blocks) <= MAX_BLOCKS
    for block in blocks:
        assert block["type"] in {"header", "section", "divider", "context"}
        if block["type"] == "header":
            assert block["text"]["type"] == "plain_text"
            assert 0 < len(block["text"]["text"]) <= MAX_HEADER_CHARS
        if block["type"] == "section":
            assert block["text"]["type"] == "mrkdwn"
            assert 0 < len(block["text"]["text"]) <= MAX_SECTION_CHARS
        if block["type"] == "context":
            assert 0 < len(block["elements"]) <= 10
    json.dumps(blocks)  # serialisable as Slack wants it


def test_blocks_for_many_items_stay_within_limits_and_say_how_many_more() -> None:
    """500 long items: ≤ 50 blocks, each section ≤ 3000 chars, and an "and N more" line."""
    view = view_of(many_items(500, text="y" * 200), max_items=500, summary_chars=5000)
    blocks = render_blocks(create_environment(), view)
    assert_valid_blocks(blocks)
    assert len(blocks) == MAX_BLOCKS
    item_sections = [b for b in blocks if b["type"] == "section" and "Report " in b["text"]["text"]
                     and b["text"]["text"].startswith("*Report")]  # fmt: skip
    more = [b for b in blocks if b["type"] == "section" and b["text"]["text"].startswith("…and ")]
    assert more and more[0]["text"]["text"] == f"…and {500 - len(item_sections)} more new items."
    assert blocks[-1]["type"] == "context" and "unsubscribe" in blocks[-1]["elements"][0]["text"]


def test_blocks_for_a_few_items_show_all_of_them() -> None:
    """Three items: header, lead, group heading(s), the three items, footer; no "more"."""
    blocks = render_blocks(create_environment(), view_of(many_items(3)))
    assert_valid_blocks(blocks)
    texts = [b["text"]["text"] for b in blocks if b["type"] == "section"]
    assert sum(t.startswith("*Report") for t in texts) == 3
    assert not any(t.startswith("…and") for t in texts)
    assert blocks[0]["text"]["text"] == "Your ContentMind digest — Tuesday 5 March 2024"


def test_blocks_escape_document_text_for_slack() -> None:
    """A title with <script> and <!channel> arrives as text, never as markup or a mention."""
    item = many_items(1)[0]
    evil = replace(item, title=EVIL, summary=EVIL)
    failure = DigestFailure("f", "<b>bad</b>.pdf", "corrupt_file", "Broken & <gone>.")
    blocks = render_blocks(create_environment(), view_of([evil], [failure]))
    dump = json.dumps(blocks)
    assert "<script>" not in dump and "<!channel>" not in dump and "<b>" not in dump
    assert "&lt;script&gt;alert" in dump and "&amp; &lt;!channel&gt;" in dump
    assert any("1 file could not be read" in b["text"]["text"] for b in blocks if "text" in b)


def test_email_parts_escape_html_and_keep_text_plain() -> None:
    """HTML escapes document content; the plain part shows it as typed; subject counts."""
    item = many_items(1)[0]
    evil = replace(item, title=EVIL)
    failure = DigestFailure("f", "scan.pdf", "no_text_layer", "Only images.")
    rendered = render_email(create_environment(), view_of([evil], [failure]))
    assert "<script>" not in rendered.html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &lt;!channel&gt;" in rendered.html
    assert EVIL in rendered.text
    assert rendered.subject == "Your ContentMind digest for Tue 5 Mar: 1 new item, 1 file not read"
    assert "1 file could not be read" in rendered.text and "scan.pdf" in rendered.html
    assert 'style="' in rendered.html and "<style" not in rendered.html  # inline CSS only


def test_email_message_is_multipart_alternative_with_one_click_unsubscribe() -> None:
    """Text then HTML alternatives, List-Unsubscribe (https and mailto) and the One-Click post."""
    view = view_of(many_items(2))
    message = build_email_message(
        render_email(create_environment(), view), mail_from="ContentMind <cm@ingest.test>",
        to="dana@acme.example", domain="ingest.test", unsubscribe_url=view.unsubscribe_url,
        unsubscribe_mailto="mailto:unsubscribe@ingest.test?subject=unsubscribe",
    )  # fmt: skip
    assert message.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]
    assert message["List-Unsubscribe"] == (
        f"<{view.unsubscribe_url}>, <mailto:unsubscribe@ingest.test?subject=unsubscribe>"
    )
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_operator_templates_override_the_shipped_ones(tmp_path: Path) -> None:
    """A copy in templates_dir wins over the shipped template; the others still load."""
    (tmp_path / "email").mkdir()
    (tmp_path / "email" / "digest.txt.j2").write_text("Team news: {{ lead }}\n")
    rendered = render_email(create_environment(tmp_path), view_of(many_items(2)))
    assert rendered.text.startswith("Team news: 2 new items")
    assert "<table" in rendered.html


def test_footer_lines_stay_apart_and_the_lead_counts_the_rest_in_words() -> None:
    """The footer's reason and its unsubscribe line are separate lines (text) and words (HTML),
    and an on-demand digest with daily digests off offers to turn them on, not off; the lead
    names two titles and "N more" (never "2 mores")."""
    items = [
        DigestItem(id=f"i{n}", title=f"Report {name}", summary="A summary.", key_points=[],
                   keywords=[word], source="email", filename=f"{n}.pdf", created_at=T0)
        for n, (name, word) in enumerate([("Alder", "alder"), ("Birch", "birch"),
                                          ("Cedar", "cedar"), ("Dogwood", "dogwood")])
    ]  # fmt: skip
    view = view_of(items)
    rendered = render_email(create_environment(), view)
    assert "digests are on for dana@acme.example.\nTurn them off: http" in rendered.text
    assert "\n-- \nYou get this digest" in rendered.text  # the signature separator
    assert "on for dana@acme.example.\n<a " in rendered.html
    assert " and 2 more." in view.content.lead and "mores" not in view.content.lead
    asked = render_email(create_environment(), replace(view, on_demand=True, daily_on=False))
    assert (
        "This digest was made on request, outside the schedule; scheduled digests for"
        " dana@acme.example are off.\nTo turn them on, ask whoever runs ContentMind for your team."
        in asked.text
    )
    # nothing to unsubscribe from: the footer says how to turn them on instead, in Slack only
    # for a user Slack knows
    assert view.unsubscribe_url not in asked.text and view.unsubscribe_url not in asked.html
    assert "Unsubscribe" not in asked.html and "/digest on" not in asked.html + asked.text
    linked = render_email(
        create_environment(), replace(view, on_demand=True, daily_on=False, slack_linked=True)
    )
    assert "\nTurn them on with `/digest on` in Slack.\n" in linked.text
    assert "<code>/digest on</code> in Slack" in linked.html
    footers = [
        render_blocks(create_environment(), v)[-1]["elements"][0]["text"]
        for v in (view, replace(view, on_demand=True, daily_on=False))
    ]
    assert footers[0].startswith("Turn digests off with `/digest off` or <http")
    assert footers[1].startswith("Scheduled digests are off: turn them on with `/digest on`.")


def test_slack_notification_text_counts_once() -> None:
    text = fallback_text(view_of(many_items(4)))
    assert text.startswith("Your ContentMind digest for Tue 5 Mar: 4 new items")
    assert text.count("4 new items") == 1
