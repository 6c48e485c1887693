"""Uploaded bytes as received, kept by digest until the pipeline has checked and stored them.

The upload is written before the request row that names it, so after a crash every request in
phase `received` still has its bytes.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from bot.durable import write_atomically


class UploadStore:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _path(self, digest: str) -> Path:
        return self.directory / digest[:2] / digest

    def put(self, data: bytes) -> str:
        """Store `data` durably (idempotent) and return its sha256 hex digest."""
        digest = hashlib.sha256(data).hexdigest()
        path = self._path(digest)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            write_atomically(path, lambda out: out.write(data))
        return digest

    def get(self, digest: str) -> bytes:
        return self._path(digest).read_bytes()

    def discard(self, digest: str) -> None:
        self._path(digest).unlink(missing_ok=True)
