"""The web gallery: a community's tokens a page at a time (`/c/<platform>/<community>`), and
one token's page (`/token/<id>`), each with the tags its link unfurls into. Owners come from
the database (`bot/owners.py`), never from a chain call made while a page waits.

An edition drop's artwork (ERC-1155: one token ID that all its editions share) has one card and
one page, which shows how many editions are minted and who holds them, as recorded.

Pages are written in the current locale (the reader's, `bot/web/languages.py`); names, addresses
and IDs are shown as they are.
"""

from __future__ import annotations

import html
import math
from urllib.parse import urlencode

from aiohttp import web

import bot.registry  # noqa: F401  (fills PLATFORMS)
from bot.chain.explorer import Explorer
from bot.i18n import N_, _, ngettext
from bot.leaderboard_gallery import (
    GALLERY_PAGE_SIZE,
    EditionHolder,
    Engagement,
    GalleryItem,
    GalleryPage,
    community_path,
    token_path,
)
from bot.owners import TokenOwners
from bot.ports import PLATFORMS
from bot.web.pages import definitions, page, page_links, page_number, short
from bot.web.previews import LinkPreview

# The platforms' community labels (`PlatformKind.community_label`), marked for the catalogue
# here, where they are translated.
_COMMUNITY_LABELS = (N_("Discord server"), N_("Telegram group"), N_("local console"))


def community_label(platform: str) -> str:
    """What a community of `platform` is called ("Discord server"), as its kind says."""
    if platform in PLATFORMS:
        return _(PLATFORMS.get(platform).community_label)
    return _("{platform} community").format(platform=platform)


def token_count(count: int) -> str:
    return ngettext("{count} token", "{count} tokens", count).format(count=count)


class GalleryPages:
    def __init__(
        self,
        *,
        engagement: Engagement,
        owners: TokenOwners,
        collection_address: str,
        explorer: Explorer | None,
        site_name: str,
    ) -> None:
        self.engagement = engagement
        self.owners = owners
        self.collection_address = collection_address
        self.explorer = explorer
        self.site_name = site_name

    async def community_page(self, request: web.Request) -> web.Response:
        """A community's minted tokens, newest first, a page at a time (`?page=N`), or one
        member's (`?member=ID`)."""
        platform = request.match_info["platform"]
        community = request.match_info["community"]
        member = request.query.get("member") or None
        number = page_number(request)
        gallery = await self.engagement.gallery(
            platform,
            community,
            member,
            offset=(number - 1) * GALLERY_PAGE_SIZE,
            limit=GALLERY_PAGE_SIZE,
        )
        pages = max(1, math.ceil(gallery.total / GALLERY_PAGE_SIZE))
        if number > pages:
            raise web.HTTPNotFound(
                text=ngettext(
                    "this gallery has {pages} page", "this gallery has {pages} pages", pages
                ).format(pages=pages)
            )
        owners = await self.owners.last_known(
            {item.token_id: item.owner for item in gallery.items if item.owner}
        )
        kind = community_label(platform)
        where = f"{kind} {community}"
        if member is not None:
            creator = gallery.items[0].creator_name if gallery.items else member
            heading = _("NFTs by {creator} in this {kind}").format(creator=creator, kind=kind)
        else:
            heading = _("NFTs minted in this {kind}").format(kind=kind)
        path = community_path(platform, community)
        nav = page_links(
            path, number, has_more=gallery.has_more, query={"member": member} if member else None
        )
        if member is not None:
            whole = html.escape(_("the whole {kind}").format(kind=kind))
            nav.append(f"<a href='{html.escape(path)}'>{whole}</a>")
        cards = "".join(self._card(item, owners.get(item.token_id)) for item in gallery.items)
        page_of = _("page {number} of {pages}").format(number=number, pages=pages)
        body = (
            f"<h1>{html.escape(heading)}</h1>"
            f"<p class=summary>{html.escape(token_count(gallery.total))}"
            f" · {html.escape(page_of)} · <code>{html.escape(where)}</code></p>"
            + (
                f"<ul class=grid>{cards}</ul>"
                if cards
                else f"<p>{html.escape(_('Nothing minted here yet.'))}</p>"
            )
            + f"<nav>{''.join(nav)}</nav>"
        )
        query = {"member": member} if member is not None else {}
        if number > 1:
            query["page"] = str(number)
        url = self.engagement.gallery_url(platform, community)
        return page(heading, body, preview=self._gallery_preview(gallery, heading, url, query))

    def _gallery_preview(
        self, gallery: GalleryPage, heading: str, url: str, query: dict[str, str]
    ) -> LinkPreview:
        """A gallery unfurls into its heading, how many tokens it holds and the newest names
        on the page, with the newest token's picture."""
        names = ", ".join(item.name for item in gallery.items[:5])
        newest = next((item for item in gallery.items if item.image_cid), None)
        return LinkPreview(
            title=heading,
            description=_("{count}, newest first: {names}").format(
                count=token_count(gallery.total), names=names
            )
            if names
            else _("Nothing minted here yet."),
            url=url + (f"?{urlencode(query)}" if query else ""),
            site_name=self.site_name,
            image_url=self.engagement.content_url(newest.image_cid)
            if newest is not None and newest.image_cid
            else None,
            image_alt=_("{name}, by {creator}").format(
                name=newest.name, creator=newest.creator_name
            )
            if newest is not None
            else "",
        )

    def _card(self, item: GalleryItem, owner: str | None) -> str:
        link = html.escape(token_path(item.token_id))
        name = html.escape(item.name)
        image = (
            f"<a href='{link}'><img src='/ipfs/{html.escape(item.image_cid)}' alt='{name}'></a>"
            if item.image_cid
            else ""
        )
        tx = (
            f"<p><a class=tx href='{html.escape(item.tx_url)}'>"
            + html.escape(_("transaction {hash}").format(hash=short(item.tx_hash or "")))
            + "</a></p>"
            if item.tx_url
            else ""
        )
        by = _("by {creator}").format(creator=item.creator_name)
        return (
            f"<li class=card data-token-id='{item.token_id}'>{image}"
            f"<h2 class=name><a href='{link}'>{name}</a></h2>"
            f"<p class=creator>{html.escape(by)}</p>"
            + (
                f"<p class=editions>{_minted(item.editions)}</p>"
                if item.editions
                else "<p class=owner>"
                + _("owner {owner}").format(owner=self._owner(item, owner, shortened=True))
                + "</p>"
            )
            + f"{tx}</li>"
        )

    def _owner(self, item: GalleryItem, owner: str | None, *, shortened: bool = False) -> str:
        """Who holds the token, as HTML: its address (linked to the explorer), and for a token
        still in custody, for whom the bot holds it."""
        if owner is None:
            return html.escape(_("unknown"))
        text = html.escape(short(owner) if shortened else owner)
        shown = f"<code title='{html.escape(owner)}'>{text}</code>"
        if self.explorer is not None:
            shown = f"<a href='{html.escape(self.explorer.address_url(owner))}'>{shown}</a>"
        # A custodial token's recipient is the custody address: still there, still held.
        if item.custodial and item.owner is not None and owner.lower() == item.owner.lower():
            shown += " (" + _held_for(item.creator_name) + ")"
        return shown

    async def token_page(self, request: web.Request) -> web.Response:
        """One token: its image, name, description, creator, owner (as last known: see
        `TokenOwners`), and links to its transaction and metadata."""
        text = request.match_info["token_id"]
        try:
            token_id = int(text, 16) if text.lower().startswith("0x") else int(text)
        except ValueError:
            raise web.HTTPNotFound(text=_("no such token")) from None
        item = await self.engagement.token(token_id) if 0 <= token_id < 2**256 else None
        if item is None:
            raise web.HTTPNotFound(text=_("no such token here"))
        rows = [(_("Creator"), f"<span class=creator>{html.escape(item.creator_name)}</span>")]
        if item.editions:
            holders = await self.engagement.edition_holders(token_id, item.contract)
            rows += [
                (_("Editions"), f"<span class=editions>{_minted(item.editions)}</span>"),
                (_("Holders"), f"<ul class=holders>{self._holders(holders)}</ul>"),
            ]
        else:
            owner = (
                await self.owners.owner(token_id, item.owner, item.contract) if item.owner else None
            )
            rows.append((_("Owner"), f"<span class=owner>{self._owner(item, owner)}</span>"))
        rows += [
            (_("Token ID"), f"<code>{token_id}</code>"),
            (
                _("Editions contract (ERC-1155)") if item.editions else _("Collection"),
                f"<code class=contract>{html.escape(self.contract_of(item))}</code>",
            ),
        ]
        if item.metadata_cid:
            cid = html.escape(item.metadata_cid)
            rows.append((_("Metadata"), f"<a href='/ipfs/{cid}'>ipfs://{cid}</a>"))
        if item.tx_hash:
            tx_hash = html.escape(item.tx_hash)
            shown = f"<code>{tx_hash}</code>"
            rows.append(
                (
                    _("Transaction"),
                    f"<a class=tx href='{html.escape(item.tx_url)}'>{shown}</a>"
                    if item.tx_url
                    else shown,
                )
            )
        details = definitions(rows)
        image = (
            f"<img src='/ipfs/{html.escape(item.image_cid)}' alt='{html.escape(item.name)}'>"
            if item.image_cid
            else ""
        )
        back = (
            f"<nav><a href='{html.escape(community_path(item.platform, item.community_id))}'>"
            f"{html.escape(_('more from this community'))}</a></nav>"
            if item.community_id
            else ""
        )
        return page(
            item.name,
            (
                f"<article class=token><h1 class=name>{html.escape(item.name)}</h1>{image}"
                f"<p class=description>{html.escape(item.description)}</p>"
                f"{details}</article>{back}"
            ),
            preview=self._token_preview(item),
        )

    def contract_of(self, item: GalleryItem) -> str:
        """The contract the token is in: a community's own, or the shared collection."""
        return item.contract or self.collection_address

    def _holders(self, holders: list[EditionHolder]) -> str:
        """An artwork's holders as HTML list items: each address (linked to the explorer) or
        the member the bot holds editions for, and how many editions."""
        items = []
        for holder in holders:
            if holder.address is None:
                who = _held_for(holder.member_name)
            else:
                who = f"<code>{html.escape(holder.address)}</code>"
                if self.explorer is not None:
                    url = html.escape(self.explorer.address_url(holder.address))
                    who = f"<a href='{url}'>{who}</a>"
            items.append(f"<li class=holder>{who}: {html.escape(_editions(holder.count))}</li>")
        return "".join(items)

    def _token_preview(self, item: GalleryItem) -> LinkPreview:
        """A token unfurls into its name, description (or who made it) and picture. Its Open
        Graph type is `article`: one work, by one author, published when it was minted."""
        made = (
            _("{editions} minted, by {creator}").format(
                editions=_editions(item.editions), creator=item.creator_name
            )
            if item.editions
            else _("An NFT by {creator}").format(creator=item.creator_name)
        )
        return LinkPreview(
            title=item.name,
            description=item.description or made,
            # Canonical: the decimal ID, however the page was asked for (0x…, the explorer's).
            url=self.engagement.token_url(item.token_id),
            site_name=self.site_name,
            kind="article",
            image_url=self.engagement.content_url(item.image_cid) if item.image_cid else None,
            image_alt=item.name,
            published=item.minted_at.isoformat(),
        )


def _editions(count: int) -> str:
    return ngettext("{count} edition", "{count} editions", count).format(count=count)


def _minted(count: int) -> str:
    """ "3 editions minted", as HTML."""
    return html.escape(_("{editions} minted").format(editions=_editions(count)))


def _held_for(member: str) -> str:
    """Who a token in custody is held for, as HTML."""
    return html.escape(_("held by the bot for {member}").format(member=member))
