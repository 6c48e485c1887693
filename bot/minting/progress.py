"""What the stages of the mint pipeline tell each other: which stage has work to wake up to,
and why minting waits (shown with every queued request)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field


@dataclass
class Progress:
    # Requests were received: preparation has work.
    received: asyncio.Event = field(default_factory=asyncio.Event)
    # Requests were queued (or sent back to the queue): the batcher has work.
    queued: asyncio.Event = field(default_factory=asyncio.Event)
    # Requests were queued: their content may have to be published on IPFS first.
    to_publish: asyncio.Event = field(default_factory=asyncio.Event)
    # Requests were decided: delivery has answers to give.
    finalised: asyncio.Event = field(default_factory=asyncio.Event)
    # Why queued requests are not being minted now (a cap, a wallet without gas money, an
    # admin's pause), or None.
    waiting_reason: str | None = None
    # Why their content is not on IPFS yet (a pinning backend's fault), or None.
    publishing_reason: str | None = None

    @property
    def why_waiting(self) -> str | None:
        return self.waiting_reason or self.publishing_reason
