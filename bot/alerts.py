"""Telling the operators when a hot wallet (any key of the pool) runs low, before minting stops.

Every running chat platform is told through `tell_admins` (each sends it where its settings
say admins read, if anywhere); the check runs now and then and says it once per `repeat_s`
while the balance stays under LOW_BALANCE_ETH, with the address to fund. Once per platform
across every process that runs it: each telling takes the platform's turn in the database
(`bot.shared_turns`). A platform that starts while an alert is in force hears it at once.
"""

from __future__ import annotations

import asyncio
import logging

from bot.minting.service import MintService
from bot.ports import ChatPlatform, RunningPlatforms
from bot.shared_turns import SharedTurns

log = logging.getLogger(__name__)

CHECK_EVERY_S = 60.0
REPEAT_S = 6 * 3600.0


class BalanceAlerts:
    def __init__(
        self,
        service: MintService,
        platforms: RunningPlatforms,
        low_wei: int,
        *,
        turns: SharedTurns,
        check_every_s: float = CHECK_EVERY_S,
        repeat_s: float = REPEAT_S,
    ) -> None:
        self.service = service
        self.platforms = platforms
        self.low_wei = low_wei
        self.turns = turns
        self.check_every_s = check_every_s
        self.repeat_s = repeat_s
        # The alert in force and the address it is about, for platforms that start later.
        self._active: tuple[str, str] | None = None
        self._telling: set[asyncio.Task[bool]] = set()
        platforms.on_add(self._started)

    def _started(self, platform: ChatPlatform) -> None:
        if self._active is not None:
            task = asyncio.ensure_future(self._tell_in_turn(platform, *self._active))
            self._telling.add(task)
            task.add_done_callback(self._telling.discard)

    async def run(self) -> None:
        """Check until cancelled; a failed check or message is logged and tried again later."""
        if self.low_wei <= 0:
            return
        while True:
            try:
                await self.check()
            except Exception:  # an RPC or chat hiccup must not end the watch
                log.warning("balance alert check failed", exc_info=True)
            await asyncio.sleep(self.check_every_s)

    async def check(self) -> bool:
        """Alert if the balance is low and no alert went out within `repeat_s` (from any
        process, per platform); True if this check told anyone."""
        balances = await self.service.hot_wallet_balances()
        low = [(address, balance) for address, balance in balances if balance < self.low_wei]
        if not low:
            if self._active is not None:  # funded again: the next drop alerts at once
                await self.turns.release(self._key(self._active[1], ""))
            self._active = None
            return False
        address, balance = low[0]  # the first key to fund; the others are named too
        others = "".join(f" {a} has {b / 1e18:.6f} too." for a, b in low[1:])
        text = (
            f"⚠️ The hot wallet {address} has {balance / 1e18:.6f} left in native currency "
            f"(alert below {self.low_wei / 1e18:g}). Send funds to {address} to keep minting."
            + others
        )
        self._active, told = (text, address), False
        for platform in self.platforms:
            told = await self._tell_in_turn(platform, text, address) or told
        return told

    @staticmethod
    def _key(address: str, platform: str) -> str:
        return f"low-balance:{address}:{platform}"

    async def _tell_in_turn(self, platform: ChatPlatform, text: str, address: str) -> bool:
        """Tell the platform's admins of `address` running low unless they were told within
        `repeat_s`, by this process or another; True if told now."""
        if await self.turns.take(self._key(address, platform.name), self.repeat_s):
            return False
        log.warning("%s", text)
        await self._tell(platform, text)
        return True

    @staticmethod
    async def _tell(platform: ChatPlatform, text: str) -> None:
        try:
            await platform.tell_admins(text)
        except Exception:
            log.warning("could not send the low-balance alert to %s", platform.name, exc_info=True)
