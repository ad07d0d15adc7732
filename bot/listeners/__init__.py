"""Every listener of the bot, registered by kind (as in Slack's bolt starter app)."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.listeners import commands, errors, events


def register_listeners(app: AsyncApp) -> None:
    events.register(app)
    commands.register(app)
    errors.register(app)
