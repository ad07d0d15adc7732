"""Signed unsubscribe links, and the secret key that signs them.

The key is CONTENTMIND_SECRET_KEY when set; otherwise one is generated on first use and kept in
the data dir (mode 0600), so every process sharing the data dir signs and checks alike. The
key is never logged; a token carries only the user id and a signature.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from pathlib import Path
from urllib.parse import quote

from services.settings import Settings
from services.signing import SignedIds

SECRET_FILE = "secret_key"
_SALT = "contentmind.digest-unsubscribe.v1"


def load_secret_key(settings: Settings) -> str:
    """The configured key, else the data dir's (created atomically the first time)."""
    if settings.secret_key is not None and settings.secret_key.get_secret_value():
        return settings.secret_key.get_secret_value()
    path = settings.data_dir / SECRET_FILE
    if not path.exists():
        _create_secret(path)
    return path.read_text(encoding="ascii").strip()


def _create_secret(path: Path) -> None:
    """Write a new key beside `path` and link it into place: two processes agree on one key."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".secret-")
    try:
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(secrets.token_urlsafe(48))
        os.chmod(tmp, 0o600)
        try:
            os.link(tmp, path)  # fails if another process was first: theirs is kept
        except FileExistsError:
            pass
    finally:
        os.unlink(tmp)


class UnsubscribeTokens(SignedIds):
    """Make and check the token in a user's unsubscribe link (it does not expire)."""

    salt = _SALT


def unsubscribe_url(settings: Settings, token: str) -> str:
    return f"{settings.public_base_url.rstrip('/')}/unsubscribe?token={quote(token)}"


def unsubscribe_mailto(settings: Settings, token: str) -> str | None:
    if not settings.digest_unsubscribe_mailto:
        return None
    return f"mailto:{settings.digest_unsubscribe_mailto}?subject=unsubscribe%20{quote(token)}"
