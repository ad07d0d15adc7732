"""Every Redis key and job name the Slack door uses, in one place."""

from __future__ import annotations

FETCH_SLACK_FILE = "fetch_slack_file"
SLACK_COMMAND = "slack_command"

# Slack retries an event for up to about an hour; dedupe records outlive that by far.
EVENT_TTL_S = 24 * 3600
# A message event and the file_shared event of one upload arrive within seconds of each other.
IN_MESSAGE_TTL_S = 10 * 60
REPLY_TTL_S = 30 * 24 * 3600
IDENTITY_LOCK_S = 15

_PREFIX = "contentmind:slack"


def event_key(team_id: str, event_id: str) -> str:
    """Seen-marker of one Events API delivery (the same event_id on every retry)."""
    return f"{_PREFIX}:event:{team_id}:{event_id}"


def share_key(team_id: str, file_id: str, channel_id: str | None, message_ts: str) -> str:
    """One share of a file: the message that carried it (a re-share is a new message)."""
    return f"{_PREFIX}:share:{team_id}:{file_id}:{channel_id or '-'}:{message_ts}"


def in_message_key(team_id: str, file_id: str, channel_id: str | None) -> str:
    """Set while a message event with the file in the channel was seen lately: the upload's
    file_shared event (which names no message) is then the same share and creates no work."""
    return f"{_PREFIX}:in-message:{team_id}:{file_id}:{channel_id or '-'}"


def reply_key(file_record_id: str, channel_id: str, thread_ts: str | None) -> str:
    """Claimed right before the thread reply about a file goes out (at most one per place)."""
    return f"{_PREFIX}:reply:{file_record_id}:{channel_id}:{thread_ts or '-'}"


def identity_lock(team_id: str, user_id: str) -> str:
    return f"{_PREFIX}:identity:{team_id}:{user_id}"


def fetch_job_id(team_id: str, file_id: str, channel_id: str | None, share: str) -> str:
    """`share`: the message ts, or the file_shared event's id."""
    return f"{FETCH_SLACK_FILE}:{team_id}:{file_id}:{channel_id or '-'}:{share}"


def command_job_id(correlation_id: str) -> str:
    return f"{SLACK_COMMAND}:{correlation_id}"


def command_digest_key(correlation_id: str) -> str:
    """The on-demand digest a /digest command created (a retried job delivers the same one)."""
    return f"{_PREFIX}:digest:{correlation_id}"
