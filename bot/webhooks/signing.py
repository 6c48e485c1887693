"""Standard Webhooks signatures: HMAC-SHA256 over `{id}.{timestamp}.{body}` with the key in
the endpoint's `whsec_` secret, sent as `webhook-signature: v1,<base64>` beside `webhook-id`
and `webhook-timestamp` (whole seconds), so any Standard Webhooks library verifies them."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from bot.webhooks.settings import SECRET_PREFIX

SECRET_BYTES = 32


def new_secret() -> str:
    """A fresh endpoint secret, `whsec_` + base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def signature(secret: str, event_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` value of one try."""
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    signed = f"{event_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signed_headers(secret: str, event_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "webhook-id": event_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature(secret, event_id, timestamp, body),
    }
