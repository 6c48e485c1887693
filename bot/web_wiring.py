"""The web side of a running bot: the web server on its runtime, `/health` and `/metrics`, and
which of them a process serves for its role."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from bot.config import Settings
from bot.dashboard.wiring import dashboard_pages
from bot.metrics import MetricsPage
from bot.queue_depths import read_depths
from bot.web import WebServer
from bot.web.process import WebProcess
from bot.web.server import Health, OwnRoutes

if TYPE_CHECKING:
    from bot.roles import Role
    from bot.runtime import Runtime


def web_server(runtime: Runtime, *, host: str, port: int) -> WebServer:
    """The web server on the runtime's database, content and chain, with the admin dashboard
    (not yet started)."""
    server = WebServer(
        sessions=runtime.sessions,
        content=runtime.content,
        engagement=runtime.engagement,
        collection=runtime.collection,
        explorer=runtime.chain.explorer,
        site_name=runtime.settings.collection_name,
        owners_at=runtime.withdrawals.chain.erc721,
        host=host,
        port=port,
        health=health(runtime),
        metrics=metrics_page(runtime),
        rpc_timeout=runtime.settings.rpc_timeout,
    )
    server.app.add_routes(dashboard_pages(runtime).routes())
    return server


def health(runtime: Runtime, role: str = "all") -> Health:
    """`/health` for this bot: its chain, requests in flight, why it waits, if it does, its
    role, the hot wallet it signs with and the queues."""
    return Health(
        runtime.sessions,
        runtime.chain.chain_id,
        lambda: runtime.service.waiting_reason,
        pinning=bool(runtime.settings.pinning),
        role=role,
        wallets=[engine.wallet.address for engine in runtime.service.lanes.engines],
        lanes=runtime.service.lanes.describe,
    )


def metrics_page(runtime: Runtime, role: str = "all") -> MetricsPage:
    """`/metrics` for this bot: the runtime's registry, and the database's numbers read when
    scraped."""
    lanes = runtime.service.lanes
    wallets = [engine.wallet.address for engine in lanes.engines]
    return MetricsPage(
        runtime.metrics.registry,
        functools.partial(read_depths, runtime.sessions, runtime.chain.chain_id, wallets),
        role=role,
        wallets=wallets,
        lanes=lanes.describe,
    )


def own_routes(settings: Settings, runtime: Runtime, role: Role) -> OwnRoutes:
    """A `chat` or `pipeline` process serves only its own routes: `/health`, `/metrics` and,
    for chat, a platform's webhook and the admin dashboard, which the `web` role passes on to
    it (DASHBOARD_URL; the gallery and gateway are the `web` role's)."""
    routes = OwnRoutes(host=settings.http_host, port=settings.http_port)
    routes.app.router.add_get("/health", health(runtime, role).handle)
    routes.app.router.add_get("/metrics", metrics_page(runtime, role).handle)
    if role == "chat":
        routes.app.add_routes(dashboard_pages(runtime).routes())
    return routes


def web_for(settings: Settings, runtime: Runtime) -> WebServer | WebProcess:
    """The web server as WEB_SERVER says: in a child process (so that no web request can
    delay the bot's answers on this event loop), or inline on this one."""
    if settings.web_server == "inline":
        return web_server(runtime, host=settings.http_host, port=settings.http_port)
    process = WebProcess(
        settings, chain_id=runtime.chain.chain_id, collection_address=runtime.collection.address
    )
    process.app.router.add_get("/health", health(runtime).handle)
    process.app.router.add_get("/metrics", metrics_page(runtime).handle)
    # The dashboard acts on the bot's services: the bot serves it, and the child passes it on.
    process.app.add_routes(dashboard_pages(runtime).routes())
    return process
