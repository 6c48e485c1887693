"""The web role: the web server in a process of its own (`python -m bot web`).

It reads the bot's database and content directory and asks the chain only who holds a token
(`bot/owners.py`); it holds no key and no chat token. `python -m bot run` starts it as a child
process (`bot/web/process.py`): then it serves on the listening socket the bot hands over,
passes the bot's own routes (`/health`, the Telegram webhook) on to the bot, and ends when the
bot does, however the bot ends (its stdin is a pipe from the bot, closed when the bot dies).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import signal
import socket
import sys
from collections.abc import Sequence
from typing import Any

from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.chain.deployments import Deployment
from bot.chain.explorer import explorer_for
from bot.chain.reads import CollectionOwners, connect_json_rpc
from bot.config import WebSettings
from bot.content.store import ContentStore
from bot.dashboard.links import DASHBOARD_PAGES
from bot.errors import ConfigError
from bot.leaderboard_gallery import Engagement
from bot.metrics import MetricsPage
from bot.queue_depths import read_depths
from bot.signals import stop_signals
from bot.web.server import Health, WebServer
from db.engine import create_db_engine, session_factory, upgrade

log = logging.getLogger(__name__)


async def serve_web(
    settings: WebSettings,
    *,
    socket_fd: int | None = None,
    bot_url: str | None = None,
    forwarded: Sequence[str] = (),
) -> None:
    """Serve the web pages until a stop signal or, when the bot started this process, until
    the bot is gone."""
    beside_the_bot = socket_fd is not None
    if beside_the_bot:
        # A Ctrl-C in the terminal reaches the whole process group; the bot stops this process
        # itself (SIGTERM, or by closing its stdin), after its own work.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    with stop_signals(
        (signal.SIGTERM,) if beside_the_bot else (signal.SIGINT, signal.SIGTERM)
    ) as stop:
        db = create_db_engine(settings.database_url, settings.database_pool_size)
        rpc = await connect_json_rpc(
            settings.rpc_urls or settings.rpc_url, settings.chain_id, settings.rpc_timeout
        )
        try:
            await upgrade(db)  # a no-op when the bot is running: it migrated at start
            chain_id = await rpc.chain_id()
            collection = CollectionOwners(rpc, _collection_address(settings, chain_id))
            explorer = explorer_for(chain_id, settings.explorer_url, settings.public_base_url)
            sessions = session_factory(db)
            server = WebServer(
                sessions=sessions,
                content=ContentStore(settings.ipfs_dir),
                engagement=Engagement(
                    sessions, explorer=explorer, public_base_url=settings.public_base_url
                ),
                collection=collection,
                explorer=explorer,
                site_name=settings.collection_name,
                # Communities' own collections, named by the requests in the database.
                owners_at=lambda address: CollectionOwners(rpc, address),
                host=settings.http_host,
                port=settings.http_port,
                **forwarding(settings, bot_url, forwarded),
                # Beside the bot, `/health` and `/metrics` are the bot's, passed on; alone, this
                # process reports its own role and the database's queues (it signs nothing).
                health=None if beside_the_bot else Health(sessions, chain_id, _never, role="web"),
                metrics=None if beside_the_bot else _metrics(sessions, chain_id),
                rpc_timeout=settings.rpc_timeout,
            )
            sock = socket.socket(fileno=socket_fd) if socket_fd is not None else None
            base_url = await server.start(sock)
            log.info("web server ready on %s (collection %s)", base_url, collection.address)
            watch = asyncio.ensure_future(_until_stdin_closes() if beside_the_bot else _forever())
            waiting = asyncio.ensure_future(stop.wait())
            try:
                await asyncio.wait([watch, waiting], return_when=asyncio.FIRST_COMPLETED)
            finally:
                watch.cancel()
                waiting.cancel()
                await server.stop()
        finally:
            await rpc.close()
            await db.dispose()


def forwarding(
    settings: WebSettings, bot_url: str | None, forwarded: Sequence[str]
) -> dict[str, Any]:
    """Where requests for routes this process does not serve go: beside the bot, the bot's own
    routes to the bot; alone, the admin dashboard's pages to the chat process DASHBOARD_URL
    names (the dashboard acts on the bot's services, which this process does not run)."""
    if bot_url is None and settings.dashboard_url:
        return {"bot_url": settings.dashboard_url.rstrip("/"), "forwarded": [DASHBOARD_PAGES]}
    return {"bot_url": bot_url, "forwarded": forwarded}


def _metrics(sessions: async_sessionmaker[AsyncSession], chain_id: int) -> MetricsPage:
    return MetricsPage(
        CollectorRegistry(),
        functools.partial(read_depths, sessions, chain_id),
        role="web",
        wallets=(),
    )


def _never() -> str | None:
    return None  # the web role mints nothing, so it never waits to


def _collection_address(settings: WebSettings, chain_id: int) -> str:
    if settings.contract_address:
        return settings.contract_address
    recorded = Deployment.load(settings.deployments_dir, chain_id)
    if recorded is None:
        raise ConfigError(
            "CONTRACT_ADDRESS",
            f"not set and no deployment recorded for chain {chain_id} under "
            f"{settings.deployments_dir}",
        )
    return recorded.address


async def _until_stdin_closes() -> None:
    """Return once stdin, a pipe from the bot that started this process, is closed: the bot
    ended (even killed, when it had no chance to stop this process itself)."""
    reader = asyncio.StreamReader()
    loop = asyncio.get_running_loop()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while await reader.read(4096):
        pass


async def _forever() -> None:
    await asyncio.Event().wait()
