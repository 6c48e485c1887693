"""Connecting to the chain's JSON-RPC endpoint and checking it is the chain we expect."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import ClientSession, TCPConnector
from web3 import AsyncHTTPProvider, AsyncWeb3, WebSocketProvider
from web3.types import RPCEndpoint

from bot.chain.endpoint import KEEPALIVE_S, chain_mismatch, no_answer

# web3's validation middleware asks the node for its chain ID before and after every
# eth_call and gas estimate: two more round trips for each simulation and contract read. An
# endpoint's chain does not change under it (`connect` checks it once), so the answer is
# kept; nothing else is cached.
CHAIN_ID_CACHED: dict[str, Any] = {
    "cache_allowed_requests": True,
    "cacheable_requests": {RPCEndpoint("eth_chainId")},
}


async def connect(
    rpc_url: str, expected_chain_id: int | None, timeout: float = 10.0
) -> AsyncWeb3[Any]:
    """An AsyncWeb3 for `rpc_url` that answered and is on `expected_chain_id` (if given)."""
    w3: AsyncWeb3[Any] | None = None
    try:
        if rpc_url.startswith(("ws://", "wss://")):
            w3 = await AsyncWeb3(WebSocketProvider(rpc_url, **CHAIN_ID_CACHED))
        else:
            w3 = AsyncWeb3(await _http_provider(rpc_url, timeout))
        chain_id = await asyncio.wait_for(w3.eth.chain_id, timeout)
    except Exception as err:  # any failure to reach the node means the same thing to the user
        if w3 is not None:
            await close(w3)
        raise no_answer(rpc_url, err) from None
    mismatch = chain_mismatch(rpc_url, chain_id, expected_chain_id)
    if mismatch is not None:
        await close(w3)
        raise mismatch
    return w3


async def _http_provider(rpc_url: str, timeout: float) -> AsyncHTTPProvider:
    # No provider-level retries: callers own retry policy, and a start-up check against a
    # dead endpoint should fail in seconds, not after a backoff series.
    provider = AsyncHTTPProvider(
        rpc_url,
        request_kwargs={"timeout": timeout},
        exception_retry_configuration=None,
        **CHAIN_ID_CACHED,
    )
    # web3's own session closes the connection after every request: a new TCP (and on
    # https, TLS) handshake per call. This one keeps connections for reuse, closing them
    # after KEEPALIVE_S idle. Set before the first request: web3 keeps the first session it
    # has for an event loop.
    session = ClientSession(
        raise_for_status=True, connector=TCPConnector(keepalive_timeout=KEEPALIVE_S)
    )
    await provider.cache_async_session(session)
    return provider


async def close(w3: AsyncWeb3[Any]) -> None:
    """Release the provider's connections (HTTP session or websocket)."""
    provider = w3.provider
    if isinstance(provider, (AsyncHTTPProvider, WebSocketProvider)):
        await provider.disconnect()
