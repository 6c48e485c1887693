"""The running core (`Runtime`): what `bot.app.open_runtime` wires together, and the background
loops each process role runs of it."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.alerts import BalanceAlerts
from bot.chain.contract import Collection
from bot.chain.setup import Chain
from bot.chain.tx_engine import TxEngine
from bot.chain.watcher import TxWatcher
from bot.community_collections.service import CommunityCollections
from bot.config import Settings
from bot.content.store import ContentStore
from bot.drops.codewords import Codewords
from bot.drops.raffles import Raffles
from bot.drops.service import Drops
from bot.holders.roles import HolderRoles
from bot.inbox import DurableInbox
from bot.leaderboard_gallery import Engagement
from bot.metrics import PipelineMetrics
from bot.minting.service import MintService
from bot.ports import RunningPlatforms
from bot.roles import Role
from bot.shared_turns import SharedTurns
from bot.wallets import WalletLinks
from bot.webhooks.delivery import WebhookSender
from bot.webhooks.drop_ends import watch_drop_ends
from bot.webhooks.endpoints import WebhookEndpoints
from bot.withdrawals import Withdrawals


@dataclass
class Runtime:
    """The running core: chain, database, content, the hot wallet's transactions and their
    watcher, the mint service, wallet links, withdrawals, drops (raffles, codewords), engagement
    queries, the inbox of chat updates and the chat platforms running, wired together."""

    settings: Settings
    chain: Chain
    collection: Collection
    db: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    content: ContentStore
    txs: TxEngine
    watcher: TxWatcher
    service: MintService
    wallets: WalletLinks
    withdrawals: Withdrawals
    alerts: BalanceAlerts
    engagement: Engagement
    drops: Drops
    inbox: DurableInbox
    platforms: RunningPlatforms
    collections: CommunityCollections
    turns: SharedTurns
    # What this process counts, for /metrics (the database's numbers are read when scraped).
    metrics: PipelineMetrics
    holders: HolderRoles  # holder roles, and the balances holder gates read
    raffles: Raffles
    codewords: Codewords  # drops claimed with a secret word or single-use codes
    webhooks: WebhookEndpoints  # communities' webhook endpoints and the global ones
    webhook_sender: WebhookSender  # posts the outbox's events (bot/webhooks/delivery.py)
    _background: list[asyncio.Future[None]] = field(default_factory=list, init=False, repr=False)

    async def start(self, role: Role = "all") -> None:
        """Resume unfinished work and run the background loops of `role`: for the pipeline,
        the mint stages, the transaction watchers, withdrawals and community collections; for
        chat, the answers (given through the chat platforms running here), the inbox's tidying,
        holder roles and raffles; `all` runs both."""
        loops: list[Coroutine[Any, Any, None]] = []
        if role == "all":
            await self.service.start()
        elif role == "pipeline":
            # Chat processes record the requests: nothing here wakes the stages at once.
            await self.service.start_pipeline(look_every=self.settings.poll_interval)
        elif role == "chat":
            # Answers go out where the chat platforms run; the pipeline decides them elsewhere.
            self.service.start_delivery(look_every=self.settings.poll_interval)
        if role in ("all", "pipeline"):
            lanes = self.service.lanes
            loops += [lanes.run(), *(watcher.run() for watcher in lanes.watchers)]
            loops += [self.withdrawals.run(), self.collections.run()]
        if role in ("all", "chat"):
            loops += [self.inbox.keep_tidy(), self.holders.run(), self.raffles.run()]
            # Webhooks go out where the platforms run: a disabled endpoint alerts their admins.
            await self.webhooks.sync_global(self.settings.webhooks.urls)
            loops += [self.webhook_sender.run(), watch_drop_ends(self.sessions)]
        for loop in loops:
            self._background.append(asyncio.ensure_future(loop))

    async def close(self) -> None:
        """Stop what `start` runs, letting answers being given finish recording."""
        await self.drops.close_writer()
        await self.inbox.close()
        for task in self._background:
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        await self.service.stop()
        await self.service.lanes.close()
