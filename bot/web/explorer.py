"""Simple explorer pages, so that a local chain has transaction, token and address links to
point at: `/explorer/tx/<hash>`, `/explorer/nft/<contract>/<id>`, `/explorer/address/<addr>`.
Lists come a page at a time (`?page=N`), each page one bounded query. A token is named by its
own contract (a community's collection or editions contract, or the shared collection); an
edition's link is its artwork's, whose page every edition shares. Written in the reader's
language (`bot/web/languages.py`); a transaction's status is the database's word, shown as is.
"""

from __future__ import annotations

import html

from aiohttp import web
from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.chain.addresses import parse_hex_address
from bot.i18n import _
from bot.web.gallery import GalleryPages
from bot.web.pages import definitions, page, page_links, page_number
from db.models import MINTED, ChainTx, MintRequest

LIST_PAGE_SIZE = 50


class ExplorerPages:
    def __init__(
        self, *, sessions: async_sessionmaker[AsyncSession], gallery: GalleryPages
    ) -> None:
        self.sessions = sessions
        self.gallery = gallery

    async def tx_page(self, request: web.Request) -> web.Response:
        tx_hash = request.match_info["tx_hash"].lower()
        number = page_number(request)
        async with self.sessions() as session:
            tx = await session.scalar(select(ChainTx).where(ChainTx.mined_hash == tx_hash))
            if tx is None:
                raise web.HTTPNotFound(text=_("no such transaction here"))
            requests = await _a_page(
                session,
                select(MintRequest).where(MintRequest.tx_id == tx.id).order_by(MintRequest.id),
                number,
            )
        if number > 1 and not requests:
            raise web.HTTPNotFound(text=_("this transaction has fewer pages"))
        rows = "".join(
            "<li>"
            + _("{token} to {address}").format(
                token=self._token_link(r),
                address=f"<code>{html.escape(r.recipient or '')}</code>",
            )
            + "</li>"
            for r in requests[:LIST_PAGE_SIZE]
        )
        nav = page_links(request.path, number, has_more=len(requests) > LIST_PAGE_SIZE)
        nonce = html.escape(_("(nonce {nonce})").format(nonce=tx.nonce))
        details = definitions(
            [
                (_("Status"), html.escape(tx.status)),
                (_("Block"), str(tx.block_number)),
                (_("From"), f"<code>{html.escape(tx.wallet)}</code> {nonce}"),
                (_("Gas used"), str(tx.gas_used)),
            ]
        )
        tokens = _("Tokens (page {number})").format(number=number)
        return page(
            _("Transaction {hash}").format(hash=tx_hash),
            (
                f"<h1>{html.escape(_('Transaction'))}</h1><p><code>{html.escape(tx_hash)}</code>"
                f"</p>{details}<h2>{html.escape(tokens)}</h2>"
                f"<ul>{rows}</ul><nav>{''.join(nav)}</nav>"
            ),
        )

    async def token_page(self, request: web.Request) -> web.Response:
        text = request.match_info["token_id"]
        try:
            token_id = int(text, 16) if text.lower().startswith("0x") else int(text)
        except ValueError:
            raise web.HTTPNotFound(text=_("no such token")) from None
        item = await self.gallery.engagement.token(token_id) if 0 <= token_id < 2**256 else None
        contract = request.match_info["contract"].lower()
        if item is None or self.gallery.contract_of(item).lower() != contract:
            raise web.HTTPNotFound(text=_("no such token in this collection here"))
        return await self.gallery.token_page(request)

    async def address_page(self, request: web.Request) -> web.Response:
        """The tokens the bot sent to an address (minted there, or withdrawn there), oldest
        first, a page at a time."""
        address = parse_hex_address(request.match_info["address"])
        if address is None:
            raise web.HTTPNotFound(text=_("not an address"))
        number = page_number(request)
        async with self.sessions() as session:
            owned = await _a_page(
                session,
                select(MintRequest)
                # Addresses are stored checksummed; the lower-case form costs nothing to try.
                .where(
                    MintRequest.recipient.in_((address, address.lower())),
                    MintRequest.phase.in_(MINTED),
                )
                .order_by(MintRequest.id),
                number,
            )
        if number > 1 and not owned:
            raise web.HTTPNotFound(text=_("this address has fewer pages"))
        rows = "".join(f"<li>{self._token_link(r)}</li>" for r in owned[:LIST_PAGE_SIZE])
        nav = page_links(request.path, number, has_more=len(owned) > LIST_PAGE_SIZE)
        sent_here = _("Tokens the bot sent here (page {number})").format(number=number)
        return page(
            _("Address {address}").format(address=address),
            (
                f"<h1>{html.escape(_('Address'))}</h1><p><code>{html.escape(address)}</code></p>"
                f"<h2>{html.escape(sent_here)}</h2><ul>{rows}</ul>"
                f"<nav>{''.join(nav)}</nav>"
            ),
        )

    def _token_link(self, r: MintRequest) -> str:
        contract = html.escape(r.contract or self.gallery.collection_address)
        return f"<a href='/explorer/nft/{contract}/{r.token_id_int}'>{html.escape(r.name)}</a>"


async def _a_page(
    session: AsyncSession, query: Select[MintRequest], number: int
) -> list[MintRequest]:
    """Page `number` of the query's rows, and one more if there are more (to link onwards)."""
    return list(
        await session.scalars(query.offset((number - 1) * LIST_PAGE_SIZE).limit(LIST_PAGE_SIZE + 1))
    )
