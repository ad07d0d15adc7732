"""`contentmind digest` (print or send one now) and `contentmind outbox` (the local outbox)."""

from __future__ import annotations

import json
from email.parser import BytesParser
from email.policy import default as default_policy
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import typer

from cli.output import print_json, table
from cli.queries import find_user
from models.base import utcnow
from services.digest_delivery import OutgoingDigest, build_kit
from services.digests import Outcome, create_on_demand, deliver, enqueue_send, preview
from services.runtime import Runtime
from services.settings import Settings


async def run_digest(
    settings: Settings, redis_url: str | None, email_address: str, *, send: bool,
    channel: str | None, as_json: bool,
) -> int:  # fmt: skip
    """Print the user's digest as it would go out now, or send it; returns the exit code."""
    rt = await Runtime.open(settings, redis_url=redis_url)
    try:
        async with rt.sessions() as session:
            user = await find_user(session, settings, email_address)
        kit = build_kit(rt)
        if not send:
            outgoing = await preview(rt, kit, user, channel=channel, now=utcnow())
            _print_preview(outgoing, channel or user.digest_channel, as_json)
            return 0
        digest = await create_on_demand(rt, user, channel=channel, triggered_by="cli", now=utcnow())
        outcome = await deliver(rt, kit, digest.id, now=utcnow())
        if outcome.retry_in_s is not None and redis_url:
            await enqueue_send(rt, digest, defer_s=outcome.retry_in_s)
        _print_outcome(outcome, as_json)
        return 1 if outcome.status == "failed" else 0
    finally:
        await rt.close()


def _print_preview(outgoing: OutgoingDigest, channel: str, as_json: bool) -> None:
    if as_json:
        print_json(
            {
                "digest_id": outgoing.digest_id, "subject": outgoing.subject,
                "item_count": outgoing.item_count, "failure_count": outgoing.failure_count,
                "text": outgoing.text, "blocks": outgoing.blocks,
            }
        )  # fmt: skip
    elif channel == "slack":
        print(json.dumps(outgoing.blocks, indent=2, ensure_ascii=False))
    else:
        print(f"Subject: {outgoing.subject}\n\n{outgoing.text}")


def _print_outcome(outcome: Outcome, as_json: bool) -> None:
    if as_json:
        print_json(
            {
                "digest_id": outcome.digest_id, "status": outcome.status,
                "reason": outcome.reason, "retry_in_s": outcome.retry_in_s,
                "message": outcome.message, "delivery_ref": outcome.delivery_ref,
            }
        )  # fmt: skip
        return
    typer.echo(outcome_words(outcome))


def outcome_words(outcome: Outcome) -> str:
    """What became of a sent digest, in one line."""
    if outcome.status == "sent":
        where = outcome.delivery_ref or ""
        if where.endswith(".eml"):  # no relay configured: the local outbox
            return f"Digest sent to the local outbox: {where}"
        return "Digest sent."
    if outcome.status == "skipped":
        return f"No digest sent ({outcome.reason})."
    why = f" {outcome.message}" if outcome.message else ""
    if outcome.status == "failed":
        return f"The digest could not be sent ({outcome.reason}).{why}"
    if outcome.status == "deferred":
        later = f"in {outcome.retry_in_s:.0f} s" if outcome.retry_in_s is not None else "later"
        return f"Delivery deferred ({outcome.reason}).{why} A worker retries it {later}."
    return f"Digest {outcome.status}."


async def run_prefs(
    settings: Settings, email_address: str, *, enabled: bool | None, at: str | None,
    timezone: str | None, weekdays_only: bool | None, channel: str | None,
) -> str:  # fmt: skip
    """Change what was given of a user's digest preferences; returns the resulting sentence."""
    from services import preferences

    rt = await Runtime.open(settings, redis_url=None)
    try:
        async with rt.sessions() as session:
            user = await find_user(session, settings, email_address)
            changes = preferences.Changes(
                enabled=enabled, time_text=at, timezone=timezone,
                weekdays_only=weekdays_only, channel=channel,
            )  # fmt: skip
            user = await preferences.change(session, user_id=user.id, changes=changes)
            return preferences.describe(user)
    finally:
        await rt.close()


def outbox_entries(folder: Path, limit: int) -> list[dict[str, Any]]:
    """The newest `limit` .eml files of the outbox: file, date, to, subject."""
    paths = sorted(p for p in folder.glob("*.eml") if not p.name.startswith("."))
    entries = []
    for path in paths[-limit:] if limit else paths:
        with path.open("rb") as handle:
            headers = BytesParser(policy=default_policy).parse(handle, headersonly=True)
        entries.append(
            {
                "file": str(path), "date": _iso_date(headers["Date"]),
                "to": str(headers["To"] or ""), "subject": str(headers["Subject"] or ""),
            }
        )  # fmt: skip
    return entries


def _iso_date(value: object) -> str | None:
    try:
        return parsedate_to_datetime(str(value)).isoformat() if value else None
    except (TypeError, ValueError):
        return None


def show_outbox(settings: Settings, *, limit: int, as_json: bool) -> None:
    entries = outbox_entries(settings.outbox_dir, limit)
    if as_json:
        print_json(entries)
        return
    if not entries:
        typer.echo(f"The outbox ({settings.outbox_dir}) is empty.")
        return
    table(
        f"Outbox: {settings.outbox_dir}",
        ["date", "to", "subject", "file"],
        [[e["date"], e["to"], e["subject"], Path(e["file"]).name] for e in entries],
    )
