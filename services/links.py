"""Links to a knowledge item: `{public_base_url}/items/<signed id>`, a page the API serves.

The token is the item id signed with the instance's secret key (its own salt), so a link cannot
be guessed or altered to reach another item; whoever holds the link (the people in the Slack
thread) can open that one item's summary page.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote

from services.settings import Settings
from services.signing import SignedIds
from services.unsubscribe import load_secret_key

_SALT = "contentmind.item-link.v1"
ITEM_PATH = "/items/"


class ItemTokens(SignedIds):
    """Make and check the token in an item page's link."""

    salt = _SALT


def item_links(settings: Settings) -> Callable[[str], str | None]:
    """item id → absolute URL of its page."""
    tokens = ItemTokens(load_secret_key(settings))
    base = settings.public_base_url.rstrip("/")
    return lambda item_id: f"{base}{ITEM_PATH}{quote(tokens.make(item_id))}"
