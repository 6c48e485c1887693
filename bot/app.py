"""Composition root: builds the runtime (chain, database, content, the services and the
transaction watcher) from the settings, and runs the bot.

Nothing below this module reads settings or environment on its own; everything is passed in.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import logging
from collections.abc import AsyncIterator, Sequence
from datetime import timedelta
from typing import Any

from aiohttp.web import Application
from prometheus_client import CollectorRegistry

import bot.registry  # noqa: F401  (fills the registries)
from bot.alerts import BalanceAlerts
from bot.chain.lanes import Lanes
from bot.chain.names import open_ens_names
from bot.chain.reads import web3_rpc
from bot.chain.setup import Chain, operator_admin
from bot.chain.signatures import ContractWallets
from bot.chain.tx_engine import TxEngine
from bot.communities import Communities
from bot.community_collections.service import CommunityCollections
from bot.config import Settings
from bot.content.images import check_image
from bot.content.pinning import open_pinning
from bot.content.store import ContentStore
from bot.custody_moves import own_custody_moves
from bot.drops.codewords import Codewords
from bot.drops.raffles import Raffles
from bot.drops.service import Drops
from bot.errors import ConfigError
from bot.holders.roles import holder_roles
from bot.inbox import DurableInbox
from bot.leaderboard_gallery import Engagement
from bot.metrics import PipelineMetrics
from bot.minting.queries import ChainContext
from bot.minting.service import MintService
from bot.ports import CHAINS, PLATFORMS, ChatPlatform, PlatformKind, RunningPlatforms
from bot.process_locks import only_process_on
from bot.records import open_database
from bot.roles import Role
from bot.runtime import Runtime
from bot.shared_turns import SharedTurns
from bot.signals import stop_signals
from bot.wallets import WalletLinks
from bot.web_wiring import own_routes, web_for
from bot.webhooks.delivery import WebhookSender
from bot.webhooks.endpoints import WebhookEndpoints
from bot.webhooks.vault import secret_box
from bot.withdrawals import Withdrawals
from db.engine import session_factory

log = logging.getLogger(__name__)


def open_configured_chain(settings: Settings) -> contextlib.AbstractAsyncContextManager[Chain]:
    """Open the chain kind that CHAIN_KIND names, from the registry. The runtime signs EVM
    transactions, so every kind opens a backend shaped like `Chain` (the ports it meets, plus
    its web3 connection and hot wallet)."""
    try:
        kind = CHAINS.get(settings.chain_kind)
    except LookupError:
        known = ", ".join(CHAINS.names())
        raise ConfigError(
            "CHAIN_KIND", f"no chain kind named {settings.chain_kind!r}; one of {known}"
        ) from None
    opened: contextlib.AbstractAsyncContextManager[Chain] = kind.open(settings)
    return opened


@contextlib.asynccontextmanager
async def open_runtime(
    settings: Settings, *, start: bool = True, role: Role = "all", sole: bool = False
) -> AsyncIterator[Runtime]:
    """Build everything from the settings; with `start`, resume unfinished work too (what
    `role` runs of it). With `sole`, hold a SQLite database's lock file for as long as the
    runtime is open, or refuse at once if another process holds it (`bot.process_locks`)."""
    async with (
        open_configured_chain(settings) as chain,
        open_pinning(settings) as pinning,
        open_ens_names(settings.ens_rpc_url, settings.rpc_timeout) as names,
        contextlib.AsyncExitStack() as held,
    ):
        collection = await chain.collection()
        if sole:  # once the chain checks passed (bad settings write nothing), before migrating
            held.enter_context(only_process_on(settings.database_url))
        db = await open_database(settings)
        try:
            sessions = session_factory(db)
            content = ContentStore(settings.ipfs_dir)
            platforms = RunningPlatforms()
            engine = functools.partial(
                TxEngine,
                sessions=sessions,
                w3=chain.w3,
                chain_id=chain.chain_id,
                confirmations=settings.confirmations,
                bump_after=settings.fee_bump_after,
                max_fee_cap=settings.max_fee_per_gas_wei,
                max_spend_per_day=settings.max_spend_per_day_wei,
                l1_fee=chain.l1_fee,
                crash_at=settings.crash_at,
            )
            communities = Communities(
                sessions,
                user_mints_per_minute=settings.user_mints_per_minute,
                community_mints_per_minute=settings.community_mints_per_minute,
            )
            chain_context = ChainContext(
                chain_id=chain.chain_id,
                collection=collection,
                explorer=chain.explorer,
                custody_address=settings.custody_address or chain.wallet.address,
            )
            lanes = Lanes(
                [engine(wallet=w) for w in (chain.wallet, *chain.more_wallets)],
                sessions,
                takeover_s=settings.lane_takeover_s,
                shared=db.dialect.name == "postgresql",
                may_mint=lambda wallet, contract: chain_context.erc721(contract).is_minter(wallet),
                poll_interval=settings.poll_interval,
            )
            txs, watcher = lanes.primary, lanes.watchers[0]
            own_custody_moves(txs)
            service = MintService(
                settings=settings,
                sessions=sessions,
                communities=communities,
                lanes=lanes,
                content=content,
                chain=chain_context,
                platforms=platforms,
                pinning=pinning.backends,
                read_back=pinning.read_back,
                metrics=PipelineMetrics(CollectorRegistry()),
            )
            wallets = WalletLinks(
                sessions,
                public_base_url=settings.public_base_url,
                chain_id=chain.chain_id,
                allow_unverified=settings.allow_unverified_wallets,
                collection_address=collection.address,
                contract_wallets=ContractWallets(web3_rpc(chain.w3), timeout=settings.rpc_timeout),
                names=names,
            )
            holders = holder_roles(settings, chain, sessions, lanes.watchers, wallets)
            withdrawals = Withdrawals(
                sessions=sessions,
                txs=txs,
                chain=chain_context,
                wallets=wallets,
                priority_fee_wei=settings.priority_fee_wei,
                max_fee_per_gas_wei=settings.max_fee_per_gas_wei,
                poll_interval=settings.poll_interval,
            )
            turns = SharedTurns(sessions)
            alerts = BalanceAlerts(
                service,
                platforms,
                settings.low_balance_wei,
                turns=turns,
                check_every_s=settings.balance_check_s,
            )
            engagement = Engagement(
                sessions, explorer=chain.explorer, public_base_url=settings.public_base_url
            )
            collections = CommunityCollections(
                sessions=sessions,
                txs=txs,
                chain=chain_context,
                factory=await chain.factory(),
                wallets=wallets,
                content=content,
                check_image=functools.partial(
                    check_image,
                    max_bytes=settings.max_image_bytes,
                    max_pixels=settings.max_image_pixels,
                    max_frames=settings.max_image_frames,
                ),
                pinning=service.publisher.names,
                want_pinned=service.publisher.want,
                operator_admin=operator_admin(settings),
                fees=chain.fees,
                poll_interval=settings.poll_interval,
                on_live=service.batch_queued_by_others,
            )
            drops = Drops(
                collections=collections,
                sessions=sessions,
                content=content,
                service=service,
                platforms=platforms,
                max_image_bytes=settings.max_image_bytes,
                max_image_pixels=settings.max_image_pixels,
                max_image_frames=settings.max_image_frames,
                lookups=holders.lookups,
            )
            raffles = Raffles.build(settings, chain, sessions, drops, content, turns)
            box = secret_box(settings.webhooks.store_secret, settings.data_dir)
            inbox = DurableInbox(
                sessions,
                max_attempts=settings.inbox_max_attempts,
                retention=timedelta(days=settings.inbox_retention_days),
                lease=timedelta(seconds=settings.inbox_lease_s),
            )
            runtime = Runtime(
                settings,
                chain,
                collection,
                db,
                sessions,
                content,
                txs,
                watcher,
                service,
                wallets,
                withdrawals,
                alerts,
                engagement,
                drops,
                inbox,
                platforms,
                collections,
                turns,
                service.metrics,
                holders,
                raffles,
                codewords=Codewords.keyed(drops, settings.codeword_secret, settings.data_dir),
                webhooks=WebhookEndpoints(
                    sessions, box, allow_loopback=settings.webhooks.allow_loopback
                ),
                webhook_sender=WebhookSender(
                    sessions,
                    settings.webhooks,
                    platforms,
                    box,
                    shared=db.dialect.name == "postgresql",
                ),
            )
            if start:
                await runtime.start(role)
            try:
                yield runtime
            finally:
                await runtime.close()
        finally:
            await db.dispose()


async def serve(settings: Settings, console: bool, role: Role = "all") -> None:
    """Run the bot until a stop signal: what `role` runs of it (`bot.roles`). `all`: the mint
    service, the web server, and every chat platform the settings configure or, with none and
    `console`, the fallback platforms (the local console on the terminal)."""
    # Signals are caught from the start, so a stop sent right after "ready" is not lost.
    async with open_runtime(settings, role=role, sole=True) as runtime:
        with stop_signals() as stop:
            web = (
                web_for(settings, runtime) if role == "all" else own_routes(settings, runtime, role)
            )
            chatting = role in ("all", "chat")
            platforms = _chat_platforms(
                settings, runtime, web.app, console=console, chatting=chatting
            )
            base_url = await web.start()
            # What start-up built (modules, the runtime) lives as long as the process: kept out
            # of the collector's full passes, which would otherwise scan it all (over 100 ms
            # with the event loop stopped) in the middle of a burst of requests.
            gc.freeze()
            log.info(
                "ready on chain %d%s: collection %s, hot wallet %s, web %s",
                runtime.chain.chain_id,
                "" if role == "all" else f" (role {role})",
                runtime.collection.address,
                runtime.chain.wallet.address,
                base_url,
            )
            chats = [asyncio.ensure_future(platform.run()) for platform in platforms]
            # Alerts go to the chat platforms, so they run where those do.
            alerts = [runtime.alerts.run()] if chatting else []
            others: list[asyncio.Future[None]] = [asyncio.ensure_future(a) for a in alerts]
            try:
                await _until_stopped(stop, chats)
            finally:
                for task in [*chats, *others]:
                    task.cancel()
                await asyncio.gather(*chats, *others, return_exceptions=True)  # clean up
                await web.stop()
                log.info("stopping")


def _chat_platforms(
    settings: Settings, runtime: Runtime, routes: Application, *, console: bool, chatting: bool
) -> list[ChatPlatform]:
    """The chat platforms to run, built on the runtime (none unless `chatting`): every
    registered kind the settings configure; with none, and `console`, the fallback kinds.
    `routes` is where the bot's own web routes go (a platform's webhook), before the server
    starts."""
    if not chatting:
        return []
    kinds: list[PlatformKind[Runtime]] = list(PLATFORMS)
    chosen = [kind for kind in kinds if kind.configured(settings)]
    if not chosen and console:
        chosen = [kind for kind in kinds if kind.fallback]
    return [kind.build(runtime, routes) for kind in chosen]


async def _until_stopped(stop: asyncio.Event, platforms: Sequence[asyncio.Future[None]]) -> None:
    """Wait for a stop signal. A platform that fails to run (a bad token, say) stops the bot
    too, with its error; one that ends quietly (the console at the end of its input) leaves
    the bot running."""
    stopped: asyncio.Future[Any] = asyncio.ensure_future(stop.wait())
    running = set(platforms)
    try:
        while True:
            done, running = await asyncio.wait(
                [stopped, *running], return_when=asyncio.FIRST_COMPLETED
            )
            running.discard(stopped)
            for task in done:
                error = None if task is stopped or task.cancelled() else task.exception()
                if error is not None:
                    raise error
            if stopped in done:
                return
    finally:
        stopped.cancel()
