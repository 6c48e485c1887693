"""Composition root: builds the chain connection, hot wallet and collection from the settings.

Nothing below this module reads settings or environment on its own; everything is passed in.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator, Coroutine, Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from aiohttp.web import Application
from eth_account import Account
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from web3 import AsyncWeb3

import bot.registry  # noqa: F401  (fills the registries)
from bot.alerts import BalanceAlerts
from bot.chain import client
from bot.chain.contract import Collection, CollectionParams, Deployment, deploy_collection
from bot.chain.devchain import Anvil, rpc_chain_id
from bot.chain.engine import TxEngine
from bot.chain.explorer import Explorer, explorer_for
from bot.chain.fees import Fees, current_fees
from bot.chain.wallet import HotWallet
from bot.communities import Communities
from bot.config import ANVIL_DEV_KEYS, LOCAL_CHAIN_ID, Settings
from bot.content.store import ContentStore
from bot.drops import Drops
from bot.engagement import Engagement
from bot.errors import ChainError, ConfigError
from bot.inbox import DurableInbox
from bot.minting.service import ChainContext, MintService
from bot.ports import PLATFORMS, RunningPlatforms
from bot.wallets import WalletLinks
from bot.web import WebServer
from bot.web.process import WebProcess
from bot.web.server import Health
from bot.withdrawals import Withdrawals
from db.engine import create_engine, session_factory, upgrade

log = logging.getLogger(__name__)


@contextlib.contextmanager
def local_node(settings: Settings) -> Iterator[str]:
    """In local mode, make sure anvil answers on ANVIL_PORT: reuse one already running there
    (say, `python -m bot devchain` in another terminal), else start one until the block ends.
    With RPC_URL set this does nothing. Yields the RPC URL either way."""
    url = settings.effective_rpc_url
    if not settings.local_mode or rpc_chain_id(url, timeout=0.5) == LOCAL_CHAIN_ID:
        yield url
        return
    anvil_dir = settings.data_dir / "anvil"
    anvil_dir.mkdir(parents=True, exist_ok=True)
    with Anvil(
        settings.anvil_port,
        state_file=anvil_dir / "state.json",
        block_time=settings.anvil_block_time,
        log_file=anvil_dir / "anvil.log",
    ):
        log.info("started the local chain (anvil) on %s, state in %s", url, anvil_dir)
        yield url


def local_admin_address() -> str:
    """In local mode the contract admin is anvil's second published account."""
    return str(Account.from_key(ANVIL_DEV_KEYS[1]).address)


def collection_params(settings: Settings, wallet: HotWallet, admin: str | None) -> CollectionParams:
    admin = (
        admin or settings.admin_address or (local_admin_address() if settings.local_mode else None)
    )
    if admin is None:
        raise ConfigError(
            "ADMIN_ADDRESS", "required to deploy: the contract admin, not the hot wallet"
        )
    return CollectionParams(
        name=settings.collection_name,
        symbol=settings.collection_symbol,
        admin=admin,
        minter=wallet.address,
        royalty_receiver=settings.royalty_receiver or admin,
        royalty_bps=settings.royalty_bps,
        contract_uri=settings.contract_uri,
    )


@dataclass
class Chain:
    """Everything the bot needs to act on chain, built once by `open_chain`."""

    settings: Settings
    w3: AsyncWeb3[Any]
    chain_id: int
    wallet: HotWallet
    explorer: Explorer | None

    async def fees(self) -> Fees:
        return await current_fees(
            self.w3, self.settings.priority_fee_wei, self.settings.max_fee_per_gas_wei
        )

    def recorded_deployment(self) -> Deployment | None:
        return Deployment.load(self.settings.deployments_dir, self.chain_id)

    def configured_address(self) -> str | None:
        """CONTRACT_ADDRESS if set, else the deployment recorded for this chain, if any."""
        if self.settings.contract_address:
            return self.settings.contract_address
        recorded = self.recorded_deployment()
        return recorded.address if recorded else None

    async def deploy(self, admin: str | None = None) -> Deployment:
        """Deploy a new collection and record it under DATA_DIR/deployments/."""
        params = collection_params(self.settings, self.wallet, admin)
        deployment = await deploy_collection(self.w3, self.wallet, params, await self.fees())
        deployment.save(self.settings.deployments_dir)
        log.info(
            "deployed the collection at %s (admin %s, minter %s)",
            deployment.address,
            params.admin,
            params.minter,
        )
        return deployment

    async def collection(self) -> Collection:
        """The collection to mint into. In local mode it is deployed on first start and reused
        afterwards; elsewhere it must be configured or deployed with `python -m bot deploy`."""
        address = self.configured_address()
        if address is not None:
            collection = Collection(self.w3, address)
            if await collection.has_code():
                return collection
            if self.settings.contract_address or not self.settings.local_mode:
                raise ChainError(
                    f"CONTRACT_ADDRESS: no contract code at {address} on chain {self.chain_id}"
                )
            log.info("the recorded local collection is gone (fresh chain state); deploying anew")
        elif not self.settings.local_mode:
            raise ChainError(
                f"CONTRACT_ADDRESS: not set and no deployment recorded for chain {self.chain_id}; "
                "run `python -m bot deploy`"
            )
        return Collection(self.w3, (await self.deploy()).address)


@contextlib.asynccontextmanager
async def open_chain(settings: Settings) -> AsyncIterator[Chain]:
    """Connect to the configured chain and build the hot wallet; close the connection after."""
    w3 = await client.connect(
        settings.effective_rpc_url, settings.chain_id, timeout=settings.rpc_timeout
    )
    try:
        wallet = HotWallet(settings.hot_wallet_key)
        if settings.hot_wallet_key_is_dev:
            log.warning(
                "LOCAL MODE: the hot wallet is anvil's PUBLISHED development key (%s). "
                "Anyone can spend from it. It is only for the local chain; set RPC_URL and "
                "HOT_WALLET_PRIVATE_KEY for a real one.",
                wallet.address,
            )
        chain_id = await w3.eth.chain_id
        if settings.local_mode:
            await _fund_on_local_chain(w3, wallet.address)
        explorer = explorer_for(chain_id, settings.explorer_url, settings.public_base_url)
        yield Chain(settings, w3, chain_id, wallet, explorer)
    finally:
        await client.close(w3)


async def _fund_on_local_chain(w3: AsyncWeb3[Any], address: str) -> None:
    """Local anvil funds its dev accounts; a hot wallet of your own gets test ether too."""
    if await w3.eth.get_balance(address) == 0:  # type: ignore[arg-type]
        await w3.provider.make_request("anvil_setBalance", [address, hex(10_000 * 10**18)])  # type: ignore[arg-type]
        log.info("funded the hot wallet %s with 10000 test ether on the local chain", address)


@contextlib.contextmanager
def stop_signals(
    signals: tuple[signal.Signals, ...] = (signal.SIGINT, signal.SIGTERM),
) -> Iterator[asyncio.Event]:
    """An event set by SIGINT or SIGTERM (or `signals`), caught from the moment the block
    starts."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in signals:
        loop.add_signal_handler(sig, stop.set)
    try:
        yield stop
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)


async def wait_for_stop_signal() -> None:
    """Return on SIGINT or SIGTERM."""
    with stop_signals() as stop:
        await stop.wait()


@dataclass
class Runtime:
    """The running core: chain, database, content, the mint service, wallet links,
    withdrawals, drops, the engagement queries (leaderboards, galleries) and the inbox of
    chat updates, wired together."""

    settings: Settings
    chain: Chain
    collection: Collection
    db: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    content: ContentStore
    service: MintService
    wallets: WalletLinks
    withdrawals: Withdrawals
    alerts: BalanceAlerts
    engagement: Engagement
    drops: Drops
    inbox: DurableInbox
    platforms: RunningPlatforms


async def open_database(settings: Settings) -> AsyncEngine:
    """The engine for DATABASE_URL, migrated to the newest schema."""
    if settings.database_url.startswith("sqlite"):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = create_engine(settings.database_url)
    await upgrade(engine)
    return engine


@contextlib.asynccontextmanager
async def open_runtime(settings: Settings, *, start: bool = True) -> AsyncIterator[Runtime]:
    """Build everything from the settings; with `start`, resume unfinished work too."""
    async with open_chain(settings) as chain:
        collection = await chain.collection()
        db = await open_database(settings)
        try:
            sessions = session_factory(db)
            content = ContentStore(settings.ipfs_dir)
            engine = TxEngine(
                sessions=sessions,
                w3=chain.w3,
                wallet=chain.wallet,
                chain_id=chain.chain_id,
                confirmations=settings.confirmations,
                bump_after=settings.fee_bump_after,
                max_fee_cap=settings.max_fee_per_gas_wei,
                max_spend_per_day=settings.max_spend_per_day_wei,
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
            service = MintService(
                settings=settings,
                sessions=sessions,
                communities=communities,
                engine=engine,
                content=content,
                chain=chain_context,
            )
            wallets = WalletLinks(
                sessions,
                public_base_url=settings.public_base_url,
                chain_id=chain.chain_id,
                allow_unverified=settings.allow_unverified_wallets,
                collection_address=collection.address,
            )
            withdrawals = Withdrawals(
                sessions=sessions,
                engine=engine,
                chain=chain_context,
                wallets=wallets,
                priority_fee_wei=settings.priority_fee_wei,
                max_fee_per_gas_wei=settings.max_fee_per_gas_wei,
                poll_interval=settings.poll_interval,
            )
            alerts = BalanceAlerts(
                service, settings.low_balance_wei, check_every_s=settings.balance_check_s
            )
            engagement = Engagement(
                sessions, explorer=chain.explorer, public_base_url=settings.public_base_url
            )
            platforms = RunningPlatforms()
            drops = Drops(
                sessions=sessions,
                content=content,
                service=service,
                platforms=platforms,
                max_image_bytes=settings.max_image_bytes,
                max_image_pixels=settings.max_image_pixels,
                max_image_frames=settings.max_image_frames,
            )
            inbox = DurableInbox(
                sessions,
                max_attempts=settings.inbox_max_attempts,
                retention=timedelta(days=settings.inbox_retention_days),
            )
            runtime = Runtime(
                settings,
                chain,
                collection,
                db,
                sessions,
                content,
                service,
                wallets,
                withdrawals,
                alerts,
                engagement,
                drops,
                inbox,
                platforms,
            )
            background: list[asyncio.Future[None]] = []
            if start:
                await service.start()
                background.append(asyncio.ensure_future(withdrawals.run()))
                background.append(asyncio.ensure_future(inbox.keep_tidy()))
            try:
                yield runtime
            finally:
                await drops.close_writer()
                await inbox.close()
                for task in background:
                    task.cancel()
                await asyncio.gather(*background, return_exceptions=True)
                await service.stop()
        finally:
            await db.dispose()


def web_server(runtime: Runtime, *, host: str, port: int) -> WebServer:
    """The web server on the runtime's database, content and chain (not yet started)."""
    return WebServer(
        sessions=runtime.sessions,
        content=runtime.content,
        engagement=runtime.engagement,
        collection=runtime.collection,
        explorer=runtime.chain.explorer,
        host=host,
        port=port,
        health=health(runtime),
        rpc_timeout=runtime.settings.rpc_timeout,
    )


def health(runtime: Runtime) -> Health:
    """`/health` for this bot: its chain, requests in flight, and why it waits, if it does."""
    return Health(runtime.sessions, runtime.chain.chain_id, lambda: runtime.service.waiting_reason)


async def serve(settings: Settings, console: bool) -> None:
    """Run the bot until a stop signal: the mint service, the web server, the chat platforms
    configured and, with none, the local console on the terminal."""
    # Signals are caught from the start, so a stop sent right after "ready" is not lost.
    async with open_runtime(settings) as runtime:
        with stop_signals() as stop:
            web = _web(settings, runtime)
            clients = _chat_clients(settings, runtime, web.app)
            base_url = await web.start()
            log.info(
                "ready on chain %d: collection %s, hot wallet %s, web %s",
                runtime.chain.chain_id,
                runtime.collection.address,
                runtime.chain.wallet.address,
                base_url,
            )
            chats = [asyncio.ensure_future(client) for client in clients.values()]
            others: list[asyncio.Future[None]] = [asyncio.ensure_future(runtime.alerts.run())]
            if not chats and console:  # no platform configured: the fallback kinds run
                for name in PLATFORMS.names():
                    with contextlib.suppress(ModuleNotFoundError):  # not in this checkout
                        kind = PLATFORMS.get(name)
                        if kind.fallback:
                            others.append(asyncio.ensure_future(kind.build(runtime, web.app).run()))
            try:
                await _until_stopped(stop, chats)
            finally:
                for task in [*chats, *others]:
                    task.cancel()
                await asyncio.gather(*chats, *others, return_exceptions=True)  # clean up
                await web.stop()
                log.info("stopping")


def _web(settings: Settings, runtime: Runtime) -> WebServer | WebProcess:
    """The web server as WEB_SERVER says: in a child process (so that no web request can
    delay the bot's answers on this event loop), or inline on this one."""
    if settings.web_server == "inline":
        return web_server(runtime, host=settings.http_host, port=settings.http_port)
    process = WebProcess(
        settings, chain_id=runtime.chain.chain_id, collection_address=runtime.collection.address
    )
    process.app.router.add_get("/health", health(runtime).handle)
    return process


def _chat_clients(
    settings: Settings, runtime: Runtime, routes: Application
) -> dict[str, Coroutine[Any, Any, None]]:
    """Each configured chat platform's client, ready to run until cancelled; `routes` is
    where the bot's own web routes go (the Telegram webhook)."""
    clients: dict[str, Coroutine[Any, Any, None]] = {}
    if settings.discord_token is not None:
        from bot.discord_client import MintBot, use_endpoints

        use_endpoints(settings.discord_api_base_url, settings.discord_gateway_url)
        clients["discord"] = MintBot(runtime).run_until_cancelled(settings.discord_token)
    if settings.telegram_token is not None:
        from bot.telegram.client import WEBHOOK_PATH, TelegramBot

        telegram_bot = TelegramBot(runtime)
        if telegram_bot.webhook_url is not None:  # routes must exist before the server starts
            routes.router.add_post(WEBHOOK_PATH, telegram_bot.webhook)
        clients["telegram"] = telegram_bot.run()
    return clients


async def _until_stopped(stop: asyncio.Event, clients: Sequence[asyncio.Future[None]]) -> None:
    """Wait for a stop signal; a chat client that fails to run (a bad token, say) stops the
    bot too, with its error."""
    stopped: asyncio.Future[None] = asyncio.ensure_future(_wait(stop))
    done, _ = await asyncio.wait([stopped, *clients], return_when=asyncio.FIRST_COMPLETED)
    stopped.cancel()
    for task in done:
        error = None if task is stopped or task.cancelled() else task.exception()
        if error is not None:
            raise error


async def _wait(event: asyncio.Event) -> None:
    await event.wait()
