"""A local stand-in for Slack: the Web API methods the bot calls, the file host, response_url
endpoints and a Socket Mode WebSocket, answering with Slack's real JSON shapes.

The file host behaves like files.slack.com: without a valid `Authorization: Bearer <bot token>`
header it answers HTTP 200 with an HTML sign-in page; with it, a redirect to where the bytes
are, which checks the header again (so a client must keep it across the redirect).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import WSMsgType, web

BOT_TOKEN = "xoxb-test-bot-token"
APP_TOKEN = "xapp-test-app-token"
TEAM_ID = "T000FAKE1"
BOT_USER_ID = "U0BOT0001"
SIGN_IN_PAGE = (
    '<!DOCTYPE html><html lang="en-US"><head><title>Sign in | Slack</title></head><body>'
    '<div class="signin"><h1>Sign in to Example Workspace</h1><p>Your browser is not supported,'
    ' or you need to sign in to continue.</p><form action="/signin" method="post">'
    '<input name="email"><button>Sign in</button></form></div></body></html>'
)


@dataclass
class FakeFile:
    """A file Slack knows: what files.info says and what the download serves."""

    id: str
    name: str
    content: bytes
    mimetype: str
    team: str = TEAM_ID
    filetype: str = ""
    info_error: str | None = None  # files.info answers {"ok": false, "error": …}
    sign_in_page: bool = False  # the host serves the sign-in page even with the token
    download_status: int | None = None  # the host answers every download with this status
    shares: dict[str, Any] | None = None


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    authorization: str | None


@dataclass
class Download:
    path: str
    authorization: str | None
    status: int


@dataclass
class FakeSlack:
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    files: dict[str, FakeFile] = field(default_factory=dict)
    delays: dict[str, float] = field(default_factory=dict)  # method → seconds before answering
    errors: dict[str, str] = field(default_factory=dict)  # method → error code to answer
    error_times: dict[str, int] = field(default_factory=dict)  # method → answer its error N times
    calls: list[Call] = field(default_factory=list)
    downloads: list[Download] = field(default_factory=list)
    responses: list[dict[str, Any]] = field(default_factory=list)  # posts to response_urls
    socket_acks: list[dict[str, Any]] = field(default_factory=list)
    port: int = 0
    _ts: Any = field(default_factory=lambda: itertools.count(1))
    _sockets: list[web.WebSocketResponse] = field(default_factory=list)
    _runner: web.AppRunner | None = None

    # --- addresses ---------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/api/"

    def download_url(self, file: FakeFile) -> str:
        return f"{self.base_url}/files-pri/{file.team}-{file.id}/download/{file.name}"

    def response_url(self, name: str = "fake") -> str:
        return f"{self.base_url}/commands/{TEAM_ID}/000/{name}"

    # --- what the tests set up ---------------------------------------------------------------

    def add_user(
        self, user_id: str, *, email: str | None, team_id: str = TEAM_ID, tz: str = "Europe/Berlin"
    ) -> None:
        name = (email or user_id).split("@")[0]
        self.users[user_id] = {
            "id": user_id, "team_id": team_id, "name": name, "real_name": name.title(),
            "tz": tz, "is_bot": False, "deleted": False,
            "profile": {"email": email, "display_name": name, "real_name": name.title()},
        }  # fmt: skip

    def add_file(self, file: FakeFile) -> FakeFile:
        self.files[file.id] = file
        return file

    def file_object(self, file: FakeFile) -> dict[str, Any]:
        """The file as Slack describes it in events and in files.info."""
        data: dict[str, Any] = {
            "id": file.id, "name": file.name, "title": file.name, "mimetype": file.mimetype,
            "filetype": file.filetype, "size": len(file.content),
            "url_private": self.download_url(file).replace("/download", ""),
            "url_private_download": self.download_url(file),
            "permalink": f"https://example.slack.com/files/U000FAKE1/{file.id}/{file.name}",
        }  # fmt: skip
        if file.shares is not None:
            data["shares"] = file.shares
        return data

    # --- what the tests read -----------------------------------------------------------------

    def called(self, method: str) -> list[Call]:
        return [call for call in self.calls if call.method == method]

    def posted(self, channel: str | None = None) -> list[dict[str, Any]]:
        """chat.postMessage params, oldest first (optionally to one channel)."""
        return [
            call.params
            for call in self.called("chat.postMessage")
            if channel is None or call.params.get("channel") == channel
        ]

    async def wait_for(
        self, check: Callable[[], Any], *, timeout: float = 60.0, what: str = "condition"
    ) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = check()
            if value:
                return value
            await asyncio.sleep(0.05)
        raise AssertionError(
            f"{what} not seen in {timeout}s; calls: {[c.method for c in self.calls]}"
        )

    # --- the server --------------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_get("/files-pri/{team_file}/download/{name}", self._download)
        app.router.add_get("/files-cdn/{file_id}/{name}", self._serve)
        app.router.add_post("/commands/{team}/{id}/{name}", self._response_url)
        app.router.add_get("/socket", self._socket)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        for ws in self._sockets:
            await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _params(self, request: web.Request) -> dict[str, Any]:
        params: dict[str, Any] = dict(request.query)
        body = await request.read()
        if body:
            if request.content_type == "application/json":
                params.update(json.loads(body))
            else:
                params.update(dict(parse_qsl(body.decode())))
        return params

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = await self._params(request)
        authorization = request.headers.get("Authorization")
        self.calls.append(Call(method, params, authorization))
        await asyncio.sleep(self.delays.get(method, 0))
        expected = APP_TOKEN if method == "apps.connections.open" else BOT_TOKEN
        if authorization != f"Bearer {expected}":
            return web.json_response({"ok": False, "error": "invalid_auth"})
        if method in self.errors and self.error_times.get(method, 1) > 0:
            if method in self.error_times:
                self.error_times[method] -= 1
            return web.json_response({"ok": False, "error": self.errors[method]})
        handler = getattr(self, "_" + method.replace(".", "_"), None)
        if handler is None:
            return web.json_response({"ok": False, "error": "unknown_method"})
        return web.json_response(handler(params))

    def _auth_test(self, _params: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True, "url": "https://example.slack.com/", "team": "Example Workspace",
            "user": "contentmind", "team_id": TEAM_ID, "user_id": BOT_USER_ID,
            "bot_id": "B0BOT0001", "is_enterprise_install": False,
        }  # fmt: skip

    def _users_info(self, params: dict[str, Any]) -> dict[str, Any]:
        user = self.users.get(params.get("user", ""))
        return {"ok": True, "user": user} if user else {"ok": False, "error": "user_not_found"}

    def _files_info(self, params: dict[str, Any]) -> dict[str, Any]:
        file = self.files.get(params.get("file", ""))
        if file is None:
            return {"ok": False, "error": "file_not_found"}
        if file.info_error:
            return {"ok": False, "error": file.info_error}
        return {"ok": True, "file": self.file_object(file), "comments": [],
                "response_metadata": {"next_cursor": ""}}  # fmt: skip

    def _next_ts(self) -> str:
        return f"1709630000.{next(self._ts):06d}"

    def _chat_postMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        ts = self._next_ts()
        message = {"type": "message", "user": BOT_USER_ID, "ts": ts, "text": params.get("text"),
                   "blocks": params.get("blocks")}  # fmt: skip
        return {"ok": True, "channel": params.get("channel"), "ts": ts, "message": message}

    def _chat_postEphemeral(self, _params: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "message_ts": self._next_ts()}

    def _conversations_open(self, params: dict[str, Any]) -> dict[str, Any]:
        user = str(params.get("users", "")).split(",")[0]
        return {"ok": True, "channel": {"id": "D" + user.removeprefix("U")}}

    def _views_publish(self, params: dict[str, Any]) -> dict[str, Any]:
        view = params.get("view")
        view = json.loads(view) if isinstance(view, str) else view
        return {"ok": True, "view": {"id": "V0000001", "type": "home", **(view or {})}}

    def _apps_connections_open(self, _params: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "url": f"ws://127.0.0.1:{self.port}/socket"}

    # --- the file host -----------------------------------------------------------------------

    def _authorized(self, request: web.Request) -> bool:
        return request.headers.get("Authorization") == f"Bearer {BOT_TOKEN}"

    async def _download(self, request: web.Request) -> web.Response:
        file_id = request.match_info["team_file"].rsplit("-", 1)[-1]
        file = self.files.get(file_id)
        authorization = request.headers.get("Authorization")
        if file is None:
            self.downloads.append(Download(request.path, authorization, 404))
            return web.Response(status=404, text="not found")
        if file.sign_in_page or not self._authorized(request):
            self.downloads.append(Download(request.path, authorization, 200))
            return _sign_in_page()
        if file.download_status is not None:
            self.downloads.append(Download(request.path, authorization, file.download_status))
            return web.Response(status=file.download_status, text="Service Unavailable")
        self.downloads.append(Download(request.path, authorization, 302))
        raise web.HTTPFound(f"/files-cdn/{file.id}/{file.name}")

    async def _serve(self, request: web.Request) -> web.Response:
        file = self.files[request.match_info["file_id"]]
        authorization = request.headers.get("Authorization")
        if not self._authorized(request):
            self.downloads.append(Download(request.path, authorization, 200))
            return _sign_in_page()
        self.downloads.append(Download(request.path, authorization, 200))
        return web.Response(body=file.content, content_type=file.mimetype)

    async def _response_url(self, request: web.Request) -> web.Response:
        self.responses.append(await request.json())
        return web.Response(text="ok")

    # --- Socket Mode -------------------------------------------------------------------------

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self._sockets.append(ws)
        await ws.send_json({"type": "hello", "num_connections": 1,
                            "connection_info": {"app_id": "A000FAKE1"}})  # fmt: skip
        async for message in ws:
            if message.type == WSMsgType.TEXT:
                self.socket_acks.append(json.loads(message.data))
        return ws

    async def send_envelope(self, envelope: dict[str, Any]) -> None:
        """Push one Socket Mode envelope to the connected bot."""
        await self.wait_for(lambda: self._sockets, what="a Socket Mode connection", timeout=10)
        await self._sockets[-1].send_json(envelope)


def _sign_in_page() -> web.Response:
    return web.Response(
        text=SIGN_IN_PAGE,
        content_type="text/html",
        charset="utf-8",
        headers={"Cache-Control": "private, no-cache"},
    )
