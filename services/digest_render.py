"""A digest as an email (plain text + HTML) and as Slack Block Kit: pure functions of their input.

Templates come from templates/ (operators may override them, see settings.templates_dir). The
HTML templates are autoescaped, so a document's `<script>` arrives as text; Slack text is
escaped here (&, <, >) before it reaches a template, so a title cannot mention @channel or
forge a link. Block Kit output keeps Slack's limits: at most 50 blocks, at most 3000 characters
in a section and 150 in the header; what does not fit is counted as "and N more".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any

from jinja2 import Environment

from agents.digest import SOURCE_PHRASES, DigestContent, RankedItem, plural
from models.base import utcnow
from services.rendering import render
from services.schedule import zone

MAX_BLOCKS = 50
MAX_SECTION_CHARS = 3000
MAX_HEADER_CHARS = 150
MAX_FAILED_NAMES = 10
TITLE = "Your ContentMind digest"


@dataclass(frozen=True)
class DigestView:
    """Everything a digest template needs, beyond the agent's content."""

    content: DigestContent
    recipient: str
    local_date: date
    timezone: str
    since: datetime | None
    unsubscribe_url: str
    reference: str
    on_demand: bool = False  # asked for now (CLI, /digest now), not the daily one
    daily_on: bool = True  # the user's scheduled digests are on
    slack_linked: bool = False  # the user can use /digest in Slack


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


def subject_of(view: DigestView) -> str:
    content = view.content
    day = f"{view.local_date:%a} {view.local_date.day} {view.local_date:%b}"
    if content.is_empty:
        return f"{TITLE} for {day}: nothing new"
    parts = [plural(content.item_count, "new item")] if content.item_count else []
    if content.failure_count:
        parts.append(f"{plural(content.failure_count, 'file')} not read")
    return f"{TITLE} for {day}: {', '.join(parts)}"


DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _when(moment: datetime, timezone: str) -> str:
    """ "Tue 5 Mar, 08:00 CET" in the reader's zone (English, whatever the server's locale)."""
    if moment.tzinfo is None:  # a raw SQLite row: stored times are UTC
        moment = moment.replace(tzinfo=UTC)
    local = moment.astimezone(zone(timezone))
    day = f"{DAYS[local.weekday()]} {local.day} {MONTHS[local.month - 1]}"
    return f"{day}, {local.hour:02d}:{local.minute:02d} {local.tzname() or 'UTC'}"


@dataclass(frozen=True)
class ItemView:
    title: str
    filename: str
    source_label: str
    when: str
    summary: str
    key_points: list[str]


@dataclass(frozen=True)
class GroupView:
    name: str
    count: int
    entries: list[ItemView]


@dataclass(frozen=True)
class FailureView:
    count: int
    message: str
    filenames: list[str]


def _item(entry: RankedItem, timezone: str, escape: Any) -> ItemView:
    item = entry.item
    return ItemView(
        title=escape(item.title),
        filename=escape(item.filename),
        source_label=escape(SOURCE_PHRASES.get(item.source, f"from {item.source}")),
        when=_when(item.created_at, timezone),
        summary=escape(entry.summary),
        key_points=[escape(point) for point in entry.key_points],
    )


def _failures(content: DigestContent, escape: Any) -> list[FailureView]:
    groups = []
    for failure in content.failures:
        names = [escape(name) for name in failure.filenames[:MAX_FAILED_NAMES]]
        if failure.count > MAX_FAILED_NAMES:
            names.append(f"and {failure.count - MAX_FAILED_NAMES} more")
        groups.append(FailureView(failure.count, escape(failure.message), names))
    return groups


def _plain(value: str) -> str:
    return value


def context(view: DigestView, *, escape: Any = _plain) -> dict[str, Any]:
    """Template variables; `escape` is applied to every string that comes from documents."""
    content = view.content
    groups = [
        GroupView(
            escape(group.name),
            len(group.items),
            [_item(entry, view.timezone, escape) for entry in group.items],
        )
        for group in content.groups
    ]
    return {
        "title": TITLE,
        "date_label": f"{view.local_date:%A} {view.local_date.day} {view.local_date:%B %Y}",
        "since_label": f"since {_when(view.since, view.timezone)}" if view.since else None,
        "lead": escape(content.lead),
        "groups": groups,
        "item_count": content.item_count,
        "more_count": content.more_count,
        "failures": _failures(content, escape),
        "failure_headline": f"{plural(content.failure_count, 'file')} could not be read",
        "recipient": escape(view.recipient),
        "on_demand": view.on_demand,
        "daily_on": view.daily_on,
        "slack_linked": view.slack_linked,
        "unsubscribe_url": view.unsubscribe_url,
        "reference": view.reference,
    }


def render_email(env: Environment, view: DigestView) -> RenderedEmail:
    variables = context(view)
    return RenderedEmail(
        subject=subject_of(view),
        text=render(env, "email/digest.txt.j2", **variables),
        html=render(env, "email/digest.html.j2", **variables),  # autoescaped
    )


def build_email_message(
    rendered: RenderedEmail,
    *,
    mail_from: str,
    to: str,
    domain: str,
    unsubscribe_url: str | None,
    unsubscribe_mailto: str | None = None,
) -> EmailMessage:
    """multipart/alternative with RFC 8058 one-click unsubscribe headers (none without a URL:
    the recipient's scheduled digests are off already)."""
    message = EmailMessage()
    message["From"] = mail_from
    message["To"] = to
    message["Subject"] = rendered.subject
    message["Date"] = format_datetime(utcnow())
    message["Message-ID"] = make_msgid(domain=domain)
    message["Auto-Submitted"] = "auto-generated"
    if unsubscribe_url:
        mailto = [f"<{unsubscribe_mailto}>"] if unsubscribe_mailto else []
        message["List-Unsubscribe"] = ", ".join([f"<{unsubscribe_url}>", *mailto])
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(rendered.text)
    message.add_alternative(rendered.html, subtype="html")
    return message


def slack_escape(text: str) -> str:
    """Slack's three control characters; everything else is shown as typed."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def clip(text: str, limit: int) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": clip(text, MAX_SECTION_CHARS)}}


def render_blocks(env: Environment, view: DigestView) -> list[dict[str, Any]]:
    """Block Kit for one DM: header, lead, groups of items, failures, footer (≤ 50 blocks)."""
    variables = context(view, escape=slack_escape)
    header = f"{TITLE} — {variables['date_label']}"
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": clip(header, MAX_HEADER_CHARS)}},
        _section(variables["lead"]),
    ]
    tail: list[dict[str, Any]] = []
    if variables["failures"]:
        tail.append(_section(render(env, "slack/digest_failures.mrkdwn.j2", **variables)))
    footer = render(env, "slack/digest_footer.mrkdwn.j2", **variables).strip()
    tail.append({"type": "context", "elements": [{"type": "mrkdwn", "text": clip(footer, 3000)}]})
    shown = _add_groups(env, blocks, variables, room=MAX_BLOCKS - len(tail) - 1)
    more = view.content.item_count - shown
    if more > 0:
        blocks.append(_section(f"…and {plural(more, 'more new item')}."))
    return blocks + tail


def _add_groups(
    env: Environment,
    blocks: list[dict[str, Any]],
    variables: dict[str, Any],
    *,
    room: int,
) -> int:
    """Append a heading and the items of each group while they fit in `room` blocks."""
    shown = 0
    for group in variables["groups"]:
        if len(blocks) + 2 > room:  # a heading is worth adding only with one item under it
            break
        blocks.append(_section(f"*{group.name}* ({group.count})"))
        for item in group.entries:
            if len(blocks) + 1 > room:
                return shown
            blocks.append(_section(render(env, "slack/digest_item.mrkdwn.j2", item=item)))
            shown += 1
    return shown


def fallback_text(view: DigestView) -> str:
    """The notification text of the Slack message (chat.postMessage `text`): the title and the
    lead (which already counts the items, as the subject would)."""
    day = f"{view.local_date:%a} {view.local_date.day} {view.local_date:%b}"
    return clip(slack_escape(f"{TITLE} for {day}: {view.content.lead}"), 300)
