"""The HTTP server (aiohttp): its routes, start and stop; `/health`; and, when the server runs
in a process of its own, the forwarding of the bot's own routes (`/health`, `/metrics`, the
Telegram webhook) to the bot.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Mapping, Sequence

import aiohttp
from aiohttp import web
from multidict import CIMultiDict
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.chain.explorer import Explorer
from bot.chain.reads import Owners
from bot.content.store import ContentStore
from bot.leaderboard_gallery import Engagement
from bot.metrics import MetricsPage
from bot.owners import TokenOwners
from bot.queue_depths import SIGNING_ROLES, Depths, read_depths
from bot.web.cache import PageCache
from bot.web.explorer import ExplorerPages
from bot.web.gallery import GalleryPages
from bot.web.gateway import IpfsGateway
from bot.web.languages import Handler, in_reader_language, reader_locale
from db.models import IN_FLIGHT, PIN_PINNED, Phase, Pin

# Not passed on to the bot: they describe one connection, not the request.
_HOP_BY_HOP = frozenset(
    ("host", "connection", "keep-alive", "content-length", "transfer-encoding", "upgrade")
)


class Health:
    """`/health`: the bot's chain, its requests in flight, why it waits, if it does, and how
    many CIDs are not pinned yet; and of this process: its role, the nonce lanes it owns (the
    hot wallets it signs with), and the queues as the shared database holds them."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        chain_id: int,
        waiting_reason: Callable[[], str | None],
        *,
        pinning: bool = False,
        role: str = "all",
        wallets: Sequence[str] = (),
        lanes: Callable[[], Mapping[str, Mapping[str, object]]] = dict,
    ) -> None:
        self.sessions = sessions
        self.chain_id = chain_id
        self.waiting_reason = waiting_reason
        self.pinning = pinning
        self.role = role
        # A list: one nonce lane for each hot wallet of the pool.
        self.wallets = tuple(wallets)
        # Each lane as this process sees it (`Lanes.describe`): held here? stuck, and why?
        self.lanes = lanes

    async def handle(self, _request: web.Request) -> web.Response:
        # In phase order: received, stored, queued, signed, sent.
        phases = [phase for phase in Phase if phase in IN_FLIGHT]
        depths = await read_depths(self.sessions, self.chain_id, self.wallets, phases=phases)
        in_flight = depths.requests_by_phase
        return web.json_response(
            {
                "ok": True,
                "chain_id": self.chain_id,
                "in_flight": sum(in_flight.values()),
                "waiting_reason": self.waiting_reason(),
                # Pins not (yet) on their backend; null when content is not published at all.
                "unpinned_cids": await self._unpinned() if self.pinning else None,
                "role": self.role,
                "lanes": [self._lane(depths, wallet) for wallet in self.wallets],
                "queues": {
                    "requests_in_flight": in_flight,
                    "pins_pending": depths.pins_pending,
                    "withdrawals_queued": depths.withdrawals_queued,
                    "inbox_waiting": depths.inbox_waiting,
                    "answers_given_up": depths.answers_given_up,
                },
            }
        )

    def _lane(self, depths: Depths, wallet: str) -> dict[str, object]:
        lane = depths.lane(wallet)
        here = self.lanes().get(wallet, {})
        return {
            "wallet": wallet,
            "signs": self.role in SIGNING_ROLES,
            "owned": self.role in SIGNING_ROLES and bool(here.get("owned")),
            "stuck": here.get("stuck"),
            "signing_stopped": lane.signing_stopped,
            "in_flight_txs": lane.in_flight_txs,
        }

    async def _unpinned(self) -> int:
        async with self.sessions() as session:
            count = await session.scalar(
                select(func.count()).select_from(Pin).where(Pin.state != PIN_PINNED)
            )
        return int(count or 0)


class WebServer:
    """The IPFS gateway for stored content, the web gallery (its link previews name the site
    `site_name`) and explorer pages for a local chain, on one aiohttp application, and either
    `health` and `metrics` served here or the `forwarded` paths passed on to the bot at
    `bot_url` (when this runs in a process of its own)."""

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        content: ContentStore,
        engagement: Engagement,
        collection: Owners,
        explorer: Explorer | None,
        site_name: str,
        owners_at: Callable[[str], Owners] | None = None,
        host: str,
        port: int,
        health: Health | None = None,
        metrics: MetricsPage | None = None,
        bot_url: str | None = None,
        forwarded: Sequence[str] = (),
        rpc_timeout: float = 10.0,
        page_ttl: float = 2.0,
    ) -> None:
        self.host = host
        self.port = port
        # A community's own collection is asked who holds its tokens as the shared one is.
        self.owners = TokenOwners(sessions, collection, at=owners_at, rpc_timeout=rpc_timeout)
        self.bot_url = bot_url
        self._runner: web.AppRunner | None = None
        self._http: aiohttp.ClientSession | None = None
        gateway = IpfsGateway(content)
        gallery = GalleryPages(
            engagement=engagement,
            owners=self.owners,
            collection_address=collection.address,
            explorer=explorer,
            site_name=site_name,
        )
        explorer_pages = ExplorerPages(sessions=sessions, gallery=gallery)
        # Each page in its reader's language, kept apart per language.
        cache = PageCache(ttl=page_ttl, variant=reader_locale)

        def page(handler: Handler) -> Handler:
            return cache.wrap(in_reader_language(handler))

        self.app = web.Application()
        self.app.add_routes(
            [
                web.get("/ipfs/{cid}", gateway.handle),
                web.get("/c/{platform}/{community}", page(gallery.community_page)),
                web.get("/token/{token_id}", page(gallery.token_page)),
                web.get("/explorer/tx/{tx_hash}", page(explorer_pages.tx_page)),
                web.get("/explorer/nft/{contract}/{token_id}", page(explorer_pages.token_page)),
                web.get("/explorer/address/{address}", page(explorer_pages.address_page)),
            ]
        )
        if health is not None:
            self.app.router.add_get("/health", health.handle)
        if metrics is not None:
            self.app.router.add_get("/metrics", metrics.handle)
        for path in forwarded:
            self.app.router.add_route("*", path, self._forward)

    async def start(self, sock: socket.socket | None = None) -> str:
        """Serve until `stop`, on HOST:PORT or on a listening socket handed over; returns the
        base URL (with the real port if 0 was asked)."""
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        site: web.BaseSite
        if sock is not None:
            site = web.SockSite(self._runner, sock)
        else:
            site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        sockets = getattr(site._server, "sockets", None) or []
        if sockets:
            address = sockets[0].getsockname()
            self.host = address[0] if sock is not None else self.host
            self.port = address[1]
        return f"http://{self.host}:{self.port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._http is not None:
            await self._http.close()
        await self.owners.close()

    async def _forward(self, request: web.Request) -> web.Response:
        """Pass a request for the bot's own routes on to the bot, and its answer back (502 if
        the bot does not answer: Telegram, for one, then sends the update again)."""
        assert self.bot_url is not None
        if self._http is None:
            self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP}
        try:
            async with self._http.request(
                request.method,
                self.bot_url + request.path_qs,
                headers=headers,
                data=await request.read(),
                # A redirect is the browser's to follow (the dashboard's answers to its forms).
                allow_redirects=False,
            ) as answer:
                body = await answer.read()
                # The body comes decoded: its former encoding no longer describes it. A
                # multidict: each of several Set-Cookie headers (the dashboard's sign-in sets
                # its session and its language) is passed on.
                kept = CIMultiDict(
                    (k, v)
                    for k, v in answer.headers.items()
                    if k.lower() not in _HOP_BY_HOP and k.lower() != "content-encoding"
                )
                return web.Response(body=body, status=answer.status, headers=kept)
        except (aiohttp.ClientError, TimeoutError):
            return web.Response(status=502, text="the bot did not answer")


class OwnRoutes:
    """The routes of a `chat` or `pipeline` process (its `/health`, a platform's webhook),
    served on HTTP_HOST:HTTP_PORT; add them to `app` before `start`."""

    def __init__(self, *, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self.app = web.Application()
        self._runner: web.AppRunner | None = None

    async def start(self) -> str:
        """Serve; returns the base URL (with the port chosen, when HTTP_PORT is 0)."""
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return f"http://{self.host}:{port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
