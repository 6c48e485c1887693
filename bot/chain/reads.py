"""Who holds a token, asked over plain JSON-RPC: the web role's one question to the chain.

The web server process needs the chain for one thing, a collection's `ownerOf`. web3 and
eth-account took that process well over a second of CPU to import at every start (most of it
eth-account's keystore code computing BLS12-381 tables), more than all the rest it imports;
here the question is one `eth_call` made with aiohttp, over HTTP(S) or a WebSocket.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from aiohttp import ClientSession, ClientTimeout, ClientWebSocketResponse, TCPConnector

from bot.chain.addresses import checksum_address
from bot.chain.endpoint import KEEPALIVE_S, EndpointPool, chain_mismatch, no_answer

if TYPE_CHECKING:
    from web3 import AsyncWeb3

# ownerOf(uint256): the first four bytes of the keccak-256 of that signature (ERC-721).
OWNER_OF = bytes.fromhex("6352211e")


class Owners(Protocol):
    """A collection as the web pages read it: its address and who holds a token."""

    @property
    def address(self) -> str: ...

    async def owner_of(self, token_id: int) -> str: ...


class RpcFault(Exception):
    """The node answered with an error (a revert: no such token) or not with an answer. The
    message names the method only, never the endpoint."""


class RpcRefused(RpcFault):
    """The node answered the call with a JSON-RPC error; `reverted` when that error is the
    call's own revert (EIP-1474 code 3, or a message saying so), not the node's trouble."""

    def __init__(self, method: str, error: Any) -> None:
        super().__init__(method)
        code = error.get("code") if isinstance(error, dict) else None
        message = str(error.get("message", "")) if isinstance(error, dict) else ""
        self.reverted = code == 3 or "revert" in message.lower()


# One JSON-RPC call, `(method, params) -> result`: `JsonRpc.call` in the light processes,
# `web3_rpc(w3)` on a process's web3 connection; both raise RpcFault (RpcRefused) alike.
RpcCall = Callable[[str, list[Any]], Awaitable[Any]]


def rpc_result(method: str, answer: Any) -> Any:
    """The `result` of a JSON-RPC answer; RpcRefused for an error answer, RpcFault for one
    that is neither."""
    if isinstance(answer, dict) and "error" in answer:
        raise RpcRefused(method, answer["error"])
    if not isinstance(answer, dict) or "result" not in answer:
        raise RpcFault(method)
    return answer["result"]


def web3_rpc(w3: AsyncWeb3[Any]) -> RpcCall:
    """`RpcCall` on a web3 connection, raw as the receipts are read (the node's answer as it
    is, without web3's formatters)."""

    async def call(method: str, params: list[Any]) -> Any:
        return rpc_result(method, await w3.provider.make_request(method, params))  # type: ignore[arg-type]

    return call


class JsonRpc:
    """JSON-RPC 2.0 calls: HTTP POSTs on kept-alive connections, failing over between the
    endpoints (`bot.chain.endpoint.EndpointPool`), or one WebSocket (ws://, wss://) that
    carries one call at a time."""

    def __init__(self, urls: Sequence[str], timeout: float, chain_id: int | None = None) -> None:
        self.url = urls[0]
        self.pool = EndpointPool(urls, chain_id)
        self.timeout = timeout
        self._ids = itertools.count(1)
        self._session = ClientSession(
            connector=TCPConnector(keepalive_timeout=KEEPALIVE_S),
            timeout=ClientTimeout(total=timeout),
            raise_for_status=True,
        )
        self._websocket: ClientWebSocketResponse | None = None
        self._one_at_a_time = asyncio.Lock()

    async def call(self, method: str, params: list[Any]) -> Any:
        """The call's `result`; RpcFault if the node answered anything else."""
        request = {"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": params}
        if self.url.startswith(("ws://", "wss://")):
            answer = await self._over_websocket(request)
        else:
            raw = await self.pool.post(self._session, json.dumps(request).encode(), self.timeout)
            try:
                answer = json.loads(raw)
            except ValueError:
                raise RpcFault(method) from None
        return rpc_result(method, answer)

    async def _over_websocket(self, request: dict[str, Any]) -> Any:
        async with self._one_at_a_time, asyncio.timeout(self.timeout):
            if self._websocket is None or self._websocket.closed:
                self._websocket = await self._session.ws_connect(self.url)
            await self._websocket.send_json(request)
            while True:  # skip anything else the node sends (subscriptions: none are made)
                answer = await self._websocket.receive_json()
                if isinstance(answer, dict) and answer.get("id") == request["id"]:
                    return answer

    async def chain_id(self) -> int:
        return int(await self.call("eth_chainId", []), 16)

    async def close(self) -> None:
        if self._websocket is not None:
            await self._websocket.close()
        await self._session.close()


async def connect_json_rpc(
    urls: str | Sequence[str], expected_chain_id: int | None, timeout: float
) -> JsonRpc:
    """A JsonRpc for `urls` whose endpoints answered on `expected_chain_id` (if given)."""
    rpc = JsonRpc((urls,) if isinstance(urls, str) else tuple(urls), timeout, expected_chain_id)
    if not rpc.url.startswith(("ws://", "wss://")):
        try:
            await rpc.pool.check(rpc._session, timeout)
        except BaseException:
            await rpc.close()
            raise
        return rpc
    url = rpc.url
    try:
        chain_id = await rpc.chain_id()
    except Exception as err:  # any failure to reach the node means the same thing to the user
        await rpc.close()
        raise no_answer(url, err) from None
    mismatch = chain_mismatch(url, chain_id, expected_chain_id)
    if mismatch is not None:
        await rpc.close()
        raise mismatch
    return rpc


class CollectionOwners:
    """`ownerOf` of the collection at `address`, asked over `rpc`."""

    def __init__(self, rpc: JsonRpc, address: str) -> None:
        self.rpc = rpc
        self.address = checksum_address(bytes.fromhex(address.removeprefix("0x")))

    async def owner_of(self, token_id: int) -> str:
        """The holder's checksummed address; RpcFault if the token does not exist (ownerOf
        reverts) or the answer is not an address."""
        data = OWNER_OF + token_id.to_bytes(32, "big")
        call = {"to": self.address, "data": "0x" + data.hex()}
        result = await self.rpc.call("eth_call", [call, "latest"])
        word = bytes.fromhex(result.removeprefix("0x")) if isinstance(result, str) else b""
        if len(word) != 32 or any(word[:12]):
            raise RpcFault("eth_call: not an address")
        return checksum_address(word[12:])
