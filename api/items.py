"""GET /items/<signed id>: one knowledge item's summary page (the link in Slack cards and answers).

The id is signed (services.links), so a link opens that one item only; a bad or altered token,
or an item that is gone, gets 404 and the same page for both. The full text is never shown.
"""

from __future__ import annotations

import structlog
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from bot.blocks import SOURCE_LABELS, when
from models import KnowledgeItem
from services.analytics import track_api_call
from services.links import ITEM_PATH, ItemTokens
from services.rendering import create_environment, render
from services.runtime import Runtime
from services.unsubscribe import load_secret_key

log = structlog.get_logger(__name__)
PAGE = "web/item.html.j2"
HEADERS = {"Cache-Control": "private, no-store", "X-Robots-Tag": "noindex"}


def routes(rt: Runtime) -> list[BaseRoute]:
    env = create_environment(rt.settings.templates_dir)
    tokens = ItemTokens(load_secret_key(rt.settings))

    @track_api_call(ITEM_PATH)
    async def item_page(request: Request) -> Response:
        structlog.contextvars.clear_contextvars()
        item_id = tokens.read(request.path_params["token"])
        item = None
        if item_id:
            async with rt.sessions() as session:
                item = await session.get(KnowledgeItem, item_id)
        if item is None:
            return HTMLResponse(render(env, PAGE, item=None), status_code=404, headers=HEADERS)
        html = render(
            env, PAGE, item=True, title=item.title, summary=item.summary,
            key_points=item.key_points, keywords=item.keywords, filename=item.original_filename,
            source_label=SOURCE_LABELS.get(item.source, item.source), when=when(item.created_at),
        )  # fmt: skip
        return HTMLResponse(html, headers=HEADERS)

    return [Route(ITEM_PATH + "{token}", item_page, methods=["GET"])]
