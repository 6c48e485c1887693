"""Faults of the outside world and how the bot meets them: which are transient (retried with
backoff), the bounded retry itself, and the crash points recovery tests kill the process at."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import aiohttp
from web3.exceptions import Web3RPCError

log = logging.getLogger(__name__)

T = TypeVar("T")


def rpc_message(err: BaseException) -> str:
    """The node's own words of an error answer (lowercase), else the error's text."""
    if isinstance(err, Web3RPCError) and isinstance(err.rpc_response, dict):
        error: Any = err.rpc_response.get("error") or {}
        if isinstance(error, dict):
            return str(error.get("message", err)).lower()
    return str(err).lower()


def is_transient(err: BaseException) -> bool:
    """Faults that say nothing about the transaction (a timeout, a refused connection, a rate
    limit): the work is retried with backoff rather than failed."""
    if isinstance(err, (TimeoutError, ConnectionError, aiohttp.ClientError, OSError)):
        return True
    text = str(err).lower()
    return any(
        s in text
        for s in (
            "429",
            "too many requests",
            "timeout",
            "timed out",
            "503",
            "502",
            "temporarily unavailable",
            "connection",
        )
    )


# What nodes answer when a raw transaction is already in their pool (geth and anvil:
# "already known"; OpenEthereum-style nodes: "transaction with the same hash was already
# imported").
_ALREADY_HAVE = ("already known", "known transaction", "already imported")


def node_already_has(message: str) -> bool:
    """Whether a send's error (lowercased) says the node already holds these very bytes."""
    return any(phrase in message for phrase in _ALREADY_HAVE)


async def retry_transient(
    operation: Callable[[], Awaitable[T]], *, what: str, max_delay: float = 10.0
) -> T:
    """Run `operation` until it succeeds or fails for a reason that is not transient."""
    delay = 0.2
    while True:
        try:
            return await operation()
        except Exception as err:
            if not is_transient(err):
                raise
            log.warning(
                "%s: transient fault (%s); retrying in %.1f s", what, type(err).__name__, delay
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, max_delay)


def crash_point(name: str, configured: str | None) -> None:
    """Fault injection for recovery tests: die here, at once, as a power cut would."""
    if configured == name:
        log.warning("MINTBOT_CRASH_AT=%s: killing the process now", name)
        os.kill(os.getpid(), signal.SIGKILL)
