"""Logging set-up with secret redaction.

Every record passes through `RedactingFormatter`, which replaces any registered secret (in any
letter case, with or without `0x`) and the credentials of any URL (by their shape:
`bot.redact`) in the fully formatted text, arguments and tracebacks included. This is the last
line of defence; code should never log a secret to begin with. `redact` applies the same to
text that leaves the process another way (the command line's last words).
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable

from bot.env_values import Secret
from bot.redact import redact_urls

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
        return self.redact(super().format(record))

    def redact(self, text: str) -> str:
        text = redact_urls(text)
        return self._pattern.sub(REDACTED, text) if self._pattern else text


def redact(text: str) -> str:
    """`text` redacted as log records are: with the secrets logging was configured with, or
    only URL credentials before that."""
    for handler in logging.getLogger().handlers:
        if isinstance(handler.formatter, RedactingFormatter):
            return handler.formatter.redact(text)
    return redact_urls(text)


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
