"""The webhook settings (WEBHOOK_*), read apart from the rest so they stay in one place."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field

from bot.env_values import Env, Secret, env_flag, env_number, env_url_list
from bot.errors import ConfigError
from bot.redact import redacted_repr

SECRET_PREFIX = "whsec_"  # noqa: S105 (the prefix every Standard Webhooks secret has)


@dataclass(frozen=True)
class WebhookSettings:
    # WEBHOOK_URLS: endpoints that receive every community's events, signed with WEBHOOK_SECRET
    urls: tuple[str, ...] = ()
    secret: Secret | None = field(default=None, repr=False)
    # WEBHOOK_ALLOW_LOOPBACK: let endpoints on 127.0.0.0/8 and ::1 receive events (tests only)
    allow_loopback: bool = False
    timeout_s: float = 5.0  # WEBHOOK_TIMEOUT_S: one try's whole time
    retry_base_s: float = 5.0  # WEBHOOK_RETRY_BASE_S: the first back-off, doubled each try
    retry_max_s: float = 3600.0  # WEBHOOK_RETRY_MAX_S: the longest wait between two tries
    retry_window_s: float = 86400.0  # WEBHOOK_RETRY_WINDOW_S: how long an event is retried
    poll_s: float = 1.0  # WEBHOOK_POLL_S: how often the worker looks for due deliveries
    # WEBHOOK_STORE_SECRET: the key endpoint secrets are sealed under (default: DATA_DIR file)
    store_secret: Secret | None = field(default=None, repr=False)

    __repr__ = redacted_repr  # WEBHOOK_URLS may carry credentials


def load_webhook_settings(env: Env) -> WebhookSettings:
    urls = env_url_list(env, "WEBHOOK_URLS", ("http", "https"))
    secret = env.secret("WEBHOOK_SECRET")
    if urls and secret is None:
        raise ConfigError("WEBHOOK_SECRET", "required with WEBHOOK_URLS (whsec_ + base64)")
    if secret is not None and not valid_secret(secret.reveal()):
        raise ConfigError("WEBHOOK_SECRET", "must be whsec_ followed by base64 of 24-64 bytes")
    return WebhookSettings(
        urls=urls,
        secret=secret,
        allow_loopback=env_flag(env, "WEBHOOK_ALLOW_LOOPBACK", False),
        timeout_s=env_number(env, "WEBHOOK_TIMEOUT_S", 5, low=0.05),
        retry_base_s=env_number(env, "WEBHOOK_RETRY_BASE_S", 5, low=0.01),
        retry_max_s=env_number(env, "WEBHOOK_RETRY_MAX_S", 3600, low=0.01),
        retry_window_s=env_number(env, "WEBHOOK_RETRY_WINDOW_S", 86400, low=0.1),
        poll_s=env_number(env, "WEBHOOK_POLL_S", 1, low=0.01),
        store_secret=env.secret("WEBHOOK_STORE_SECRET"),
    )


def valid_secret(value: str) -> bool:
    if not value.startswith(SECRET_PREFIX):
        return False
    try:
        key = base64.b64decode(value[len(SECRET_PREFIX) :], validate=True)
    except ValueError:
        return False
    return 24 <= len(key) <= 64
