"""GET /healthz: the process is up and its database answers."""

from __future__ import annotations

from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from services.runtime import Runtime


def routes(rt: Runtime) -> list[BaseRoute]:
    async def healthz(_request: Request) -> Response:
        async with rt.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
        return JSONResponse({"status": "ok"})

    return [Route("/healthz", healthz, methods=["GET"])]
