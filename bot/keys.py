"""Every Redis key and job name the Slack door uses, in one place."""

from __future__ import annotations

FETCH_SLACK_FILE = "fetch_slack_file"
SLACK_COMMAND = "slack_command"

# Slack retries an event for up to about an hour; dedupe records outlive that by far.
EVENT_TTL_S = 24 * 3600
REPLY_TTL_S = 30 * 24 * 3600
IDENTITY_LOCK_S = 15

_PREFIX = "contentmind:slack"


def event_key(team_id: str, event_id: str) -> str:
    """Seen-marker of one Events API delivery (the same event_id on every retry)."""
    return f"{_PREFIX}:event:{team_id}:{event_id}"


def share_key(team_id: str, file_id: str, channel_id: str | None) -> str:
    """One upload arrives as a message event and a file_shared event: one share per channel."""
    return f"{_PREFIX}:share:{team_id}:{file_id}:{channel_id or '-'}"


def reply_key(file_record_id: str, channel_id: str, thread_ts: str | None) -> str:
    """Claimed right before the thread reply about a file goes out (at most one per place)."""
    return f"{_PREFIX}:reply:{file_record_id}:{channel_id}:{thread_ts or '-'}"


def identity_lock(team_id: str, user_id: str) -> str:
    return f"{_PREFIX}:identity:{team_id}:{user_id}"


def fetch_job_id(team_id: str, file_id: str, channel_id: str | None) -> str:
    return f"{FETCH_SLACK_FILE}:{team_id}:{file_id}:{channel_id or '-'}"


def command_job_id(correlation_id: str) -> str:
    return f"{SLACK_COMMAND}:{correlation_id}"


def command_digest_key(correlation_id: str) -> str:
    """The on-demand digest a /digest command created (a retried job delivers the same one)."""
    return f"{_PREFIX}:digest:{correlation_id}"
