"""The drops service (`Runtime.drops`): what admins and claimers ask of drops, and the answerer
that tells each claimer, on their own platform, how their edition's mint ended."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
from collections.abc import Callable, Sequence
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.community_collections.service import CommunityCollections
from bot.content.images import check_image
from bot.content.metadata import clean_description, clean_name
from bot.content.store import ContentStore
from bot.drops.claims import ClaimWriter
from bot.drops.editions import PendingClaim, artwork_metadata
from bot.drops.export import claims_csv
from bot.drops.gates import LookUpFirst, load_gates, look_up, store_gates
from bot.drops.types import (
    DROP_NAME_MAX,
    DROP_ORIGIN,
    MAX_SUPPLY,
    NOBODY_TO_TELL,
    ClaimResult,
    DropInfo,
    DropKind,
    known_id,
)
from bot.errors import DropNotFound, NotAllowed, RequestRejected
from bot.i18n import N_
from bot.minting.service import MintService
from bot.minting.types import MintResult
from bot.ports import Claimant, DropGate, GateLookups, NotReachableHere, RunningPlatforms
from bot.webhooks.drop_ends import CLOSED, report_end
from db.models import Drop, DropAnnouncement, DropClaim, aware_utc, storable, utcnow

# Lookups per claim: a gate changed between a lookup and its claim's decision (a list
# replaced) is looked up again, this many times at most.
LOOK_UP_ROUNDS = 3


class Drops:
    """Creating, claiming, closing and exporting drops. Adapters pass what only the chat
    platform knows (the claimant's roles, whether they are a member of the chat); every
    decision is made here and by the database."""

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        content: ContentStore,
        service: MintService,
        platforms: RunningPlatforms,
        max_image_bytes: int,
        max_image_pixels: int,
        max_image_frames: int,
        collections: CommunityCollections | None = None,
        lookups: GateLookups | None = None,
    ) -> None:
        self.sessions = sessions
        self.content = content
        self.service = service
        self.platforms = platforms
        self.max_image_bytes = max_image_bytes
        self.max_image_pixels = max_image_pixels
        self.max_image_frames = max_image_frames
        self.collections = collections
        self.lookups = lookups or GateLookups(sessions)
        self._writer = ClaimWriter(sessions, content, service)
        self._on_close: list[Callable[[int], None]] = []
        service.answer_through(DROP_ORIGIN, self)

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
        gates: Sequence[DropGate] = (),
        kind: DropKind | None = None,
    ) -> DropInfo:
        """Check and store the artwork once, and record the drop. `supply` None is an open
        edition; `starts_at` None opens it now, `ends_at` None leaves it open until closed;
        a claimant must pass every one of `gates`. `kind` None is `DropKind.default` where
        editions can be minted (a factory is set up), else numbered. An edition drop mints
        in the community's editions contract (or the shared one), under one token ID whose
        metadata is stored now. Raises `RequestRejected` (or a subclass) saying what is
        wrong with the request."""
        editions_here = self.collections is not None and self.collections.ready
        kind = kind or (DropKind.default(supply) if editions_here else DropKind.NUMBERED)
        name = clean_name(name, max_length=DROP_NAME_MAX)
        description = clean_description(description)
        if supply is not None and not 1 <= supply <= MAX_SUPPLY:
            raise RequestRejected(
                N_(
                    "The supply must be at least 1 and at most {most} "
                    "(or none, for an open edition)."
                ),
                most=f"{MAX_SUPPLY:,}",
            )
        if not 1 <= per_user_limit <= MAX_SUPPLY:
            raise RequestRejected(
                N_("The per-member limit must be at least 1 and at most {most}."),
                most=f"{MAX_SUPPLY:,}",
            )
        starts = aware_utc(starts_at) if starts_at is not None else utcnow()
        ends = aware_utc(ends_at) if ends_at is not None else None
        if ends is not None and ends <= starts:
            raise RequestRejected(N_("The drop must end after it starts."))
        stored_gates = store_gates(gates)
        checked = await asyncio.to_thread(
            check_image,
            image,
            max_bytes=self.max_image_bytes,
            max_pixels=self.max_image_pixels,
            max_frames=self.max_image_frames,
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
            gates=stored_gates,
            claimed=0,
            kind=kind,
        )
        if kind == DropKind.EDITION:
            drop.contract = await self._editions_contract(platform, community_id)
        async with self.sessions.begin() as session:
            session.add(drop)
            if kind == DropKind.EDITION:
                await session.flush()  # the drop's ID is part of its token's metadata
                block = artwork_metadata(drop)
                drop.metadata_cid = await asyncio.to_thread(self.content.put_file, block)
                drop.token_id = "0x" + hashlib.sha256(block).hexdigest()
        return drop_info(drop)

    async def _editions_contract(self, platform: str, community_id: str) -> str:
        if self.collections is None:
            raise NotAllowed(
                N_(
                    "Edition drops are not set up on this chain yet: the operator runs "
                    "`python -m bot deploy` to deploy the factory."
                )
            )
        return await self.collections.editions_for(platform, community_id)

    async def close(self, drop_id: int) -> DropInfo:
        """Close the drop early: claims committed before this are minted, later ones are
        refused. Closing a closed drop changes nothing."""
        known_id(drop_id)
        async with self.sessions.begin() as session:
            closed = await session.execute(
                update(Drop)
                .where(Drop.id == drop_id, Drop.closed_at.is_(None))
                .values(closed_at=utcnow())
                .returning(Drop.id)
            )
            if closed.first() is not None:  # this close changed the row: unless it ended before
                await report_end(session, drop_id, CLOSED)
        for listener in self._on_close:
            listener(drop_id)
        return await self.info(drop_id)

    async def set_gate(self, drop_id: int, kind: str, gate: DropGate | None) -> DropInfo:
        """Make `gate` the drop's only gate of `kind` (None: remove that kind), even while it
        is open: claims decided from then on meet it. Raises `DropNotFound`, or
        `RequestRejected` if the drop's stored gates cannot be read (changing them could
        lift a condition nobody can check)."""
        known_id(drop_id)
        async with self.sessions.begin() as session:
            # Locked (on PostgreSQL) as the claim writer locks it: claims wait for the change.
            drop = await session.get(Drop, drop_id, with_for_update=True)
            if drop is None:
                raise DropNotFound(N_("There is no drop #{id}."), id=drop_id)
            gates = load_gates(drop.gates)
            if any(g.kind == "unknown" for g in gates):
                raise RequestRejected(
                    N_("Drop #{id}'s claim conditions cannot be read here; nothing was changed."),
                    id=drop_id,
                )
            kept = [g for g in gates if g.kind != kind]
            drop.gates = store_gates([*kept, gate] if gate is not None else kept)
        return await self.info(drop_id)

    def on_close(self, listener: Callable[[int], None]) -> None:
        """Call `listener` with a drop's ID when this process closes it."""
        self._on_close.append(listener)

    async def info(self, drop_id: int) -> DropInfo:
        """The drop with its current count of claimed editions. Raises `DropNotFound`."""
        known_id(drop_id)
        async with self.sessions() as session:
            drop = await session.get(Drop, drop_id)
        if drop is None:
            raise DropNotFound(N_("There is no drop #{id}."), id=drop_id)
        return drop_info(drop)

    async def community_drop(self, drop_id: int, platform: str, community_id: str) -> DropInfo:
        """The drop, if it belongs to this community (drop IDs are global; a community sees
        only its own). Raises `DropNotFound`."""
        drop = await self.info(drop_id)
        if drop.platform != platform or drop.community_id != community_id:
            raise DropNotFound(N_("There is no drop #{id} here."), id=drop_id)
        return drop

    async def list_drops(self, platform: str, community_id: str) -> list[DropInfo]:
        """The community's drops, newest first."""
        async with self.sessions() as session:
            drops = await session.scalars(
                select(Drop)
                .where(Drop.platform == platform, Drop.community_id == community_id)
                .order_by(Drop.id.desc())
            )
            return [drop_info(drop) for drop in drops]

    async def export_csv(self, drop_id: int) -> str:
        """Every claim of the drop as CSV, by edition: who claimed it, and its mint's state."""
        await self.info(drop_id)  # DropNotFound
        return await claims_csv(self.sessions, drop_id)

    # ----- claimers ----------------------------------------------------------------------

    async def claim(
        self,
        drop_id: int,
        claimant: Claimant,
        user_name: str,
        *,
        reply_to: dict[str, object] | None = None,
        source: str | None = None,
    ) -> ClaimResult:
        """Claim the next edition of a drop for a chat member and queue its mint.

        `claimant` is who claims as their platform vouches for them (their roles, whether
        they belong to the drop's chat); `reply_to` is the adapter's own data for answering
        when the token is minted. `source` is the ID of the message or interaction that
        asked, if the platform may deliver it again: a source claims once, and a repeat gets
        that claim back (`duplicate=True`). Raises `DropNotFound`, `NotAllowed` (a gate),
        `DropNeedsWallet`, `DropNotOpen`, `DropClosed`, `DropSoldOut` or `DropLimitReached`.
        """
        known_id(drop_id)
        pending = PendingClaim(drop_id, claimant, storable(user_name, 256), reply_to, source)
        for _ in range(LOOK_UP_ROUNDS):
            try:
                return await self._writer.submit(pending)
            except LookUpFirst as first:
                # Its drop has gates that look things up (a list, a balance): done here,
                # outside the claim's transaction, then decided again.
                facts = await look_up(first.gates, first.claimant, first.drop, self.lookups)
                pending.claimant = dataclasses.replace(claimant, facts=facts)
        raise RequestRejected(N_("The drop's claim conditions changed just now; try again."))

    async def airdrop(
        self, drop_id: int, *, source: str, address: str | None = None, member: str | None = None
    ) -> ClaimResult:
        """An admin gives an edition to an `address`, or to a chat `member` ("platform:user ID",
        minted where they linked, else to custody). Gates on who may claim do not apply; a
        drop for linked wallets only, supply, window, closure and the per-recipient limit do.
        `source` makes it idempotent: the same source gets the same edition back
        (`duplicate=True`)."""
        if (address is None) == (member is None):
            raise ValueError("an airdrop goes to an address or to a member")
        platform, user_id = ("address", address) if address else str(member).split(":", 1)
        return await self._writer.submit(
            PendingClaim(
                drop_id,
                Claimant(platform, str(user_id)),
                str(user_id),
                NOBODY_TO_TELL,
                source,
                granted_to=address,
                granted=True,
            )
        )

    async def grant(
        self,
        drop_id: int,
        member: Claimant,
        user_name: str,
        *,
        source: str,
        reply_to: dict[str, object],
    ) -> ClaimResult:
        """Give an edition to a member the core chose (a raffle's winner): a claim past the
        gates on who may claim (not the one on where editions go), minted where they linked
        else to custody and answered through their platform as claims are; supply, window,
        closure and the per-member limit apply. `source` makes it idempotent: the same
        source gets the same edition back (`duplicate=True`)."""
        known_id(drop_id)
        return await self._writer.submit(
            PendingClaim(drop_id, member, storable(user_name, 256), reply_to, source, granted=True)
        )

    async def close_writer(self) -> None:
        """Let the claims being recorded finish."""
        await self._writer.close()

    async def remember_announcement(
        self, drop_id: int, platform: str, chat_id: str, message_id: str
    ) -> None:
        """Remember a message announcing the drop, so its counter can be kept current (also
        after a restart)."""
        async with self.sessions.begin() as session:
            session.add(
                DropAnnouncement(
                    drop_id=drop_id, platform=platform, chat_id=chat_id, message_id=message_id
                )
            )

    async def announcements(self, drop_id: int, platform: str) -> list[tuple[str, str]]:
        """The (chat, message) pairs announcing the drop on `platform`."""
        async with self.sessions() as session:
            rows = await session.execute(
                select(DropAnnouncement.chat_id, DropAnnouncement.message_id).where(
                    DropAnnouncement.drop_id == drop_id, DropAnnouncement.platform == platform
                )
            )
            return [(chat_id, message_id) for chat_id, message_id in rows]

    # ----- answering claims --------------------------------------------------------------

    async def deliver(self, result: MintResult) -> None:
        """Tell the claimer how their edition's mint ended, through the platform they claimed
        on (their claim's row says which). An airdrop has nobody to tell: it counts as
        answered. Raises `NotReachableHere` while that platform is not running here, so the
        answer waits for it."""
        if result.reply_to == NOBODY_TO_TELL:
            return
        async with self.sessions() as session:
            platform_name = await session.scalar(
                select(DropClaim.platform).where(DropClaim.request_id == result.request_id)
            )
        if platform_name is None:
            raise LookupError(f"no drop claim made request {result.key}")
        platform = self.platforms.get(platform_name)
        if platform is None:
            raise NotReachableHere(f"drop claims made on {platform_name!r} are answered elsewhere")
        await platform.tell_claimer(result)


def drop_info(drop: Drop) -> DropInfo:
    """The drop row as people are shown it."""
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
        gates=load_gates(drop.gates),
        closed_at=aware_utc(drop.closed_at) if drop.closed_at is not None else None,
        kind=DropKind(drop.kind),
    )
