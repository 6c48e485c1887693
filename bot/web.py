"""The bot's HTTP server (aiohttp): an IPFS gateway for stored content, a health check, and
simple explorer pages so that a local chain has transaction and token links to point at.

Every piece of user text on a page goes through `html.escape`.
"""

from __future__ import annotations

import html
import json
import logging
from typing import Any

from aiohttp import web
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.content.cid import is_cid
from bot.content.store import ContentStore
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


def _page(title: str, body: str) -> web.Response:
    document = (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<meta name=viewport content='width=device-width'><title>{html.escape(title)}</title>"
        "<style>body{font-family:system-ui,sans-serif;max-width:46rem;margin:2rem auto;"
        "padding:0 1rem}img{max-width:100%}dt{font-weight:600}code{word-break:break-all}"
        "</style></head><body>" + body + "</body></html>"
    )
    return web.Response(text=document, content_type="text/html")


class WebServer:
    def __init__(
        self,
        *,
        service: MintService,
        sessions: async_sessionmaker[AsyncSession],
        content: ContentStore,
        host: str,
        port: int,
    ) -> None:
        self.service = service
        self.sessions = sessions
        self.content = content
        self.host = host
        self.port = port
        self._runner: web.AppRunner | None = None
        self.app = web.Application()
        self.app.add_routes(
            [
                web.get("/health", self.health),
                web.get("/ipfs/{cid}", self.ipfs),
                web.get("/explorer/tx/{tx_hash}", self.tx_page),
                web.get("/explorer/nft/{contract}/{token_id}", self.token_page),
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

    async def _request_for_token(self, token_id: int) -> MintRequest | None:
        async with self.sessions() as session:
            return await session.scalar(
                select(MintRequest).where(MintRequest.token_id == f"0x{token_id:064x}")
            )

    async def token_page(self, request: web.Request) -> web.Response:
        try:
            token_id = int(request.match_info["token_id"])
        except ValueError:
            raise web.HTTPNotFound(text="no such token") from None
        minted = await self._request_for_token(token_id)
        if minted is None or minted.phase not in (Phase.CONFIRMED, Phase.REPLIED):
            raise web.HTTPNotFound(text="no such token here")
        owner = await self.service.chain.collection.owner_of(token_id)
        tx_hash = None
        if minted.tx_id is not None:
            async with self.sessions() as session:
                tx = await session.get(ChainTx, minted.tx_id)
                tx_hash = tx.mined_hash if tx else None
        metadata: dict[str, Any] = {}
        if minted.metadata_cid and self.content.has(minted.metadata_cid):
            metadata = json.loads(self.content.read_file(minted.metadata_cid))
        return _page(
            minted.name,
            (
                f"<h1>{html.escape(minted.name)}</h1>"
                f"<img src='/ipfs/{html.escape(minted.image_cid or '')}' alt=''>"
                f"<p>{html.escape(str(metadata.get('description', '')))}</p><dl>"
                f"<dt>Owner</dt><dd><a href='/explorer/address/{owner}'><code>{owner}</code></a>"
                f"{' (held in custody)' if minted.custodial else ''}</dd>"
                f"<dt>Token ID</dt><dd><code>{token_id}</code></dd>"
                f"<dt>Metadata</dt><dd><a href='/ipfs/{minted.metadata_cid}'>"
                f"ipfs://{minted.metadata_cid}</a></dd>"
                + (
                    f"<dt>Transaction</dt><dd><a href='/explorer/tx/{tx_hash}'><code>{tx_hash}"
                    "</code></a></dd>"
                    if tx_hash
                    else ""
                )
                + "</dl>"
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
