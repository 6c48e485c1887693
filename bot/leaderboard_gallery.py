"""Fan engagement: a community's leaderboard and its gallery of minted tokens, and the web
addresses of the gallery pages.

Only minted requests count (confirmed, or confirmed and answered). The queries are plain
SQLAlchemy that runs the same on SQLite and PostgreSQL. A token's holder is the one the bot
minted it to: a member's linked (or chosen) address, or the bot's custody for that member,
then the address of a withdrawal the bot confirmed; transfers the bot did not make are not
followed here (the web pages learn them from the chain: bot/owners.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote

from sqlalchemy import ColumnElement, and_, case, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.chain.explorer import Explorer
from db.models import MINTED, ChainTx, MintRequest, PlatformUser, aware_utc

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
        (tokens they hold: in the bot's custody for them, or at the address they linked), most
        first; ties go to whoever got there first."""
        where = _minted_in(platform, community_id)
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
                    PlatformUser.platform == MintRequest.platform,
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
                .where(*where)
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
            names = await _member_names(session, platform, member_ids)
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
        """A page of the community's minted tokens (or only those `member_id` created), newest
        first, and how many there are in all."""
        where = _minted_in(platform, community_id)
        if member_id is not None:
            where.append(MintRequest.requester_id == member_id)
        offset, limit = max(0, offset), max(1, limit)
        async with self.sessions() as session:
            total = int(
                await session.scalar(select(func.count()).select_from(MintRequest).where(*where))
                or 0
            )
            rows = (
                await session.execute(
                    select(MintRequest, ChainTx.mined_hash)
                    .outerjoin(ChainTx, ChainTx.id == MintRequest.tx_id)
                    .where(*where)
                    .order_by(MintRequest.id.desc())
                    .offset(offset)
                    .limit(limit)
                )
            ).all()
        return GalleryPage([self._item(r, h) for r, h in rows], total, offset, limit)

    async def token(self, token_id: int) -> GalleryItem | None:
        """A minted token by its ID, or None if this bot minted no such token."""
        async with self.sessions() as session:
            row = (
                await session.execute(
                    select(MintRequest, ChainTx.mined_hash)
                    .outerjoin(ChainTx, ChainTx.id == MintRequest.tx_id)
                    .where(
                        MintRequest.token_id == f"0x{token_id:064x}",
                        MintRequest.phase.in_(MINTED),
                    )
                )
            ).first()
        return None if row is None else self._item(row[0], row[1])

    def _item(self, request: MintRequest, tx_hash: str | None) -> GalleryItem:
        token_id = request.token_id_int
        assert token_id is not None  # every minted request has its token ID
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
            tx_url=self.explorer.tx_url(tx_hash) if self.explorer and tx_hash else None,
            community_id=request.community_id,
            platform=request.platform,
            minted_at=aware_utc(request.created_at),
        )


def _minted_in(platform: str, community_id: str) -> list[ColumnElement[bool]]:
    return [
        MintRequest.platform == platform,
        MintRequest.community_id == community_id,
        MintRequest.phase.in_(MINTED),
    ]


async def _member_names(
    session: AsyncSession, platform: str, member_ids: set[str]
) -> dict[str, str]:
    """Each member's name as last seen: the newest request's, else their linked account's."""
    if not member_ids:
        return {}
    names = {
        str(u.user_id): str(u.display_name)
        for u in await session.scalars(
            select(PlatformUser).where(
                PlatformUser.platform == platform, PlatformUser.user_id.in_(member_ids)
            )
        )
        if u.display_name
    }
    newest = (
        select(func.max(MintRequest.id))
        .where(MintRequest.platform == platform, MintRequest.requester_id.in_(member_ids))
        .group_by(MintRequest.requester_id)
    )
    for member, name in await session.execute(
        select(MintRequest.requester_id, MintRequest.requester_name).where(
            and_(MintRequest.id.in_(newest), MintRequest.requester_name != "")
        )
    ):
        names[str(member)] = str(name)
    return names
