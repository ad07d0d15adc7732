"""Events API listeners: shared files (message, file_shared) and the App Home tab."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.listeners.events.app_home_opened import ack_home, publish_home
from bot.listeners.events.file_shared import file_shared
from bot.listeners.events.message_files import message_files


def register(app: AsyncApp) -> None:
    app.event("message")(message_files)
    app.event("file_shared")(file_shared)
    app.event("app_home_opened")(ack=ack_home, lazy=[publish_home])
