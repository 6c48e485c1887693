"""Connecting to the chain's JSON-RPC endpoint and checking it is the chain we expect."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import urlsplit

from web3 import AsyncHTTPProvider, AsyncWeb3, WebSocketProvider
from web3.types import RPCEndpoint

from bot.errors import ChainError

# web3's validation middleware asks the node for its chain ID before and after every
# eth_call and gas estimate: two more round trips for each simulation and contract read. An
# endpoint's chain does not change under it (`connect` checks it once), so the answer is
# kept; nothing else is cached.
CHAIN_ID_CACHED: dict[str, Any] = {
    "cache_allowed_requests": True,
    "cacheable_requests": {RPCEndpoint("eth_chainId")},
}


def _describe(url: str) -> str:
    """The endpoint without its path or query: provider URLs often carry an API key there."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}" + (f":{parts.port}" if parts.port else "")


async def connect(
    rpc_url: str, expected_chain_id: int | None, timeout: float = 10.0
) -> AsyncWeb3[Any]:
    """An AsyncWeb3 for `rpc_url` that answered and is on `expected_chain_id` (if given)."""
    w3: AsyncWeb3[Any]
    try:
        if rpc_url.startswith(("ws://", "wss://")):
            w3 = await AsyncWeb3(WebSocketProvider(rpc_url, **CHAIN_ID_CACHED))
        else:
            # No provider-level retries: callers own retry policy, and a start-up check
            # against a dead endpoint should fail in seconds, not after a backoff series.
            w3 = AsyncWeb3(
                AsyncHTTPProvider(
                    rpc_url,
                    request_kwargs={"timeout": timeout},
                    exception_retry_configuration=None,
                    **CHAIN_ID_CACHED,
                )
            )
        chain_id = await asyncio.wait_for(w3.eth.chain_id, timeout)
    except Exception as err:  # any failure to reach the node means the same thing to the user
        # Not str(err): it may quote the full URL, and provider URLs often embed an API key.
        reason = getattr(err, "strerror", None) or type(err).__name__
        raise ChainError(f"RPC_URL: no answer from {_describe(rpc_url)} ({reason})") from None
    if expected_chain_id is not None and chain_id != expected_chain_id:
        await close(w3)
        raise ChainError(
            f"CHAIN_ID: the RPC at {_describe(rpc_url)} is chain {chain_id}, "
            f"but CHAIN_ID is {expected_chain_id}"
        )
    return w3


async def close(w3: AsyncWeb3[Any]) -> None:
    """Release the provider's connections (HTTP session or websocket)."""
    provider = w3.provider
    if isinstance(provider, (AsyncHTTPProvider, WebSocketProvider)):
        await provider.disconnect()
