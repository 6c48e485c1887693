"""A webhook receiver on 127.0.0.1 that checks what it gets the way a real one would: each
request's signature and timestamp are verified with the reference Standard Webhooks library
(`standardwebhooks`, independent of our signer), a bad one is refused with 401, and every
verified event is counted by its ID. It can be told to fail a fraction of requests at random
(500), to fail all of them, or to hang past the sender's timeout."""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from standardwebhooks.webhooks import Webhook, WebhookVerificationError


@dataclass
class Receiver:
    secret: str
    fail_rate: float = 0.0  # the share of verified requests answered 500 at random
    failing: bool = False  # answer every request 500
    hang_s: float = 0.0  # wait this long before answering
    seed: int = 19
    url: str = ""
    # Every verified try per event ID, the events answered 2xx (and when, monotonic), bodies.
    tries: Counter[str] = field(default_factory=Counter)
    accepted: Counter[str] = field(default_factory=Counter)
    accepted_at: dict[str, float] = field(default_factory=dict)
    bodies: dict[str, dict[str, Any]] = field(default_factory=dict)
    refused: int = 0  # requests whose signature or timestamp did not verify
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        try:
            # Five minutes' tolerance either way, as the reference library checks.
            payload = Webhook(self.secret).verify(body, dict(request.headers))
        except WebhookVerificationError:
            self.refused += 1
            return web.Response(status=401, text="bad signature")
        event_id = request.headers["webhook-id"]
        if payload.get("id") != event_id:
            return web.Response(status=400, text="body and header name different events")
        self.tries[event_id] += 1
        self.arrived.set()
        if self.hang_s:
            await asyncio.sleep(self.hang_s)
        if self.failing or self._random.random() < self.fail_rate:
            return web.Response(status=500, text="try later")
        self.accepted[event_id] += 1
        self.accepted_at.setdefault(event_id, time.monotonic())
        self.bodies[event_id] = payload
        return web.Response(status=204)

    @property
    def duplicates(self) -> int:
        """Events accepted more than once (the receiver would have to dedupe them)."""
        return sum(n - 1 for n in self.accepted.values() if n > 1)

    async def wait_for(self, predicate: Any, timeout: float = 20) -> None:
        async def until() -> None:
            while not predicate():
                self.arrived.clear()
                with suppress(TimeoutError):
                    await asyncio.wait_for(self.arrived.wait(), 0.05)

        await asyncio.wait_for(until(), timeout)


@asynccontextmanager
async def receiving(secret: str, **options: Any) -> AsyncIterator[Receiver]:
    """A receiver serving on a free loopback port until the block ends."""
    receiver = Receiver(secret, **options)
    app = web.Application()
    app.router.add_post("/hook", receiver.handle)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    receiver.url = f"http://127.0.0.1:{port}/hook"
    try:
        yield receiver
    finally:
        await runner.cleanup()
