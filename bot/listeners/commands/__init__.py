"""Slash commands: each acks at once (`ack_now`) and answers from a lazy listener."""

from __future__ import annotations

import re

from slack_bolt.async_app import AsyncApp

from bot.commands import ack_now
from bot.listeners.commands.ask import ask_command
from bot.listeners.commands.contentmind import contentmind_command
from bot.listeners.commands.digest import digest_command
from bot.listeners.commands.search import search_command
from bot.listeners.commands.stats import stats_command

UMBRELLA = re.compile(r"^/(contentmind|kb)$")  # `/contentmind search …`; /kb is its short alias


def register(app: AsyncApp) -> None:
    app.command("/stats")(ack=ack_now, lazy=[stats_command])
    app.command("/search")(ack=ack_now, lazy=[search_command])
    app.command("/ask")(ack=ack_now, lazy=[ask_command])
    app.command("/digest")(ack=ack_now, lazy=[digest_command])
    app.command(UMBRELLA)(ack=ack_now, lazy=[contentmind_command])
