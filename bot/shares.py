"""What a Slack event says about a shared file, as plain data a job can carry (pure; no I/O).

A file reaches the bot as a `message` event with `files` (channels the bot is in, DMs, threads)
and as a `file_shared` event. In Slack Connect channels the file object is a stub (`id` and
`file_access: check_file_info`) and the rest comes from files.info. Nothing here assumes a key
is present.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from models.base import new_id

# Message subtypes that can carry shared files (a plain message with files has no subtype).
FILE_MESSAGE_SUBTYPES = frozenset({None, "file_share", "thread_broadcast"})


@dataclass(frozen=True)
class FileShare:
    """One file shared in one place, and where to answer about it."""

    team_id: str
    file_id: str
    user_id: str | None
    channel_id: str | None
    channel_type: str | None  # channel | group | im | mpim
    message_ts: str | None  # the message that carried the file (None for file_shared)
    thread_ts: str | None  # the thread the message is in, if any
    is_ext_shared_channel: bool
    event_id: str | None
    correlation_id: str  # the file's own id; its events carry the event's as parent
    parent_correlation_id: str | None
    file: dict[str, Any] = field(default_factory=dict)  # the event's file object (maybe a stub)

    @property
    def reply_thread_ts(self) -> str | None:
        """Answer in the message's thread (its own thread when it starts none)."""
        return self.thread_ts or self.message_ts

    @property
    def is_stub(self) -> bool:
        """The event lacks what a download needs: ask files.info first."""
        f = self.file
        return (
            f.get("file_access") == "check_file_info"
            or not f.get("url_private_download")
            or not f.get("name")
        )

    def as_job(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_job(cls, data: dict[str, Any]) -> FileShare:
        return cls(**data)

    def with_location(self, *, message_ts: str | None, thread_ts: str | None) -> FileShare:
        values = {**asdict(self), "message_ts": message_ts, "thread_ts": thread_ts}
        return FileShare(**values)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def is_file_message(event: dict[str, Any]) -> bool:
    """A person's message that carries files (not an edit, a deletion or a bot's post)."""
    files = event.get("files")
    return (
        isinstance(files, list)
        and bool(files)
        and event.get("subtype") in FILE_MESSAGE_SUBTYPES
        and not event.get("bot_id")
    )


def shares_from_message(
    body: dict[str, Any], event: dict[str, Any], *, parent_correlation_id: str | None
) -> list[FileShare]:
    """One share per file of a message event; files without an id are ignored."""
    shares = []
    for file in event.get("files") or []:
        if not isinstance(file, dict) or not _text(file.get("id")):
            continue
        shares.append(
            FileShare(
                team_id=_team_id(body, event),
                file_id=file["id"],
                user_id=_text(event.get("user")) or _text(file.get("user")),
                channel_id=_text(event.get("channel")),
                channel_type=_text(event.get("channel_type")),
                message_ts=_text(event.get("ts")),
                thread_ts=_text(event.get("thread_ts")),
                is_ext_shared_channel=bool(body.get("is_ext_shared_channel")),
                event_id=_text(body.get("event_id")),
                correlation_id=new_id(),
                parent_correlation_id=parent_correlation_id,
                file=dict(file),
            )
        )
    return shares


def share_from_file_shared(
    body: dict[str, Any], event: dict[str, Any], *, parent_correlation_id: str | None
) -> FileShare | None:
    """The share a file_shared event announces (it names the file and channel, not the message)."""
    raw = event.get("file")
    file: dict[str, Any] = raw if isinstance(raw, dict) else {}
    file_id = _text(event.get("file_id")) or _text(file.get("id"))
    if file_id is None:
        return None
    channel_id = _text(event.get("channel_id"))
    return FileShare(
        team_id=_team_id(body, event),
        file_id=file_id,
        user_id=_text(event.get("user_id")),
        channel_id=channel_id,
        channel_type="im" if channel_id and channel_id.startswith("D") else None,
        message_ts=None,
        thread_ts=None,
        is_ext_shared_channel=bool(body.get("is_ext_shared_channel")),
        event_id=_text(body.get("event_id")),
        correlation_id=new_id(),
        parent_correlation_id=parent_correlation_id,
        file={"id": file_id, **file},
    )


def _team_id(body: dict[str, Any], event: dict[str, Any]) -> str:
    """The workspace the app is installed in (not a Slack Connect partner's `user_team`)."""
    team = _text(body.get("team_id")) or _text(event.get("team")) or ""
    return team


def message_location(
    file_info: dict[str, Any], channel_id: str | None
) -> tuple[str | None, str | None]:
    """(message ts, thread ts) of the file's share in `channel_id`, from files.info `shares`."""
    shares = file_info.get("shares")
    if not channel_id or not isinstance(shares, dict):
        return None, None
    for visibility in ("public", "private"):
        places = shares.get(visibility)
        entries = places.get(channel_id) if isinstance(places, dict) else None
        if isinstance(entries, list) and entries and isinstance(entries[0], dict):
            latest = entries[0]
            return _text(latest.get("ts")), _text(latest.get("thread_ts"))
    return None, None
