"""A chat platform at the edge of a test or a benchmark: it hears what the core tells it (a
member's answer, a claimer's answer) and passes it to a recorder; it reaches nobody."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from bot.communities import Asker
from bot.minting.types import MintResult


class RecordingPlatform:
    """The running platform `name`, recording every answer it is asked to give."""

    def __init__(self, name: str, hear: Callable[[MintResult], Awaitable[None]]) -> None:
        self.name = name
        self.hear = hear
        self.admins_told: list[str] = []

    async def deliver(self, result: MintResult) -> None:
        await self.hear(result)

    async def announce(self, result: MintResult, channel_id: str, locale: str | None) -> None:
        return None

    async def tell_claimer(self, result: MintResult) -> None:
        await self.hear(result)

    async def tell_admins(self, text: str) -> None:
        self.admins_told.append(text)

    async def member(self, community_id: str, user_id: str) -> Asker | None:
        return None

    async def run(self) -> None:
        await asyncio.Event().wait()
