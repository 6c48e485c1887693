"""What the stages of the mint pipeline tell each other: which stage has work to wake up to,
and why minting waits (shown with every queued request)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from bot.i18n.said import Said


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
    # admin's pause), or None: a `Said`, translated where a member is shown it, or an English
    # text of the chain's.
    waiting_reason: Said | str | None = None
    # Why their content is not on IPFS yet (a pinning backend's fault), or None.
    publishing_reason: Said | str | None = None

    @property
    def why_waiting(self) -> str | None:
        """In English (the health page, operators, `MintResult.waiting_reason`)."""
        reason = self.waiting_reason or self.publishing_reason
        return None if reason is None else str(reason)

    @property
    def why_waiting_said(self) -> Said | None:
        """The same untranslated, where it is a `Said` (to show a member in their language)."""
        reason = self.waiting_reason or self.publishing_reason
        return reason if isinstance(reason, Said) else None
