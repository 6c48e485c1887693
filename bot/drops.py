"""Community drops: one artwork, stored once, claimed by members as numbered editions.

A claim is one database transaction: a conditional UPDATE takes the next edition number only
while the drop is open and not sold out, the claimer's earlier claims are counted under the
lock that UPDATE holds, and the claim row and its mint request are inserted. Supply and
per-user limits therefore hold however many claims race, on SQLite and on PostgreSQL alike.

Each claim is a mint request of its own, keyed ("drop", drop ID, "platform:user:n"), with its
own metadata (the edition and the claimer), hence its own token ID. The artwork is stored
when the drop is created; a claim stores only its small metadata document and is committed
ready to mint (phase queued), so the mint pipeline takes it from there.
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import json
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Table, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.content.images import check_image
from bot.content.metadata import NAME_MAX, build_metadata, clean_description, clean_name
from bot.content.store import ContentStore
from bot.errors import (
    DropClosed,
    DropLimitReached,
    DropNeedsWallet,
    DropNotFound,
    DropNotOpen,
    DropSoldOut,
    NotAllowed,
    RequestRejected,
)
from bot.minting.requests import MintResult
from bot.minting.service import MintService
from db.models import ChainTx, Drop, DropClaim, MintRequest, Phase, PlatformUser, aware_utc, utcnow

# The platform of every claim's mint request; its chat is the drop's ID.
DROP_PLATFORM = "drop"
# Room after the drop's name for " #12345 of 12345".
DROP_NAME_MAX = NAME_MAX - 20
CSV_COLUMNS = (
    "edition",
    "claimer_platform",
    "claimer_id",
    "claimer_name",
    "nth_claim",
    "claimed_at",
    "status",
    "recipient",
    "custodial",
    "token_id",
    "tx_hash",
)
_DROPS: Table = Drop.__table__  # type: ignore[assignment]
_MINTED = (Phase.CONFIRMED, Phase.REPLIED)

Notifier = Callable[[MintResult], Awaitable[None]]


@dataclass(frozen=True)
class DropInfo:
    """A drop as an admin or a claimer is shown it."""

    id: int
    platform: str
    community_id: str
    name: str
    description: str
    image_cid: str
    supply: int | None
    claimed: int
    per_user_limit: int
    starts_at: datetime
    ends_at: datetime | None
    gate_roles: tuple[str, ...]
    gate_chat_member: bool
    require_linked_address: bool
    closed_at: datetime | None

    @property
    def sold_out(self) -> bool:
        return self.supply is not None and self.claimed >= self.supply

    def status(self, now: datetime) -> str:
        """ "open", "not open yet", "sold out", "ended" or "closed"."""
        if self.closed_at is not None:
            return "closed"
        if self.sold_out:
            return "sold out"
        if now < self.starts_at:
            return "not open yet"
        if self.ends_at is not None and now >= self.ends_at:
            return "ended"
        return "open"


@dataclass(frozen=True)
class ClaimResult:
    """A claim that got an edition; the token is minted in the background."""

    drop_id: int
    edition: int
    supply: int | None
    n: int  # the claimer's own claim number, 1..per_user_limit
    request_id: int
    key: str  # the mint request's key, as MintService results carry it
    token_id: int
    recipient: str
    custodial: bool

    @property
    def edition_text(self) -> str:
        return edition_label(self.edition, self.supply)


def claim_key(platform: str, user_id: str, n: int) -> str:
    """The message part of a claim's mint request key: "platform:user:n", with an over-long
    user ID replaced by its digest so the key fits its 64-character column."""
    key = f"{platform}:{user_id}:{n}"
    if len(key) <= 64:
        return key
    return f"{platform}:{hashlib.sha256(user_id.encode()).hexdigest()[:32]}:{n}"


def edition_label(edition: int, supply: int | None) -> str:
    """ "#12 of 500", or "#12" for an open edition."""
    return f"#{edition} of {supply}" if supply is not None else f"#{edition}"


class Drops:
    """Creating, claiming, closing and exporting drops. Adapters pass what only the chat
    platform knows (the claimer's role IDs, whether they are a member of the chat); every
    decision is made here and by the database."""

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        content: ContentStore,
        service: MintService,
        max_image_bytes: int,
        max_image_pixels: int,
    ) -> None:
        self.sessions = sessions
        self.content = content
        self.service = service
        self.max_image_bytes = max_image_bytes
        self.max_image_pixels = max_image_pixels
        self._notifiers: dict[str, Notifier] = {}

    # ----- admins ------------------------------------------------------------------------

    async def create_drop(
        self,
        *,
        platform: str,
        community_id: str,
        created_by: str,
        name: str,
        image: bytes,
        description: str = "",
        supply: int | None = None,
        per_user_limit: int = 1,
        starts_at: datetime | None = None,
        ends_at: datetime | None = None,
        gate_roles: Iterable[str] = (),
        gate_chat_member: bool = False,
        require_linked_address: bool = False,
    ) -> DropInfo:
        """Check and store the artwork once, and record the drop. `supply` None is an open
        edition; `starts_at` None opens it now, `ends_at` None leaves it open until closed.
        Raises `RequestRejected` (or a subclass) saying what is wrong with the request."""
        name = clean_name(name, max_length=DROP_NAME_MAX)
        description = clean_description(description)
        if supply is not None and supply < 1:
            raise RequestRejected("The supply must be at least 1 (or none, for an open edition).")
        if per_user_limit < 1:
            raise RequestRejected("The per-member limit must be at least 1.")
        starts = aware_utc(starts_at) if starts_at is not None else utcnow()
        ends = aware_utc(ends_at) if ends_at is not None else None
        if ends is not None and ends <= starts:
            raise RequestRejected("The drop must end after it starts.")
        checked = await asyncio.to_thread(
            check_image, image, max_bytes=self.max_image_bytes, max_pixels=self.max_image_pixels
        )
        image_cid = await asyncio.to_thread(self.content.put_file, checked.data)
        drop = Drop(
            platform=platform,
            community_id=community_id,
            created_by=created_by,
            name=name,
            description=description,
            image_cid=image_cid,
            image_digest=hashlib.sha256(image).hexdigest(),
            image_mime=checked.mime,
            image_width=checked.width,
            image_height=checked.height,
            supply=supply,
            per_user_limit=per_user_limit,
            starts_at=starts,
            ends_at=ends,
            gate_roles=json.dumps(sorted(set(gate_roles))),
            gate_chat_member=gate_chat_member,
            require_linked_address=require_linked_address,
            claimed=0,
        )
        async with self.sessions.begin() as session:
            session.add(drop)
        return _info(drop)

    async def close(self, drop_id: int) -> DropInfo:
        """Close the drop early: claims committed before this are minted, later ones are
        refused. Closing a closed drop changes nothing."""
        async with self.sessions.begin() as session:
            await session.execute(
                update(Drop)
                .where(Drop.id == drop_id, Drop.closed_at.is_(None))
                .values(closed_at=utcnow())
            )
        return await self.info(drop_id)

    async def info(self, drop_id: int) -> DropInfo:
        """The drop with its current count of claimed editions. Raises `DropNotFound`."""
        async with self.sessions() as session:
            drop = await session.get(Drop, drop_id)
        if drop is None:
            raise DropNotFound(f"There is no drop #{drop_id}.")
        return _info(drop)

    async def list_drops(self, platform: str, community_id: str) -> list[DropInfo]:
        """The community's drops, newest first."""
        async with self.sessions() as session:
            drops = await session.scalars(
                select(Drop)
                .where(Drop.platform == platform, Drop.community_id == community_id)
                .order_by(Drop.id.desc())
            )
            return [_info(drop) for drop in drops]

    async def export_csv(self, drop_id: int) -> str:
        """Every claim of the drop as CSV, by edition: who claimed it, and its mint's state."""
        await self.info(drop_id)  # DropNotFound
        async with self.sessions() as session:
            rows = (
                await session.execute(
                    select(DropClaim, MintRequest, ChainTx)
                    .join(MintRequest, MintRequest.id == DropClaim.request_id)
                    .outerjoin(ChainTx, ChainTx.id == MintRequest.tx_id)
                    .where(DropClaim.drop_id == drop_id)
                    .order_by(DropClaim.edition)
                )
            ).all()
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
        writer.writeheader()
        for claim, request, tx in rows:
            writer.writerow(
                {
                    "edition": claim.edition,
                    "claimer_platform": claim.platform,
                    "claimer_id": _cell(claim.user_id),
                    "claimer_name": _cell(claim.user_name),
                    "nth_claim": claim.n,
                    "claimed_at": aware_utc(claim.created_at).isoformat(),
                    "status": "minted" if request.phase in _MINTED else request.phase,
                    "recipient": request.recipient or "",
                    "custodial": "yes" if request.custodial else "no",
                    "token_id": request.token_id_int if request.token_id else "",
                    "tx_hash": (tx.mined_hash or "") if tx is not None else "",
                }
            )
        return out.getvalue()

    # ----- claimers ----------------------------------------------------------------------

    async def claim(
        self,
        drop_id: int,
        platform: str,
        user_id: str,
        user_name: str,
        *,
        roles: Iterable[str] = (),
        is_member: bool = False,
        reply_to: dict[str, object] | None = None,
    ) -> ClaimResult:
        """Claim the next edition of a drop for a chat user and queue its mint.

        `roles` are the claimer's role IDs and `is_member` whether they belong to the drop's
        chat, as the adapter sees them; `reply_to` is the adapter's own data for answering when
        the token is minted. Raises `DropNotFound`, `NotAllowed` (a gate), `DropNeedsWallet`,
        `DropNotOpen`, `DropClosed`, `DropSoldOut` or `DropLimitReached`.
        """
        drop = await self._drop(drop_id)
        _check_gates(drop, platform, set(roles), is_member)
        now = utcnow()
        _check_open(drop, now)  # a clear answer without taking the write lock
        recipient, custodial = await self._recipient(drop, platform, user_id)
        async with self.sessions.begin() as session:
            # Takes the drop's row lock until commit: claims of one drop go one at a time.
            edition = await session.scalar(
                update(_DROPS)
                .where(
                    _DROPS.c.id == drop_id,
                    _DROPS.c.closed_at.is_(None),
                    _DROPS.c.starts_at <= now,
                    (_DROPS.c.ends_at.is_(None)) | (_DROPS.c.ends_at > now),
                    (_DROPS.c.supply.is_(None)) | (_DROPS.c.claimed < _DROPS.c.supply),
                )
                .values(claimed=_DROPS.c.claimed + 1)
                .returning(_DROPS.c.claimed)
            )
            if edition is None:
                # Why not: read in this transaction (SQLite has a single connection to give).
                current = await session.get(Drop, drop_id, populate_existing=True)
                assert current is not None
                _check_open(current, now)
                raise DropSoldOut(
                    f"Sold out: all {drop.supply} editions of {drop.name} are claimed."
                )
            earlier = int(
                await session.scalar(
                    select(func.count())
                    .select_from(DropClaim)
                    .where(
                        DropClaim.drop_id == drop_id,
                        DropClaim.platform == platform,
                        DropClaim.user_id == user_id,
                    )
                )
                or 0
            )
            if earlier >= drop.per_user_limit:
                raise DropLimitReached(
                    f"You have claimed {earlier} of {drop.name}; "
                    f"the limit is {drop.per_user_limit} per member."
                )
            n = earlier + 1
            key = claim_key(platform, user_id, n)
            block = self._metadata(drop, edition, key, platform, user_id, user_name)
            # Stored before the commit: a queued request's metadata is always there to serve.
            metadata_cid = await asyncio.to_thread(self.content.put_file, block)
            token_id = "0x" + hashlib.sha256(block).hexdigest()
            request = MintRequest(
                platform=DROP_PLATFORM,
                chat_id=str(drop_id),
                message_id=key,
                fingerprint=hashlib.sha256(block).hexdigest(),
                requester_id=user_id,
                requester_name=user_name[:256],
                community_id=drop.community_id,
                reply_to=json.dumps(reply_to) if reply_to else None,
                name=_token_name(drop, edition),
                description=drop.description,
                upload_digest=drop.image_digest,
                recipient=recipient,
                custodial=custodial,
                phase=Phase.QUEUED,
                image_cid=drop.image_cid,
                metadata_cid=metadata_cid,
                token_id=token_id,
            )
            session.add(request)
            await session.flush()
            session.add(
                DropClaim(
                    drop_id=drop_id,
                    platform=platform,
                    user_id=user_id,
                    user_name=user_name[:256],
                    n=n,
                    edition=edition,
                    request_id=request.id,
                )
            )
        self.service.queued_elsewhere()
        return ClaimResult(
            drop_id=drop_id,
            edition=edition,
            supply=drop.supply,
            n=n,
            request_id=request.id,
            key=request.key,
            token_id=int(token_id, 16),
            recipient=recipient,
            custodial=custodial,
        )

    def add_notifier(self, platform: str, notifier: Notifier) -> None:
        """Deliver the final results of claims made on `platform` through `notifier` (the mint
        service's contract: the claim counts as answered once it returns)."""
        self._notifiers[platform] = notifier
        self.service.add_notifier(DROP_PLATFORM, self._notify)

    async def _notify(self, result: MintResult) -> None:
        platform = result.message_id.split(":", 1)[0]
        notifier = self._notifiers.get(platform)
        if notifier is None:
            raise LookupError(f"no notifier for drop claims made on {platform!r}")
        await notifier(result)

    # ----- inside ------------------------------------------------------------------------

    async def _drop(self, drop_id: int) -> Drop:
        async with self.sessions() as session:
            drop = await session.get(Drop, drop_id)
        if drop is None:
            raise DropNotFound(f"There is no drop #{drop_id}.")
        return drop

    async def _recipient(self, drop: Drop, platform: str, user_id: str) -> tuple[str, bool]:
        """The claimer's linked address, else custody unless the drop refuses that."""
        async with self.sessions() as session:
            user = await session.get(PlatformUser, (platform, user_id))
        if user is not None and user.address:
            return user.address, False
        if drop.require_linked_address:
            raise DropNeedsWallet(
                f"{drop.name} is minted only to members' own wallets: link yours first, "
                "then claim again."
            )
        return self.service.chain.custody_address, True

    def _metadata(
        self, drop: Drop, edition: int, key: str, platform: str, user_id: str, user_name: str
    ) -> bytes:
        """This edition's metadata: the drop's artwork and text, the edition, the claimer.
        The source (the claim's key) makes each block, hence each token ID, unique."""
        attributes: list[dict[str, str | int]] = [
            {"trait_type": "Drop", "value": drop.name},
            {"trait_type": "Edition", "value": edition},
        ]
        if drop.supply is not None:
            attributes.append({"trait_type": "Supply", "value": drop.supply})
        attributes.append({"trait_type": "Claimer", "value": user_name or user_id})
        return build_metadata(
            name=_token_name(drop, edition),
            description=drop.description,
            image_cid=drop.image_cid,
            creator={"platform": drop.platform, "user_id": drop.created_by},
            source={"platform": DROP_PLATFORM, "chat_id": str(drop.id), "message_id": key},
            attributes=attributes,
            mime=drop.image_mime,
            width=drop.image_width,
            height=drop.image_height,
            extra_properties={
                "drop": {"id": drop.id, "edition": edition, "supply": drop.supply},
                "claimer": {"platform": platform, "user_id": user_id, "name": user_name},
            },
        )


def _token_name(drop: Drop, edition: int) -> str:
    return f"{drop.name} {edition_label(edition, drop.supply)}"


def _check_gates(drop: Drop, platform: str, roles: set[str], is_member: bool) -> None:
    gate_roles = set(json.loads(drop.gate_roles))
    if (gate_roles or drop.gate_chat_member) and platform != drop.platform:
        raise NotAllowed(f"{drop.name} can be claimed only from its own {drop.platform} community.")
    if gate_roles and not gate_roles & roles:
        raise NotAllowed(f"{drop.name} is for members with a role it names; you have none of them.")
    if drop.gate_chat_member and not is_member:
        raise NotAllowed(f"{drop.name} is for members of the chat it was made in.")


def _check_open(drop: Drop, now: datetime) -> None:
    """Raise the reason a claim cannot get an edition now, if any."""
    if drop.closed_at is not None:
        raise DropClosed(f"{drop.name} was closed by an admin; no more editions can be claimed.")
    if now < aware_utc(drop.starts_at):
        raise DropNotOpen(f"{drop.name} opens at {_when(drop.starts_at)}; claim it then.")
    if drop.ends_at is not None and now >= aware_utc(drop.ends_at):
        raise DropClosed(f"{drop.name} ended at {_when(drop.ends_at)}.")
    if drop.supply is not None and drop.claimed >= drop.supply:
        raise DropSoldOut(f"Sold out: all {drop.supply} editions of {drop.name} are claimed.")


def _when(moment: datetime) -> str:
    return aware_utc(moment).strftime("%Y-%m-%d %H:%M UTC")


def _cell(text: str) -> str:
    """A CSV cell a spreadsheet will not run as a formula."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _info(drop: Drop) -> DropInfo:
    return DropInfo(
        id=drop.id,
        platform=drop.platform,
        community_id=drop.community_id,
        name=drop.name,
        description=drop.description,
        image_cid=drop.image_cid,
        supply=drop.supply,
        claimed=drop.claimed,
        per_user_limit=drop.per_user_limit,
        starts_at=aware_utc(drop.starts_at),
        ends_at=aware_utc(drop.ends_at) if drop.ends_at is not None else None,
        gate_roles=tuple(json.loads(drop.gate_roles)),
        gate_chat_member=drop.gate_chat_member,
        require_linked_address=drop.require_linked_address,
        closed_at=aware_utc(drop.closed_at) if drop.closed_at is not None else None,
    )
