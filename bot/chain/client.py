"""Connecting to the chain's JSON-RPC endpoints and checking they are the chain we expect."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, cast

from aiohttp import ClientSession, TCPConnector
from web3 import AsyncHTTPProvider, AsyncWeb3, WebSocketProvider
from web3._utils.batching import sort_batch_response_by_response_ids
from web3.types import RPCEndpoint, RPCResponse

from bot.chain.endpoint import KEEPALIVE_S, EndpointPool, chain_mismatch, describe, no_answer

# web3's validation middleware asks the node for its chain ID before and after every
# eth_call and gas estimate: two more round trips for each simulation and contract read. An
# endpoint's chain does not change under it (`connect` checks it once), so the answer is
# kept; nothing else is cached.
CHAIN_ID_CACHED: dict[str, Any] = {
    "cache_allowed_requests": True,
    "cacheable_requests": {RPCEndpoint("eth_chainId")},
}


async def connect(
    rpc_urls: str | Sequence[str], expected_chain_id: int | None, timeout: float = 10.0
) -> AsyncWeb3[Any]:
    """An AsyncWeb3 over `rpc_urls` (one endpoint, or several to fail over between: see
    `bot.chain.endpoint`) whose endpoints answered on `expected_chain_id` (if given)."""
    urls = (rpc_urls,) if isinstance(rpc_urls, str) else tuple(rpc_urls)
    if urls[0].startswith(("ws://", "wss://")):
        return await _websocket(urls[0], expected_chain_id, timeout)
    pool = EndpointPool(urls, expected_chain_id)
    # One session for every endpoint, keeping connections for reuse (web3's own closes the
    # connection after every request), closing them after KEEPALIVE_S idle.
    session = ClientSession(connector=TCPConnector(keepalive_timeout=KEEPALIVE_S))
    try:
        await pool.check(session, timeout)
    except BaseException:
        await session.close()
        raise
    return AsyncWeb3(FailoverHTTPProvider(pool, session, timeout))


async def _websocket(url: str, expected_chain_id: int | None, timeout: float) -> AsyncWeb3[Any]:
    w3: AsyncWeb3[Any] | None = None
    try:
        w3 = await AsyncWeb3(WebSocketProvider(url, **CHAIN_ID_CACHED))
        chain_id = await asyncio.wait_for(w3.eth.chain_id, timeout)
    except Exception as err:  # any failure to reach the node means the same thing to the user
        if w3 is not None:
            await close(w3)
        raise no_answer(url, err) from None
    mismatch = chain_mismatch(url, chain_id, expected_chain_id)
    if mismatch is not None:
        await close(w3)
        raise mismatch
    return w3


class FailoverHTTPProvider(AsyncHTTPProvider):
    """web3's HTTP provider with every POST made by an `EndpointPool`: fail-over between
    endpoints, and errors that never quote a URL (so never a key in one). No provider-level
    retries: callers own retry policy."""

    def __init__(self, pool: EndpointPool, session: ClientSession, timeout: float) -> None:
        # web3 names its endpoint in debug lines and errors: it gets the redacted form only.
        super().__init__(
            describe(pool.urls[0]), exception_retry_configuration=None, **CHAIN_ID_CACHED
        )
        self.pool = pool
        self._session = session
        self._timeout = timeout

    async def _make_request(self, method: RPCEndpoint, request_data: bytes) -> bytes:
        return await self.pool.post(self._session, request_data, self._timeout)

    async def make_batch_request(
        self, batch_requests: list[tuple[RPCEndpoint, Any]]
    ) -> list[RPCResponse] | RPCResponse:
        raw = await self.pool.post(
            self._session, self.encode_batch_rpc_request(batch_requests), self._timeout
        )
        response = self.decode_rpc_response(raw)
        if not isinstance(response, list):
            return response
        return sort_batch_response_by_response_ids(cast(list[RPCResponse], response))

    async def disconnect(self) -> None:
        await self._session.close()


async def close(w3: AsyncWeb3[Any]) -> None:
    """Release the provider's connections (HTTP session or websocket)."""
    provider = w3.provider
    if isinstance(provider, (AsyncHTTPProvider, WebSocketProvider)):
        await provider.disconnect()
