"""Content-addressed local file storage: a blob's key is its sha256; writes are atomic and
durable."""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

_KEY = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class StoredBlob:
    key: str
    sha256: str
    size: int


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class LocalStorage:
    """Blobs under `<root>/<aa>/<sha256>`; the same bytes are stored once."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def put(self, data: bytes) -> StoredBlob:
        """Store `data` durably (fsync of file and directory) and return its key."""
        digest = sha256_hex(data)
        path = self._path(digest)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            self._write_atomic(path, data)
        return StoredBlob(key=digest, sha256=digest, size=len(data))

    def get(self, key: str) -> bytes:
        return self._path(key).read_bytes()

    def exists(self, key: str) -> bool:
        return self._path(key).exists()

    def total_bytes(self) -> int:
        return sum(path.stat().st_size for path in self.root.glob("*/*") if path.is_file())

    def _path(self, key: str) -> Path:
        if not _KEY.fullmatch(key):
            raise ValueError("storage keys are sha256 hex digests")
        return self.root / key[:2] / key

    @staticmethod
    def _write_atomic(path: Path, data: bytes) -> None:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".incoming-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
