"""Signed ids for links (unsubscribe, item pages): the id in a token only we can make."""

from __future__ import annotations

from itsdangerous import BadSignature, URLSafeSerializer


class SignedIds:
    """Make and check tokens carrying one id; each use has its own salt. They do not expire."""

    salt = "contentmind.signed-id.v1"

    def __init__(self, secret: str) -> None:
        self._serializer = URLSafeSerializer(secret, salt=self.salt)

    def make(self, value: str) -> str:
        return str(self._serializer.dumps(value))

    def read(self, token: str) -> str | None:
        """The id in a valid token, else None."""
        try:
            value = self._serializer.loads(token)
        except BadSignature:
            return None
        return value if isinstance(value, str) else None
