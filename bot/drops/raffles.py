"""Raffle drops (`Runtime.raffles`): a drop whose editions go to winners drawn at its close.

A raffle is a drop with a window and a supply (the number of winners), gated by the raffle
gate (`bot.drops.gates.raffle`: nobody claims it directly). Members enter during the window;
the drop's other gates apply at entry, through the same machinery as a claim. An entry is one
row per (raffle, member), decided by a UNIQUE constraint, so a redelivered or double-clicked
entry is that entry again. When the raffle opens, the bot names the block whose hash will seed
the draw (`ChainBlocks.seed_block_for`: a block after the close). `bot.drops.raffle_rounds`
draws, claims the winners' editions and tells every entrant; `bot.drops.raffle_draw` is the
draw anyone can re-run.
"""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import Table, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.content.store import ContentStore
from bot.drops.gates import LinkWallet, first_refusal, look_up
from bot.drops.gates.raffle import RaffleGate
from bot.drops.raffle_chain import ChainBlocks
from bot.drops.raffle_draw import SALT_BYTES, ticket
from bot.drops.raffle_rounds import RaffleRounds, raffle_info
from bot.drops.raffle_types import Entry, RaffleInfo, RaffleVoice, when
from bot.drops.service import Drops
from bot.drops.types import DropKind, known_id
from bot.errors import (
    DropClosed,
    DropNeedsWallet,
    DropNotFound,
    DropNotOpen,
    NotAllowed,
    RequestRejected,
)
from bot.hot_wallet_keys import LOCAL_CHAIN_ID
from bot.i18n import N_
from bot.ports import Claimant, DropGate, GatedDrop
from bot.shared_turns import SharedTurns
from db.engine import insert_unless_present
from db.models import Drop, PlatformUser, Raffle, RaffleEntry, aware_utc, storable, utcnow

_ENTRIES: Table = RaffleEntry.__table__  # type: ignore[assignment]
_RAFFLES: Table = Raffle.__table__  # type: ignore[assignment]

if TYPE_CHECKING:
    from bot.chain.setup import Chain
    from bot.config import Settings


class Raffles:
    """Making raffles and entering them; `rounds` (`run`) draws them."""

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        drops: Drops,
        blocks: ChainBlocks,
        content: ContentStore,
        turns: SharedTurns,
        confirmations: int,
        poll_interval: float,
        gateway: str,
    ) -> None:
        self.gateway = gateway
        self.sessions = sessions
        self.drops = drops
        self.blocks = blocks
        self.voices: dict[str, RaffleVoice] = {}
        self.rounds = RaffleRounds(
            sessions=sessions,
            drops=drops,
            blocks=blocks,
            voices=self.voices,
            content=content,
            turns=turns,
            confirmations=confirmations,
            poll_interval=poll_interval,
            gateway=gateway,
        )
        # A raffle's drop closed by an admin is cancelled at the next round: at once.
        drops.on_close(lambda _drop_id: self.rounds.wake())

    @classmethod
    def build(
        cls,
        settings: Settings,
        chain: Chain,
        sessions: async_sessionmaker[AsyncSession],
        drops: Drops,
        content: ContentStore,
        turns: SharedTurns,
    ) -> Raffles:
        """The raffles of the runtime, on its chain: the local dev chain (anvil) mines the
        blocks a draw waits for, since it makes none on its own."""
        return cls(
            sessions=sessions,
            drops=drops,
            blocks=ChainBlocks(
                chain.w3, chain.chain_id, dev_chain=chain.chain_id == LOCAL_CHAIN_ID
            ),
            content=content,
            turns=turns,
            confirmations=settings.confirmations,
            poll_interval=settings.poll_interval,
            gateway=settings.public_base_url.rstrip("/"),
        )

    async def run(self) -> None:
        """Draw raffles after their close, claim winners' editions, tell entrants (where
        their platform runs here), until cancelled."""
        await self.rounds.run()

    def speak_through(self, platform: str, voice: RaffleVoice) -> None:
        """Let `platform`'s adapter say what draws decide (from this process)."""
        self.voices[platform] = voice

    async def create(
        self,
        *,
        platform: str,
        community_id: str,
        created_by: str,
        name: str,
        image: bytes,
        winners: int,
        ends_at: datetime,
        description: str = "",
        starts_at: datetime | None = None,
        gates: Sequence[DropGate] = (),
        kind: DropKind | None = None,
    ) -> RaffleInfo:
        """Make a raffle for `winners` editions, entered until `ends_at`; `gates` apply at
        entry. The seed block is named now, from the chain's current block and pace. Raises
        `RequestRejected` (or a subclass) saying what is wrong."""
        ends = aware_utc(ends_at)
        if ends <= (aware_utc(starts_at) if starts_at is not None else utcnow()):
            raise RequestRejected(N_("A raffle must end after it starts."))
        # Named before the drop is made, so a slow chain cannot put the block before the close.
        block = await self.blocks.seed_block_for((ends - utcnow()).total_seconds())
        drop = await self.drops.create_drop(
            platform=platform,
            community_id=community_id,
            created_by=created_by,
            name=name,
            image=image,
            description=description,
            supply=winners,
            starts_at=starts_at,
            # The drop has no end of its own: winners' editions are claimed after the close.
            ends_at=None,
            gates=[*gates, RaffleGate()],
            kind=kind,
        )
        async with self.sessions.begin() as session:
            session.add(
                Raffle(
                    drop_id=drop.id,
                    salt=secrets.token_hex(SALT_BYTES),
                    closes_at=ends,
                    block_number=block,
                    entrants=0,
                    winners=0,
                    cancelled=False,
                )
            )
        self.rounds.wake()
        return await self.info(drop.id)

    async def info(self, drop_id: int) -> RaffleInfo:
        """The raffle of drop `drop_id`. Raises `DropNotFound` if that drop is no raffle."""
        known_id(drop_id)
        return await raffle_info(self.sessions, self.drops, self.blocks, self.gateway, drop_id)

    async def close_entries(self, drop_id: int) -> RaffleInfo:
        """End the raffle's window now (its seed block stays the one announced, which is
        then all the further after the close). Closing a closed raffle changes nothing."""
        known_id(drop_id)
        now = utcnow()
        async with self.sessions.begin() as session:
            await session.execute(
                update(Raffle)
                .where(Raffle.drop_id == drop_id, Raffle.closes_at > now)
                .values(closes_at=now)
            )
        self.rounds.wake()
        return await self.info(drop_id)

    async def enter(
        self,
        drop_id: int,
        claimant: Claimant,
        user_name: str,
        *,
        reply_to: dict[str, object],
    ) -> Entry:
        """Enter `claimant` in the raffle: once per member, however often asked (a repeat gets
        the same entry back, `duplicate=True`, and once drawn, its outcome). The drop's gates
        decide who may enter, as they decide claims. Raises `DropNotFound`, `NotAllowed`,
        `DropNeedsWallet`, `DropNotOpen` or `DropClosed`."""
        known_id(drop_id)
        async with self.sessions() as session:
            found = await _entry(session, drop_id, claimant)
            if found is not None:
                return found
            drop = await session.get(Drop, drop_id)
            raffle = await session.get(Raffle, drop_id)
            linked = await session.scalar(
                select(PlatformUser.address).where(
                    PlatformUser.platform == claimant.platform,
                    PlatformUser.user_id == claimant.user_id,
                )
            )
        if drop is None or raffle is None:
            raise DropNotFound(N_("There is no raffle #{id}."), id=drop_id)
        now = utcnow()
        _check_window(drop, raffle, now)
        if claimant.platform != drop.platform:
            raise NotAllowed(
                N_("{name} can be entered only from its own community."), name=drop.name
            )
        info = await self.drops.info(drop_id)
        gates = [g for g in info.gates if not isinstance(g, RaffleGate)]
        gated = GatedDrop(drop.id, drop.name, drop.platform, drop.community_id)
        member = dataclasses.replace(claimant, linked_address=linked)
        member = dataclasses.replace(
            member, facts=await look_up(gates, member, gated, self.drops.lookups)
        )
        refusal = first_refusal(gates, member, gated)
        if refusal is not None:
            raise (DropNeedsWallet if isinstance(refusal, LinkWallet) else NotAllowed)(
                refusal.reason
            )
        async with self.sessions.begin() as session:
            # The database decides: the first entry of this member is the entry.
            inserted = await session.execute(
                insert_unless_present(session, _ENTRIES).values(
                    drop_id=drop_id,
                    platform=claimant.platform,
                    user_id=claimant.user_id,
                    user_name=storable(user_name, 256),
                    ticket=ticket(raffle.salt, claimant.platform, claimant.user_id),
                    reply_to=reply_to,
                    created_at=now,
                    tell_attempts=0,
                )
            )
            # Counted with the raffle still undrawn and open, or not entered at all: the draw
            # takes the entries only if this count is what it read (`raffle_rounds`).
            fresh = inserted.rowcount == 1  # type: ignore[attr-defined]
            if fresh:
                counted = await session.execute(
                    update(_RAFFLES)
                    .where(
                        _RAFFLES.c.drop_id == drop_id,
                        _RAFFLES.c.drawn_at.is_(None),
                        _RAFFLES.c.closes_at > now,
                    )
                    .values(entrants=_RAFFLES.c.entrants + 1)
                )
                if counted.rowcount != 1:  # type: ignore[attr-defined]
                    raise DropClosed(N_("Entries to {name} are closed."), name=drop.name)
        async with self.sessions() as session:
            entered = await _entry(session, drop_id, claimant, duplicate=not fresh)
        assert entered is not None, "an entry just inserted or found is there"
        return entered


async def _entry(
    session: AsyncSession, drop_id: int, claimant: Claimant, *, duplicate: bool = True
) -> Entry | None:
    """The member's entry, if there is one (asked again: `duplicate`)."""
    row = (
        await session.execute(
            select(RaffleEntry, Raffle, Drop.name)
            .join(Raffle, Raffle.drop_id == RaffleEntry.drop_id)
            .join(Drop, Drop.id == RaffleEntry.drop_id)
            .where(
                RaffleEntry.drop_id == drop_id,
                RaffleEntry.platform == claimant.platform,
                RaffleEntry.user_id == claimant.user_id,
            )
        )
    ).first()
    if row is None:
        return None
    entry, raffle, name = row
    return Entry(
        drop_id=drop_id,
        name=name,
        ticket=entry.ticket,
        block=raffle.block_number,
        closes_at=aware_utc(raffle.closes_at),
        duplicate=duplicate,
        outcome=entry.outcome,
    )


def _check_window(drop: Drop, raffle: Raffle, now: datetime) -> None:
    if drop.closed_at is not None or raffle.drawn_at is not None:
        raise DropClosed(N_("{name} is closed to entries."), name=drop.name)
    if now < aware_utc(drop.starts_at):
        raise DropNotOpen(
            N_("{name} opens for entries at {opens}."), name=drop.name, opens=when(drop.starts_at)
        )
    if now >= aware_utc(raffle.closes_at):
        raise DropClosed(
            N_("Entries to {name} closed at {closed}."),
            name=drop.name,
            closed=when(raffle.closes_at),
        )
