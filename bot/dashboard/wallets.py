"""The hot wallets as the dashboard shows them: each one's balance (read from the chain, and
shown as unknown when the node does not answer in time) and the fees it committed today
against MAX_SPEND_PER_DAY_ETH, which caps each wallet."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.chain.faults import is_transient
from bot.chain.spend import spent_today

Balances = Callable[[], Awaitable[list[tuple[str, int]]]]


@dataclass(frozen=True)
class WalletView:
    address: str
    balance_wei: int | None  # None: the node did not say in time
    spent_wei: int
    cap_wei: int | None  # None: no cap

    @property
    def spent_percent(self) -> int | None:
        return None if not self.cap_wei else min(100, self.spent_wei * 100 // self.cap_wei)


class HotWallets:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        chain_id: int,
        addresses: Sequence[str],
        balances: Balances,
        cap_wei: int | None,
        timeout: float,
    ) -> None:
        self.sessions = sessions
        self.chain_id = chain_id
        self.addresses = tuple(addresses)
        self.balances = balances
        self.cap_wei = cap_wei
        self.timeout = timeout

    async def views(self) -> list[WalletView]:
        """Every hot wallet of the pool, the custody key first."""
        try:
            known = dict(await asyncio.wait_for(self.balances(), self.timeout))
        except Exception as err:
            if not is_transient(err):
                raise
            known = {}  # a page without balances beats no page: the spend is the database's
        async with self.sessions() as session:
            spent = [await spent_today(session, self.chain_id, a) for a in self.addresses]
        return [
            WalletView(address, known.get(address), spent_wei, self.cap_wei)
            for address, spent_wei in zip(self.addresses, spent, strict=True)
        ]
