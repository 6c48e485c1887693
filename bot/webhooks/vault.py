"""Endpoint signing secrets at rest: sealed with AES-256-GCM under a key the database does not
hold (WEBHOOK_STORE_SECRET, else a random key kept in DATA_DIR/webhook.key), so a copy of the
database alone signs nothing. The bot must compute HMACs with each secret, so it keeps them,
sealed, and opens one only to sign a delivery.
"""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from bot.atomic_files import kept_key
from bot.env_values import Secret

KEY_FILE = "webhook.key"
_FORMAT = "v1:"
_NONCE_BYTES = 12
# Bound to its purpose: a sealed secret opens only as an endpoint's signing secret.
_PURPOSE = b"mintbot webhook endpoint secret"


class SecretUnreadable(Exception):
    """A stored secret that this key does not open (another WEBHOOK_STORE_SECRET, or damaged)."""


class SecretBox:
    """Seals and opens endpoint secrets. Its repr never shows the key."""

    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(hashlib.sha256(key).digest())

    def __repr__(self) -> str:
        return "SecretBox(…)"

    def seal(self, secret: str) -> str:
        nonce = os.urandom(_NONCE_BYTES)
        sealed = nonce + self._aead.encrypt(nonce, secret.encode(), _PURPOSE)
        return _FORMAT + base64.b64encode(sealed).decode()

    def open(self, stored: str) -> str:
        if not stored.startswith(_FORMAT):
            raise SecretUnreadable("not a sealed secret")
        try:
            sealed = base64.b64decode(stored[len(_FORMAT) :], validate=True)
            nonce, body = sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:]
            return self._aead.decrypt(nonce, body, _PURPOSE).decode()
        except (ValueError, InvalidTag):
            raise SecretUnreadable("this key does not open it") from None


def secret_box(secret: Secret | None, data_dir: Path) -> SecretBox:
    """WEBHOOK_STORE_SECRET where set; else a random key kept in the data directory, which
    suits one machine: processes on several set WEBHOOK_STORE_SECRET alike."""
    if secret is not None:
        return SecretBox(secret.reveal().encode())
    return SecretBox(kept_key(data_dir, KEY_FILE))
