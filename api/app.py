"""The HTTP app: one Starlette application that every HTTP door adds its routes to.

A router is a function `(rt: Runtime) -> list[BaseRoute]` in its own module under api/ (or the
door's package, e.g. bot/); `route_factories()` lists them. To add one (the Slack bot's
`/slack/events`), write the factory and add it to that list; `create_app` builds the app from
them, and `contentmind api` / `contentmind up` serve it (see api/server.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from starlette.applications import Starlette
from starlette.routing import BaseRoute

from api import health, items, unsubscribe
from bot.server import slack_routes
from services.runtime import Runtime

RouteFactory = Callable[[Runtime], Sequence[BaseRoute]]


def route_factories() -> list[RouteFactory]:
    """Every router the app serves."""
    return [health.routes, unsubscribe.routes, items.routes, slack_routes]


def create_app(rt: Runtime, *, routers: Sequence[RouteFactory] | None = None) -> Starlette:
    """The app over `rt`: the given routers, or all of `route_factories()`."""
    factories = route_factories() if routers is None else routers
    app = Starlette(routes=[route for factory in factories for route in factory(rt)])
    app.state.rt = rt
    return app
