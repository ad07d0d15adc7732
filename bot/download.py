"""Getting a shared file's bytes from Slack: files.info for stubs, then an authorised download.

The bot token travels only in the Authorization header, and only to Slack's hosts — on every
hop of a redirect, which HTTP clients otherwise drop. What comes back is checked: Slack answers
a download it does not authorise with HTTP 200 and an HTML sign-in page, which must never be
stored as the file.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import aiohttp
import httpx
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.client import bot_token, token_may_go_to
from services.errors import ContentMindError, TooLarge
from services.settings import Settings

MAX_REDIRECTS = 5
_HTML_STARTS = (b"<!doctype html", b"<html", b"<head", b"<body")
_NO_ACCESS_ERRORS = frozenset(
    {"access_denied", "not_allowed_token_type", "missing_scope", "not_in_channel", "no_permission"}
)
_GONE_ERRORS = frozenset({"file_not_found", "file_deleted"})
SCOPE_HINT = (
    "Check that the ContentMind app has the files:read scope and is a member of the channel, "
    "then share the file again."
)


class SlackFileError(ContentMindError):
    """The file could not be fetched from Slack; `details` go to analytics, never to the user."""

    reason = "slack_download_failed"
    default_message = "The file could not be downloaded from Slack."

    def __init__(self, user_message: str | None = None, **details: Any) -> None:
        super().__init__(user_message)
        self.details = details


class SlackDownloadUnauthorized(SlackFileError):
    reason = "slack_download_unauthorized"
    default_message = "Slack did not let ContentMind download this file. " + SCOPE_HINT


class SlackConnectNoAccess(SlackFileError):
    reason = "slack_connect_no_access"
    default_message = (
        "This file comes from another organisation's workspace (Slack Connect) and ContentMind "
        "has no access to it. Ask the sender to share it directly, or upload a copy."
    )


class SlackFileUnavailable(SlackFileError):
    reason = "slack_file_unavailable"
    default_message = (
        "The file is no longer available in Slack (deleted, or not visible to the app)."
    )


class SlackDownloadTransient(SlackFileError):
    reason = "slack_download_failed"
    permanent = False
    default_message = (
        "Slack did not deliver the file (it could not be reached, or answered with an error)."
    )


@dataclass(frozen=True)
class Downloaded:
    data: bytes
    content_type: str | None
    status: int


async def file_info(client: AsyncWebClient, file_id: str, *, slack_connect: bool) -> dict[str, Any]:
    """The full file object from files.info; errors become SlackFileErrors with a reason."""
    try:
        response = await client.files_info(file=file_id)
    except SlackApiError as error:
        code = str(error.response.get("error") or "")
        if code == "ratelimited" or error.response.status_code >= 500:
            raise SlackDownloadTransient(api_error=code) from None
        if slack_connect:
            raise SlackConnectNoAccess(api_error=code) from None
        if code in _NO_ACCESS_ERRORS:
            raise SlackDownloadUnauthorized(api_error=code) from None
        raise SlackFileUnavailable(api_error=code) from None
    except (aiohttp.ClientError, OSError, TimeoutError) as error:  # the Web API client is aiohttp
        raise SlackDownloadTransient(api_error=type(error).__name__) from None
    file = response.get("file")
    if not isinstance(file, dict):
        raise SlackFileUnavailable(api_error="no_file_in_response")
    return file


def expects_html(file: dict[str, Any]) -> bool:
    mimetype = str(file.get("mimetype") or "").lower()
    return mimetype.startswith("text/html") or str(file.get("filetype") or "") == "html"


def looks_like_html(content_type: str | None, data: bytes) -> bool:
    if (content_type or "").lower().startswith("text/html"):
        return True
    return data[:512].lstrip().lower().startswith(_HTML_STARTS)


async def download(settings: Settings, file: dict[str, Any]) -> Downloaded:
    """The file's bytes, or a SlackFileError (or TooLarge) saying why not."""
    url = file.get("url_private_download") or file.get("url_private")
    if not isinstance(url, str) or not url:
        raise SlackFileUnavailable(api_error="no_download_url")
    size = file.get("size")
    if isinstance(size, int) and size > settings.max_file_bytes:
        raise TooLarge(_too_large(size, settings.max_file_bytes))
    result = await _fetch(settings, url)
    if looks_like_html(result.content_type, result.data) and not expects_html(file):
        raise SlackDownloadUnauthorized(status=result.status, content_type=result.content_type)
    return result


def _too_large(size: int, limit: int) -> str:
    return f"The file is {size / 1e6:.1f} MB; the limit is {limit / 1e6:.1f} MB."


async def _fetch(settings: Settings, url: str) -> Downloaded:
    timeout = httpx.Timeout(60.0, connect=10.0)
    try:
        async with httpx.AsyncClient(follow_redirects=False, timeout=timeout) as http:
            for _ in range(MAX_REDIRECTS + 1):
                headers = _auth_headers(settings, url)
                async with http.stream("GET", url, headers=headers) as response:
                    if response.is_redirect and "location" in response.headers:
                        url = urljoin(url, response.headers["location"])
                        continue
                    return await _read(settings, response)
    except httpx.HTTPError as error:
        raise SlackDownloadTransient(api_error=type(error).__name__) from None
    raise SlackDownloadTransient(api_error="too_many_redirects")


def _auth_headers(settings: Settings, url: str) -> dict[str, str]:
    """Authorization on every hop to a Slack host (over HTTPS, or to the configured API host)."""
    secure = urlsplit(url).scheme == "https" or not settings.slack_api_base_url.startswith("https")
    if secure and token_may_go_to(settings, url):
        return {"Authorization": f"Bearer {bot_token(settings)}"}
    return {}


async def _read(settings: Settings, response: httpx.Response) -> Downloaded:
    status = response.status_code
    content_type = response.headers.get("content-type")
    if status in (401, 403):
        raise SlackDownloadUnauthorized(status=status, content_type=content_type)
    if status in (404, 410):
        raise SlackFileUnavailable(status=status, content_type=content_type)
    if status != 200:
        raise SlackDownloadTransient(status=status, content_type=content_type)
    limit = settings.max_file_bytes
    chunks: list[bytes] = []
    received = 0
    async for chunk in response.aiter_bytes():
        received += len(chunk)
        if received > limit:
            raise TooLarge(_too_large(received, limit))
        chunks.append(chunk)
    return Downloaded(b"".join(chunks), content_type, status)
