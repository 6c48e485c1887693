"""A JSON-RPC proxy in front of anvil that can misbehave on purpose, for fault-injection tests.

Modes:
- `pass`: forward everything.
- `down`: refuse every request with HTTP 503 (as a load balancer in front of a dead node does).
- `swallow_send`: forward `eth_sendRawTransaction` to the node, then never answer (the
  client's request times out although the node accepted the transaction).
- `already_imported`: forward `eth_sendRawTransaction` to the node, then answer with the error
  an OpenEthereum-style node gives for a transaction already in its pool.
- `simulations_pass`: answer every `eth_call` against the pending block with success and no
  data, without asking the node (a simulation that misses what the chain will then refuse).
- `status`: answer every request with HTTP `status` (401, 429, ...) and aiohttp's usual text.
- `rate_limited`: answer with the JSON-RPC error a provider gives over its rate limit.
- `other_chain`: answer `eth_chainId` with 0x1 (an endpoint on another chain).
- `hide_receipts`: answer every `eth_getTransactionReceipt` with null, as a node whose receipts
  lag behind its blocks does: mined transactions look unmined.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
from aiohttp import web

ALREADY_IMPORTED = "Transaction with the same hash was already imported."


class RpcProxy:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.mode = "pass"
        self.calls: list[str] = []
        self.requests: list[dict[str, Any]] = []  # every JSON-RPC call, params and all
        self.peers: list[Any] = []  # the client's address and port of each HTTP request
        self.swallowed = 0
        self.status = 429  # the answer in mode "status"
        # "hold_send": broadcasts go through, their replies wait for this.
        self.release = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self.url = ""

    async def start(self) -> str:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._handle)  # any path: keys sit in paths
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._session = aiohttp.ClientSession()
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    async def stop(self) -> None:
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _forward(self, body: bytes) -> bytes:
        assert self._session is not None
        async with self._session.post(
            self.upstream, data=body, headers={"Content-Type": "application/json"}
        ) as response:
            return await response.read()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.peers.append(
            request.transport.get_extra_info("peername") if request.transport else None
        )
        payload: Any = json.loads(body)
        methods = (
            [p["method"] for p in payload] if isinstance(payload, list) else [payload["method"]]
        )
        self.calls.extend(methods)
        self.requests.extend(payload if isinstance(payload, list) else [payload])
        if self.mode == "down":
            return web.Response(status=503, text="upstream unavailable")
        if self.mode == "status":
            return web.Response(status=self.status, text="refused")
        if self.mode == "rate_limited" and isinstance(payload, dict):
            error = {
                "code": -32005,
                "message": "daily request count exceeded, request rate limited",
            }
            return web.json_response({"jsonrpc": "2.0", "id": payload["id"], "error": error})
        if self.mode == "other_chain" and methods == ["eth_chainId"]:
            return web.json_response({"jsonrpc": "2.0", "id": payload["id"], "result": "0x1"})
        if self.mode == "swallow_send" and "eth_sendRawTransaction" in methods:
            await self._forward(body)
            self.swallowed += 1
            await asyncio.sleep(3600)  # the client gives up first
        if self.mode == "hold_send" and methods == ["eth_sendRawTransaction"]:
            answer = await self._forward(body)
            self.swallowed += 1
            await self.release.wait()
            return web.Response(body=answer, content_type="application/json")
        if self.mode == "already_imported" and methods == ["eth_sendRawTransaction"]:
            await self._forward(body)
            self.swallowed += 1
            error = {"code": -32010, "message": ALREADY_IMPORTED}
            return web.json_response({"jsonrpc": "2.0", "id": payload["id"], "error": error})
        if self.mode == "hide_receipts" and methods == ["eth_getTransactionReceipt"]:
            return web.json_response({"jsonrpc": "2.0", "id": payload["id"], "result": None})
        if self.mode == "simulations_pass" and _simulation(payload):
            return web.json_response({"jsonrpc": "2.0", "id": payload["id"], "result": "0x"})
        answer = await self._forward(body)
        return web.Response(body=answer, content_type="application/json")


def _simulation(payload: Any) -> bool:
    """A single eth_call against the pending block (how the bot simulates a batch)."""
    return (
        isinstance(payload, dict)
        and payload.get("method") == "eth_call"
        and payload.get("params", [None, None])[1] == "pending"
    )
