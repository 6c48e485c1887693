"""Logging set-up with secret redaction.

Every record passes through `RedactingFormatter`, which replaces any registered secret (in any
letter case, with or without `0x`) in the fully formatted text, arguments and tracebacks
included. This is the last line of defence; code should never log a secret to begin with.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable

from bot.env_values import Secret

REDACTED = "[REDACTED]"


class RedactingFormatter(logging.Formatter):
    def __init__(self, fmt: str, secrets: Iterable[Secret]) -> None:
        super().__init__(fmt)
        variants: set[str] = set()
        for secret in secrets:
            value = secret.reveal()
            if len(value) >= 8:  # a short value would redact ordinary words
                variants.update({value, value.removeprefix("0x")})
        self._pattern = (
            re.compile(
                "|".join(re.escape(v) for v in sorted(variants, key=len, reverse=True)),
                re.IGNORECASE,
            )
            if variants
            else None
        )

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        return self._pattern.sub(REDACTED, text) if self._pattern else text


def configure_logging(level: str, secrets: Iterable[Secret] = ()) -> None:
    """Send log records to stderr, redacted, replacing any handlers set before."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        RedactingFormatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s", secrets)
    )
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # Third-party debug output (HTTP wire traces) is noise at our DEBUG level.
    for noisy in ("urllib3", "asyncio", "aiohttp.access", "web3"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))
