"""The Slack app: built from settings, its listeners registered (bolt's starter-app layout).

Requests are processed before Slack gets its answer: an event is acknowledged once its work is
queued (a failure answers 500 and Slack delivers it again), and every command acknowledges at
once from its ack function while the work runs in a lazy listener or a job.
"""

from __future__ import annotations

import logging

from slack_bolt.async_app import AsyncApp

from bot.client import web_client
from bot.deps import BotDeps
from bot.listeners import register_listeners
from bot.middleware import attach_context
from services.rendering import create_environment
from services.runtime import Runtime


def build_app(rt: Runtime) -> AsyncApp:
    settings = rt.settings
    secret = settings.slack_signing_secret
    app = AsyncApp(
        client=web_client(settings),
        signing_secret=secret.get_secret_value() if secret else "",
        request_verification_enabled=secret is not None,  # Socket Mode needs no signature
        process_before_response=True,
        logger=logging.getLogger("bot.bolt"),
    )
    app.use(attach_context(BotDeps(rt, create_environment(settings.templates_dir))))
    register_listeners(app)
    return app
