"""A JSON-RPC endpoint: naming it without what it may hide, and what is said when it is not
the chain expected. Shared by the web3 client and the web role's own reader."""

from __future__ import annotations

from urllib.parse import urlsplit

from bot.errors import ChainError

# Idle connections are closed after this long, before the idle timeouts HTTP servers commonly
# use (5 s and up) could close one just as it is reused.
KEEPALIVE_S = 4.0


def describe(url: str) -> str:
    """The endpoint without its path or query: provider URLs often carry an API key there."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}" + (f":{parts.port}" if parts.port else "")


def no_answer(url: str, err: BaseException) -> ChainError:
    # Not str(err): it may quote the full URL, and provider URLs often embed an API key.
    reason = getattr(err, "strerror", None) or type(err).__name__
    return ChainError(f"RPC_URL: no answer from {describe(url)} ({reason})")


def chain_mismatch(url: str, chain_id: int, expected: int | None) -> ChainError | None:
    """The error to raise when the endpoint's `chain_id` is not the one `expected` (when one
    is), else None."""
    if expected is None or chain_id == expected:
        return None
    return ChainError(
        f"CHAIN_ID: the RPC at {describe(url)} is chain {chain_id}, but CHAIN_ID is {expected}"
    )
