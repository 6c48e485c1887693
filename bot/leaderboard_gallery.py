"""Fan engagement: a community's leaderboard and its gallery of minted tokens, and the web
addresses of the gallery pages.

Only minted requests count (confirmed, or confirmed and answered). The queries are plain
SQLAlchemy that runs the same on SQLite and PostgreSQL. A token's holder is the one the bot
minted it to: a member's linked (or chosen) address, or the bot's custody for that member,
then the address of a withdrawal the bot confirmed; transfers the bot did not make are not
followed here (the web pages learn them from the chain: bot/owners.py).

Tokens are counted wherever they were minted: the shared collection or a community's own.
A drop's claim (a numbered token, or an ERC-1155 edition: a balance of 1 of the artwork's
token) counts as one token collected by the member who holds it, like any token; it counts
for no creator, since the claimer did not make it (and an admin's drop of 500 would bury
every member's own work). The gallery shows what members minted and, once each, the artwork
of each edition drop with how many editions are minted (an edition drop's claims share one
token ID, so it has one page); numbered drops' claims are separate tokens and are left out
of it, as before.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote

from sqlalchemy import ColumnElement, and_, case, func, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.chain.explorer import Explorer
from bot.community_tokens import (
    claimed_in,
    drop_of_claim,
    editions_minted,
    member_names,
    minted_in,
)
from db.models import MINTED, ChainTx, Drop, MintRequest, PlatformUser, aware_utc

GALLERY_PAGE_SIZE = 12
_MEMBER = "member:"
_ADDRESS = "address:"


def community_path(platform: str, community_id: str) -> str:
    """The gallery page's path: `/c/<platform>/<community id>`, e.g. `/c/discord/1234` or
    `/c/telegram/-100123` (platform first, so the same ID on two platforms never collides)."""
    return f"/c/{quote(platform, safe='')}/{quote(community_id, safe='')}"


def token_path(token_id: int) -> str:
    """The token page's path: `/token/<decimal token ID>`."""
    return f"/token/{token_id}"


@dataclass(frozen=True)
class Ranked:
    """One place on a leaderboard: a member (`member_id`) or, for tokens sent to an address
    nobody here linked, that address (`address`)."""

    name: str
    count: int
    member_id: str | None = None
    address: str | None = None


@dataclass(frozen=True)
class Leaderboard:
    creators: list[Ranked]
    collectors: list[Ranked]


@dataclass(frozen=True)
class GalleryItem:
    token_id: int
    name: str
    description: str
    image_cid: str | None
    metadata_cid: str | None
    creator_id: str
    creator_name: str
    # Where it was minted to; `custodial` means the bot holds it for its creator.
    owner: str | None
    custodial: bool
    tx_hash: str | None
    tx_url: str | None
    community_id: str | None
    platform: str
    minted_at: datetime
    # The contract it is minted in; None: the shared collection.
    contract: str | None = None
    # For an edition drop's artwork (ERC-1155): how many editions are minted; 0 for a token
    # of its own (ERC-721). An artwork's `owner` is None: it has holders (`edition_holders`).
    editions: int = 0


@dataclass(frozen=True)
class EditionHolder:
    """Who holds editions of an artwork, as the records say: an address, or the bot's custody
    for a member (`member_name`), and how many."""

    address: str | None
    custodial: bool
    member_name: str
    count: int


@dataclass(frozen=True)
class GalleryPage:
    items: list[GalleryItem]
    total: int
    offset: int
    limit: int

    @property
    def has_more(self) -> bool:
        return self.offset + len(self.items) < self.total


class Engagement:
    """Leaderboards and galleries of one bot's communities."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        explorer: Explorer | None,
        public_base_url: str,
    ) -> None:
        self.sessions = sessions
        self.explorer = explorer
        self.public_base_url = public_base_url.rstrip("/")

    def gallery_url(self, platform: str, community_id: str) -> str:
        """The community's web gallery, as members reach it (PUBLIC_BASE_URL)."""
        return self.public_base_url + community_path(platform, community_id)

    def token_url(self, token_id: int) -> str:
        """The token's page in the web gallery."""
        return self.public_base_url + token_path(token_id)

    def content_url(self, cid: str) -> str:
        """Stored content (an image, a metadata document) on the bot's own IPFS gateway."""
        return f"{self.public_base_url}/ipfs/{quote(cid, safe='')}"

    async def leaderboard(self, platform: str, community_id: str, limit: int = 10) -> Leaderboard:
        """The community's top creators (tokens minted from their requests) and top collectors
        (tokens they hold: in the bot's custody for them, or at the address they linked, drop
        claims and editions included, one each), most first; ties go to whoever got there
        first."""
        where = minted_in(platform, community_id)
        held = or_(and_(*where), claimed_in(platform, community_id))
        async with self.sessions() as session:
            created = (
                await session.execute(
                    select(MintRequest.requester_id, func.count())
                    .where(*where)
                    .group_by(MintRequest.requester_id)
                    .order_by(func.count().desc(), func.min(MintRequest.id))
                    .limit(limit)
                )
            ).all()
            # A token minted to an address some member of this platform linked is theirs;
            # min() picks one if several linked the same address.
            linked = (
                select(func.min(PlatformUser.user_id))
                .where(
                    PlatformUser.platform == platform,
                    func.lower(PlatformUser.address) == func.lower(MintRequest.recipient),
                )
                .scalar_subquery()
            )
            holders = (
                select(
                    MintRequest.id.label("request_id"),
                    case(
                        (MintRequest.custodial.is_(True), _MEMBER + MintRequest.requester_id),
                        else_=func.coalesce(
                            literal(_MEMBER) + linked,
                            _ADDRESS + func.lower(MintRequest.recipient),
                        ),
                    ).label("holder"),
                )
                .where(held)
                .subquery()
            )
            collected = (
                await session.execute(
                    select(holders.c.holder, func.count())
                    .group_by(holders.c.holder)
                    .order_by(func.count().desc(), func.min(holders.c.request_id))
                    .limit(limit)
                )
            ).all()
            member_ids = {str(m) for m, _ in created} | {
                str(h).removeprefix(_MEMBER) for h, _ in collected if str(h).startswith(_MEMBER)
            }
            names = await member_names(session, platform, member_ids)
        creators = [Ranked(names.get(str(m), str(m)), int(n), member_id=str(m)) for m, n in created]
        collectors = []
        for holder, n in collected:
            key = str(holder)
            if key.startswith(_MEMBER):
                member = key.removeprefix(_MEMBER)
                collectors.append(Ranked(names.get(member, member), int(n), member_id=member))
            else:
                address = key.removeprefix(_ADDRESS)
                collectors.append(Ranked(address, int(n), address=address))
        return Leaderboard(creators, collectors)

    async def gallery(
        self,
        platform: str,
        community_id: str,
        member_id: str | None = None,
        *,
        offset: int = 0,
        limit: int = GALLERY_PAGE_SIZE,
    ) -> GalleryPage:
        """A page of the community's minted tokens and edition artworks (or only the tokens
        `member_id` created), newest first, and how many there are in all."""
        where = minted_in(platform, community_id)
        if member_id is not None:
            where.append(MintRequest.requester_id == member_id)
            shown: ColumnElement[bool] = and_(*where)
        else:
            # Each edition drop's artwork once: its first minted edition stands for it.
            firsts = (
                select(func.min(MintRequest.id))
                .where(claimed_in(platform, community_id), MintRequest.edition.is_not(None))
                .group_by(MintRequest.contract, MintRequest.token_id)
            )
            shown = or_(and_(*where), MintRequest.id.in_(firsts))
        offset, limit = max(0, offset), max(1, limit)
        async with self.sessions() as session:
            total = int(
                await session.scalar(select(func.count()).select_from(MintRequest).where(shown))
                or 0
            )
            rows = (
                await session.execute(
                    select(MintRequest, ChainTx.mined_hash, Drop)
                    .outerjoin(ChainTx, ChainTx.id == MintRequest.tx_id)
                    .outerjoin(Drop, drop_of_claim())
                    .where(shown)
                    .order_by(MintRequest.id.desc())
                    .offset(offset)
                    .limit(limit)
                )
            ).all()
            counts = await editions_minted(session, [r for r, _, _ in rows])
            creators = await member_names(
                session, platform, {d.created_by for _, _, d in rows if d is not None}
            )
        items = [self._item(r, h, d, counts, creators) for r, h, d in rows]
        return GalleryPage(items, total, offset, limit)

    async def token(self, token_id: int) -> GalleryItem | None:
        """A minted token by its ID (an edition drop's artwork, for an ID its editions share),
        or None if this bot minted no such token."""
        key = f"0x{token_id:064x}"
        async with self.sessions() as session:
            row = (
                await session.execute(
                    select(MintRequest, ChainTx.mined_hash, Drop)
                    .outerjoin(ChainTx, ChainTx.id == MintRequest.tx_id)
                    .outerjoin(Drop, drop_of_claim())
                    .where(MintRequest.token_id == key, MintRequest.phase.in_(MINTED))
                    # A token of its own first; else the artwork's first edition.
                    .order_by(MintRequest.edition.is_not(None), MintRequest.id)
                    .limit(1)
                )
            ).first()
            if row is None:
                return None
            counts = await editions_minted(session, [row[0]])
            drop = row[2]
            creators = (
                await member_names(session, drop.platform, {drop.created_by})
                if drop is not None
                else {}
            )
        return self._item(row[0], row[1], drop, counts, creators)

    async def edition_holders(
        self, token_id: int, contract: str | None, limit: int = 50
    ) -> list[EditionHolder]:
        """Who holds editions of an artwork as the records say (each edition's recipient, or
        the address a withdrawal sent it to), most editions first."""
        async with self.sessions() as session:
            rows = (
                await session.execute(
                    select(
                        MintRequest.recipient,
                        MintRequest.custodial,
                        MintRequest.requester_id,
                        func.max(MintRequest.requester_name),
                        func.count(),
                    )
                    .where(
                        MintRequest.token_id == f"0x{token_id:064x}",
                        MintRequest.contract.is_(None)
                        if contract is None
                        else MintRequest.contract == contract,
                        MintRequest.edition.is_not(None),
                        MintRequest.phase.in_(MINTED),
                    )
                    .group_by(
                        MintRequest.recipient, MintRequest.custodial, MintRequest.requester_id
                    )
                    .order_by(func.count().desc(), func.min(MintRequest.id))
                    .limit(limit)
                )
            ).all()
        return [
            EditionHolder(
                None if custodial else address,
                bool(custodial),
                str(name or member) if custodial else "",
                int(n),
            )
            for address, custodial, member, name, n in rows
        ]

    def _item(
        self,
        request: MintRequest,
        tx_hash: str | None,
        drop: Drop | None,
        editions: dict[tuple[str | None, str | None], int],
        creators: dict[str, str],
    ) -> GalleryItem:
        token_id = request.token_id_int
        assert token_id is not None  # every minted request has its token ID
        tx_url = self.explorer.tx_url(tx_hash) if self.explorer and tx_hash else None
        if request.edition is not None and drop is not None:
            # An edition stands for its artwork: the drop's name, text and creator.
            return GalleryItem(
                token_id=token_id,
                name=drop.name,
                description=drop.description,
                image_cid=request.image_cid,
                metadata_cid=drop.metadata_cid or request.metadata_cid,
                creator_id=drop.created_by,
                creator_name=creators.get(drop.created_by, drop.created_by),
                owner=None,
                custodial=False,
                tx_hash=tx_hash,
                tx_url=tx_url,
                community_id=drop.community_id,
                platform=drop.platform,
                minted_at=aware_utc(request.created_at),
                contract=request.contract,
                editions=editions.get((request.contract, request.token_id), 1),
            )
        return GalleryItem(
            token_id=token_id,
            name=request.name,
            description=request.description,
            image_cid=request.image_cid,
            metadata_cid=request.metadata_cid,
            creator_id=request.requester_id,
            creator_name=request.requester_name or request.requester_id,
            owner=request.recipient,
            custodial=request.custodial,
            tx_hash=tx_hash,
            tx_url=tx_url,
            community_id=request.community_id,
            platform=request.platform,
            minted_at=aware_utc(request.created_at),
            contract=request.contract,
        )
