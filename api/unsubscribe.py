"""GET/POST /unsubscribe?token=…: the signed link in every digest turns digests off.

GET (a person following the footer link) shows a page with one button, because mail
scanners open links by themselves; POST does it — the button, or a mail client's RFC 8058
one-click request (body `List-Unsubscribe=One-Click`). A bad token gets 400 and changes nothing.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

import structlog
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from models import User
from services.analytics import EventType, track_api_call
from services.preferences import set_digest_enabled
from services.rendering import create_environment, render
from services.runtime import Runtime
from services.unsubscribe import UnsubscribeTokens, load_secret_key

log = structlog.get_logger(__name__)
PAGE = "web/unsubscribe.html.j2"
NO_STORE = {"Cache-Control": "no-store", "X-Robots-Tag": "noindex"}


def mask(address: str | None) -> str:
    """a•••@acme.example: enough for the owner to recognise, little for anyone else."""
    if not address or "@" not in address:
        return "this account"
    local, _, domain = address.partition("@")
    return f"{local[:1]}•••@{domain}"


async def _token(request: Request) -> str | None:
    token = request.query_params.get("token")
    if token or request.method != "POST":
        return token
    form = parse_qs((await request.body()).decode("utf-8", "replace"))
    values = form.get("token")
    return values[0] if values else None


def routes(rt: Runtime) -> list[BaseRoute]:
    env = create_environment(rt.settings.templates_dir)
    tokens = UnsubscribeTokens(load_secret_key(rt.settings))

    def page(state: str, status: int = 200, **context: Any) -> Response:
        html = render(env, PAGE, state=state, recipient=context.get("recipient", ""),
                      action=context.get("action", ""))  # fmt: skip
        return HTMLResponse(html, status_code=status, headers=NO_STORE)

    @track_api_call("/unsubscribe")
    async def unsubscribe(request: Request) -> Response:
        structlog.contextvars.clear_contextvars()
        token = await _token(request)
        user_id = tokens.read(token) if token else None
        async with rt.sessions() as session:
            user = await session.get(User, user_id) if user_id else None
            if user is None:
                return page("invalid", 400)
            structlog.contextvars.bind_contextvars(user_id=user.id, tenant_id=user.tenant_id)
            if request.method == "GET":
                return page("confirm", recipient=mask(user.email), action=str(request.url))
            await set_digest_enabled(session, user_id=user.id, enabled=False)
        one_click = "List-Unsubscribe=One-Click" in (await request.body()).decode(
            "utf-8", "replace"
        )
        log.info("digest_unsubscribed", one_click=one_click)
        rt.analytics.log_event(
            EventType.DIGEST_UNSUBSCRIBED,
            user_id=user.id,
            tenant_id=user.tenant_id,
            metadata={"via": "one_click" if one_click else "link"},
        )
        return page("done", recipient=mask(user.email))

    return [Route("/unsubscribe", unsubscribe, methods=["GET", "POST"])]
