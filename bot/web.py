"""The bot's HTTP server (aiohttp): an IPFS gateway for stored content, a health check, the
web gallery (`/c/<platform>/<community>` and `/token/<id>`), and simple explorer pages so that
a local chain has transaction and token links to point at.

Every piece of user text on a page goes through `html.escape`, and pages forbid scripts
(Content-Security-Policy) as a second guard.
"""

from __future__ import annotations

import html
import logging
import math
from urllib.parse import urlencode

from aiohttp import web
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.content.cid import is_cid
from bot.content.store import ContentStore
from bot.engagement import (
    GALLERY_PAGE_SIZE,
    Engagement,
    GalleryItem,
    community_path,
    token_path,
)
from bot.minting.service import MintService
from db.models import ChainTx, MintRequest, Phase

log = logging.getLogger(__name__)

IMMUTABLE = "public, max-age=31536000, immutable"
_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)


def content_type(data: bytes) -> str:
    """The media type of stored content, from its leading bytes (we only store what we made:
    checked images and metadata JSON)."""
    for magic, mime in _SIGNATURES:
        if data.startswith(magic):
            return mime
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[:1] == b"{":
        return "application/json"
    return "application/octet-stream"


COMMUNITY_KINDS = {"discord": "Discord server", "telegram": "Telegram group"}
# Pages run no script at all: even text that escaped escaping could not act.
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; base-uri 'none'; "
        "form-action 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;"
    "color:#222}img{max-width:100%}dt{font-weight:600}code{word-break:break-all}"
    ".grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(13rem,1fr));gap:1rem;"
    "list-style:none;padding:0}.card{border:1px solid #ddd;border-radius:.5rem;padding:.6rem;"
    "overflow-wrap:anywhere}.card img,.token img{width:100%;aspect-ratio:1;object-fit:contain;"
    "image-rendering:pixelated;background:#f4f4f4;border-radius:.3rem}.card h2{font-size:1.05rem;"
    "margin:.5rem 0 .2rem}.card p{margin:.2rem 0;font-size:.9rem}.token img{max-width:28rem}"
    ".description{white-space:pre-wrap}nav a{margin-right:1rem}"
)


def _page(title: str, body: str, *, status: int = 200) -> web.Response:
    document = (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<meta name=viewport content='width=device-width'><title>{html.escape(title)}</title>"
        f"<style>{_STYLE}</style></head><body>" + body + "</body></html>"
    )
    return web.Response(
        text=document, content_type="text/html", status=status, headers=PAGE_HEADERS
    )


def _short(address: str) -> str:
    return f"{address[:6]}…{address[-4:]}" if len(address) > 12 else address


class WebServer:
    def __init__(
        self,
        *,
        service: MintService,
        sessions: async_sessionmaker[AsyncSession],
        content: ContentStore,
        engagement: Engagement,
        host: str,
        port: int,
    ) -> None:
        self.service = service
        self.sessions = sessions
        self.content = content
        self.engagement = engagement
        self.host = host
        self.port = port
        self._runner: web.AppRunner | None = None
        self.app = web.Application()
        self.app.add_routes(
            [
                web.get("/health", self.health),
                web.get("/ipfs/{cid}", self.ipfs),
                web.get("/c/{platform}/{community}", self.community_page),
                web.get("/token/{token_id}", self.token_page),
                web.get("/explorer/tx/{tx_hash}", self.tx_page),
                web.get("/explorer/nft/{contract}/{token_id}", self.explorer_token_page),
                web.get("/explorer/address/{address}", self.address_page),
            ]
        )

    async def start(self) -> str:
        """Serve until `stop`; returns the base URL (with the real port if 0 was asked)."""
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        if sockets:
            self.port = sockets[0].getsockname()[1]
        return f"http://{self.host}:{self.port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def health(self, _request: web.Request) -> web.Response:
        async with self.sessions() as session:
            in_flight = await session.scalar(
                select(func.count())
                .select_from(MintRequest)
                .where(MintRequest.phase.in_(("received", "stored", "queued", "signed", "sent")))
            )
        return web.json_response(
            {
                "ok": True,
                "chain_id": self.service.chain.chain_id,
                "in_flight": in_flight,
                "waiting_reason": self.service.waiting_reason,
            }
        )

    async def ipfs(self, request: web.Request) -> web.StreamResponse:
        cid = request.match_info["cid"]
        if not is_cid(cid) or not self.content.has(cid):
            raise web.HTTPNotFound(text="no such content here")
        data = self.content.read_file(cid)
        if request.headers.get("If-None-Match") == f'"{cid}"':
            return web.Response(status=304, headers={"ETag": f'"{cid}"'})
        return web.Response(
            body=data,
            content_type=content_type(data),
            headers={
                "Cache-Control": IMMUTABLE,
                "ETag": f'"{cid}"',
                "X-Content-Type-Options": "nosniff",
            },
        )

    async def tx_page(self, request: web.Request) -> web.Response:
        tx_hash = request.match_info["tx_hash"].lower()
        async with self.sessions() as session:
            tx = await session.scalar(select(ChainTx).where(ChainTx.mined_hash == tx_hash))
            if tx is None:
                raise web.HTTPNotFound(text="no such transaction here")
            requests = list(
                await session.scalars(
                    select(MintRequest).where(MintRequest.tx_id == tx.id).order_by(MintRequest.id)
                )
            )
        rows = "".join(
            f"<li>{self._token_link(r)} to <code>{html.escape(r.recipient or '')}</code></li>"
            for r in requests
        )
        return _page(
            f"Transaction {tx_hash}",
            (
                f"<h1>Transaction</h1><p><code>{html.escape(tx_hash)}</code></p><dl>"
                f"<dt>Status</dt><dd>{html.escape(tx.status)}</dd>"
                f"<dt>Block</dt><dd>{tx.block_number}</dd>"
                f"<dt>From</dt><dd><code>{html.escape(tx.wallet)}</code> (nonce {tx.nonce})</dd>"
                f"<dt>Gas used</dt><dd>{tx.gas_used}</dd></dl>"
                f"<h2>Tokens ({len(requests)})</h2><ul>{rows}</ul>"
            ),
        )

    def _token_link(self, r: MintRequest) -> str:
        contract = self.service.chain.collection.address
        return f"<a href='/explorer/nft/{contract}/{r.token_id_int}'>{html.escape(r.name)}</a>"

    # ----- the web gallery -------------------------------------------------------------------

    async def community_page(self, request: web.Request) -> web.Response:
        """A community's minted tokens, newest first, a page at a time (`?page=N`), or one
        member's (`?member=ID`)."""
        platform = request.match_info["platform"]
        community = request.match_info["community"]
        member = request.query.get("member") or None
        try:
            page = int(request.query.get("page", "1"))
        except ValueError:
            page = 0
        if page < 1:
            raise web.HTTPBadRequest(text="page must be a whole number from 1")
        gallery = await self.engagement.gallery(
            platform,
            community,
            member,
            offset=(page - 1) * GALLERY_PAGE_SIZE,
            limit=GALLERY_PAGE_SIZE,
        )
        pages = max(1, math.ceil(gallery.total / GALLERY_PAGE_SIZE))
        if page > pages:
            raise web.HTTPNotFound(text=f"this gallery has {pages} page(s)")
        kind = COMMUNITY_KINDS.get(platform, f"{platform} community")
        where = f"{kind} {community}"
        if member is not None:
            creator = gallery.items[0].creator_name if gallery.items else member
            heading = f"NFTs by {creator} in this {kind}"
        else:
            heading = f"NFTs minted in this {kind}"
        path = community_path(platform, community)

        def page_link(number: int, label: str, rel: str) -> str:
            query = {"page": str(number), **({"member": member} if member else {})}
            href = f"{path}?{urlencode(query)}"
            return f"<a rel={rel} href='{html.escape(href)}'>{label}</a>"

        nav = []
        if page > 1:
            nav.append(page_link(page - 1, "← newer", "prev"))
        if gallery.has_more:
            nav.append(page_link(page + 1, "older →", "next"))
        if member is not None:
            nav.append(f"<a href='{html.escape(path)}'>the whole {kind}</a>")
        cards = "".join(self._card(item) for item in gallery.items)
        body = (
            f"<h1>{html.escape(heading)}</h1>"
            f"<p class=summary>{gallery.total} token{'s' if gallery.total != 1 else ''}"
            f" · page {page} of {pages} · <code>{html.escape(where)}</code></p>"
            + (f"<ul class=grid>{cards}</ul>" if cards else "<p>Nothing minted here yet.</p>")
            + f"<nav>{''.join(nav)}</nav>"
        )
        return _page(heading, body)

    def _card(self, item: GalleryItem) -> str:
        link = html.escape(token_path(item.token_id))
        name = html.escape(item.name)
        image = (
            f"<a href='{link}'><img src='/ipfs/{html.escape(item.image_cid)}' alt='{name}'></a>"
            if item.image_cid
            else ""
        )
        tx = (
            f"<p><a class=tx href='{html.escape(item.tx_url)}'>transaction "
            f"{html.escape(_short(item.tx_hash or ''))}</a></p>"
            if item.tx_url
            else ""
        )
        return (
            f"<li class=card data-token-id='{item.token_id}'>{image}"
            f"<h2 class=name><a href='{link}'>{name}</a></h2>"
            f"<p class=creator>by {html.escape(item.creator_name)}</p>"
            f"<p class=owner>owner {self._owner(item, item.owner, short=True)}</p>{tx}</li>"
        )

    def _owner(self, item: GalleryItem, owner: str | None, *, short: bool = False) -> str:
        """Who holds the token, as HTML: its address (linked to the explorer), and for a token
        in custody, for whom the bot holds it."""
        if owner is None:
            return "unknown"
        explorer = self.service.chain.explorer
        text = html.escape(_short(owner) if short else owner)
        shown = f"<code title='{html.escape(owner)}'>{text}</code>"
        if explorer is not None:
            shown = f"<a href='{html.escape(explorer.address_url(owner))}'>{shown}</a>"
        custody = owner.lower() == self.service.chain.custody_address.lower()
        if item.custodial and custody:
            shown += f" (held by the bot for {html.escape(item.creator_name)})"
        return shown

    async def explorer_token_page(self, request: web.Request) -> web.Response:
        if request.match_info["contract"].lower() != self.service.chain.collection.address.lower():
            raise web.HTTPNotFound(text="no such collection here")
        return await self.token_page(request)

    async def token_page(self, request: web.Request) -> web.Response:
        """One token: its image, name, description, creator, current owner (asked of the
        chain), and links to its transaction and metadata."""
        text = request.match_info["token_id"]
        try:
            token_id = int(text, 16) if text.lower().startswith("0x") else int(text)
        except ValueError:
            raise web.HTTPNotFound(text="no such token") from None
        item = await self.engagement.token(token_id) if 0 <= token_id < 2**256 else None
        if item is None:
            raise web.HTTPNotFound(text="no such token here")
        owner = await self.service.chain.collection.owner_of(token_id)
        contract = self.service.chain.collection.address
        rows = [
            ("Creator", f"<span class=creator>{html.escape(item.creator_name)}</span>"),
            ("Owner", f"<span class=owner>{self._owner(item, owner)}</span>"),
            ("Token ID", f"<code>{token_id}</code>"),
            ("Collection", f"<code>{html.escape(contract)}</code>"),
        ]
        if item.metadata_cid:
            cid = html.escape(item.metadata_cid)
            rows.append(("Metadata", f"<a href='/ipfs/{cid}'>ipfs://{cid}</a>"))
        if item.tx_hash:
            tx_hash = html.escape(item.tx_hash)
            shown = f"<code>{tx_hash}</code>"
            rows.append(
                (
                    "Transaction",
                    f"<a class=tx href='{html.escape(item.tx_url)}'>{shown}</a>"
                    if item.tx_url
                    else shown,
                )
            )
        details = "".join(f"<dt>{label}</dt><dd>{value}</dd>" for label, value in rows)
        image = (
            f"<img src='/ipfs/{html.escape(item.image_cid)}' alt='{html.escape(item.name)}'>"
            if item.image_cid
            else ""
        )
        back = (
            f"<nav><a href='{html.escape(community_path(item.platform, item.community_id))}'>"
            "more from this community</a></nav>"
            if item.community_id
            else ""
        )
        return _page(
            item.name,
            (
                f"<article class=token><h1 class=name>{html.escape(item.name)}</h1>{image}"
                f"<p class=description>{html.escape(item.description)}</p>"
                f"<dl>{details}</dl></article>{back}"
            ),
        )

    async def address_page(self, request: web.Request) -> web.Response:
        address = request.match_info["address"]
        async with self.sessions() as session:
            owned = list(
                await session.scalars(
                    select(MintRequest)
                    .where(
                        func.lower(MintRequest.recipient) == address.lower(),
                        MintRequest.phase.in_((Phase.CONFIRMED, Phase.REPLIED)),
                    )
                    .order_by(MintRequest.id)
                )
            )
        rows = "".join(f"<li>{self._token_link(r)}</li>" for r in owned)
        return _page(
            f"Address {address}",
            (
                f"<h1>Address</h1><p><code>{html.escape(address)}</code></p>"
                f"<h2>Minted here ({len(owned)})</h2><ul>{rows}</ul>"
            ),
        )
