"""Links to a knowledge item: `{public_base_url}/items/<signed id>`, a page the API serves.

The token is the item id signed with the instance's secret key (its own salt), so a link cannot
be guessed or altered to reach another item; whoever holds the link (the people in the Slack
thread) can open that one item's summary page.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote

from itsdangerous import BadSignature, URLSafeSerializer

from services.settings import Settings
from services.unsubscribe import load_secret_key

_SALT = "contentmind.item-link.v1"
ITEM_PATH = "/items/"


class ItemTokens:
    def __init__(self, secret: str) -> None:
        self._serializer = URLSafeSerializer(secret, salt=_SALT)

    def make(self, item_id: str) -> str:
        return str(self._serializer.dumps(item_id))

    def read(self, token: str) -> str | None:
        try:
            value = self._serializer.loads(token)
        except BadSignature:
            return None
        return value if isinstance(value, str) else None


def item_links(settings: Settings) -> Callable[[str], str | None]:
    """item id → absolute URL of its page."""
    tokens = ItemTokens(load_secret_key(settings))
    base = settings.public_base_url.rstrip("/")
    return lambda item_id: f"{base}{ITEM_PATH}{quote(tokens.make(item_id))}"
