"""The raffles' background work (`RaffleRounds.run`): after a raffle's close, once its seed block
exists and is CONFIRMATIONS deep, draw it; claim each winner's edition; announce the draw and
tell every entrant privately.

Each step is recorded before the next starts, so a restart resumes where it stopped and never
repeats one: the draw, with every entry's outcome, is one transaction that sets `drawn_at`
only where it is unset and only if no entry came since the entries were read (a second process
or a restart finds it drawn and uses that draw); a winner's claim has a stable source
("raffle:<user>"), so a repeat gets the same edition back. Processes take turns on a raffle
(`SharedTurns`), so two never work on one at once; one raffle's failure is logged and leaves
the others be, and that raffle waits out a growing back-off before its next try.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime

from sqlalchemy import Table, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.content.store import ContentStore
from bot.drops.raffle_chain import ChainBlocks
from bot.drops.raffle_draw import EntrantList, draw
from bot.drops.raffle_types import RaffleInfo, RaffleVoice, locale_in, outcome_text
from bot.drops.service import Drops
from bot.errors import DropNotFound, RequestRejected
from bot.i18n import N_, speaking
from bot.ports import Claimant
from bot.shared_turns import SharedTurns
from db.models import Drop, MintRequest, Raffle, RaffleEntry, aware_utc, utcnow

log = logging.getLogger(__name__)

_ENTRIES: Table = RaffleEntry.__table__  # type: ignore[assignment]
_RAFFLES: Table = Raffle.__table__  # type: ignore[assignment]
# How long a process holds a raffle's turn: another takes it over after this if it dies.
TURN_S = 120.0
# Tries to tell an entrant before giving up on them (they can still ask with /enter).
TELL_ATTEMPTS = 3
# Raffles advanced per round, so one round stays bounded however many are due.
ROUND_LIMIT = 50
# Entrants told per raffle per round: a round stays well inside its turn (TURN_S) even under
# a platform's flood limits, so no other process takes the raffle over mid-round.
TELL_PER_ROUND = 200
# With no raffle due, how long a process waits before looking again: raffles another process
# made or closed are seen within this.
IDLE_S = 5.0
# A raffle whose round fails waits before its next try: the poll interval, doubled after each
# failure in a row up to this, so a raffle that keeps failing costs a try (and a log line) every
# few minutes, not every poll, while the others go on.
RETRY_MAX_S = 600.0


class RaffleRounds:
    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        drops: Drops,
        blocks: ChainBlocks,
        voices: dict[str, RaffleVoice],
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
        self.voices = voices  # the platforms' adapters add theirs
        self.content = content
        self.turns = turns
        self.confirmations = max(confirmations, 1)
        self.poll_interval = poll_interval
        self._wake = asyncio.Event()
        # Raffles whose last rounds failed here: failures in a row, and when to try next.
        self._failing: dict[int, tuple[int, float]] = {}

    async def run(self) -> None:
        """Advance every unfinished raffle, a round per poll interval while any is due, until
        cancelled. With none due, the next round comes at the next close, when this process
        makes or closes a raffle (`wake`), or after IDLE_S at most (another process may have)."""
        while True:
            wait = self.poll_interval
            if not await self.advance_all():
                wait = max(wait, await self._until_next_close())
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await self._wake.wait()
            self._wake.clear()

    def wake(self) -> None:
        """A raffle was made or closed here: look at once."""
        self._wake.set()

    async def _until_next_close(self) -> float:
        """Seconds until the next open raffle closes, at most IDLE_S."""
        async with self.sessions() as session:
            closes = await session.scalar(
                select(func.min(Raffle.closes_at)).where(
                    Raffle.done_at.is_(None), Raffle.closes_at > utcnow()
                )
            )
        if closes is None:
            return IDLE_S
        return min(max((aware_utc(closes) - utcnow()).total_seconds(), 0.0), IDLE_S)

    async def advance_all(self) -> bool:
        """One round: each unfinished raffle whose turn this process gets, as far as it can
        go now. A raffle that fails is logged and tried again next round. False if none was
        due."""
        async with self.sessions() as session:
            pending = list(
                await session.scalars(
                    select(Raffle.drop_id)
                    .join(Drop, Drop.id == Raffle.drop_id)
                    .where(
                        Raffle.done_at.is_(None),
                        (Raffle.closes_at <= utcnow()) | Drop.closed_at.is_not(None),
                        # Drawn and claimed: only a process that runs its platform has more to do.
                        Raffle.claimed_at.is_(None) | Drop.platform.in_(list(self.voices)),
                    )
                    .order_by(Raffle.closes_at)
                    .limit(ROUND_LIMIT)
                )
            )
        now = asyncio.get_running_loop().time()
        for drop_id in pending:
            key = f"raffle:{drop_id}:"
            if self._failing.get(drop_id, (0, now))[1] > now:
                continue  # waiting out its back-off
            if await self.turns.take(key, TURN_S) > 0:
                continue  # another process has it
            try:
                await self.advance(drop_id)
                self._failing.pop(drop_id, None)
            except Exception:
                self._failed(drop_id, now)
            finally:
                await self.turns.release(key)
        return bool(pending)

    def _failed(self, drop_id: int, now: float) -> None:
        failures = self._failing.get(drop_id, (0, now))[0] + 1
        wait = min(self.poll_interval * 2 ** min(failures, 20), RETRY_MAX_S)
        self._failing[drop_id] = (failures, now + wait)
        log.exception(
            "raffle %d: round failed (%d in a row); trying again in %.0f s",
            drop_id, failures, wait,
        )  # fmt: skip

    def failures(self, drop_id: int) -> int:
        """Rounds of raffle `drop_id` that failed in a row here."""
        return self._failing.get(drop_id, (0, 0.0))[0]

    async def advance(self, drop_id: int) -> None:
        """Take raffle `drop_id` as far as it can go now: draw, claim, tell."""
        if await self.draw(drop_id):
            await self._claim(drop_id)
            await self._tell(drop_id)

    async def draw(self, drop_id: int) -> bool:
        """Draw the raffle if it is time; True once it is drawn (by anyone)."""
        async with self.sessions() as session:
            raffle = await session.get(Raffle, drop_id)
            drop = await session.get(Drop, drop_id)
        assert raffle is not None and drop is not None, f"raffle {drop_id} is gone"
        if raffle.drawn_at is not None:
            return True
        now = utcnow()
        if drop.closed_at is not None:  # an admin closed the drop: nobody can win it
            return await self._record(raffle, now, cancelled=True)
        if now < aware_utc(raffle.closes_at):
            return False
        deep_enough = raffle.block_number + self.confirmations - 1
        if await self.blocks.head() < deep_enough:
            await self.blocks.mine_to(deep_enough)  # the dev chain only
            if await self.blocks.head() < deep_enough:
                return False
        block = await self.blocks.block(raffle.block_number)
        if block is None:
            return False
        # Entries made once the seed block existed cannot count: their makers could know it.
        # Block times are whole seconds, so the block's second is given to the entrants.
        seed_known = datetime.fromtimestamp(block.timestamp + 1, UTC)
        cutoff = min(aware_utc(raffle.closes_at), seed_known)
        async with self.sessions() as session:
            entries = (
                await session.execute(
                    select(_ENTRIES.c.ticket, _ENTRIES.c.created_at).where(
                        _ENTRIES.c.drop_id == drop_id
                    )
                )
            ).all()
        tickets = sorted(t for t, made in entries if aware_utc(made) < cutoff)
        assert drop.supply is not None, "a raffle has a number of winners"
        winners = draw(bytes.fromhex(block.hash[2:]), tickets, drop.supply)
        published = EntrantList(
            raffle=drop_id,
            name=drop.name,
            chain_id=self.blocks.chain_id,
            block=block.number,
            seed=block.hash,
            winners_wanted=drop.supply,
            tickets=tuple(tickets),
            winners=tuple(winners),
        )
        cid = await asyncio.to_thread(self.content.put_file, published.encode())
        # Published like every token's content: pinned on each backend PINNING names, so the
        # list can be fetched by its CID from any IPFS gateway, not only the bot's.
        await self.drops.service.publisher.want([cid])
        return await self._record(
            raffle, now, seed=block.hash, cid=cid, counted=len(entries), tickets=tickets,
            winners=winners, cutoff=cutoff,
        )  # fmt: skip

    async def _record(
        self,
        raffle: Raffle,
        now: datetime,
        *,
        cancelled: bool = False,
        seed: str | None = None,
        cid: str | None = None,
        counted: int | None = None,
        tickets: list[str] | None = None,
        winners: list[str] | None = None,
        cutoff: datetime | None = None,
    ) -> bool:
        """The draw and every entry's outcome, in one transaction, only if nobody drew first
        and no entry came since `counted` were read. True once drawn by anyone."""
        condition = [_RAFFLES.c.drop_id == raffle.drop_id, _RAFFLES.c.drawn_at.is_(None)]
        if counted is not None:
            condition.append(_RAFFLES.c.entrants == counted)
        async with self.sessions.begin() as session:
            drawn = await session.execute(
                update(_RAFFLES)
                .where(*condition)
                .values(
                    drawn_at=now,
                    seed=seed,
                    entrants_cid=cid,
                    entrants=len(tickets or []),
                    winners=len(winners or []),
                    cancelled=cancelled,
                )
            )
            if drawn.rowcount != 1:  # type: ignore[attr-defined]
                return await _drawn(session, raffle.drop_id)
            mine = _ENTRIES.c.drop_id == raffle.drop_id
            if winners:
                await session.execute(
                    update(_ENTRIES)
                    .where(mine, _ENTRIES.c.ticket.in_(winners))
                    .values(outcome="won")
                )
            if cutoff is not None:
                await session.execute(
                    update(_ENTRIES)
                    .where(mine, _ENTRIES.c.outcome.is_(None), _ENTRIES.c.created_at < cutoff)
                    .values(outcome="lost")
                )
            await session.execute(
                update(_ENTRIES)
                .where(mine, _ENTRIES.c.outcome.is_(None))
                .values(outcome="lost" if cancelled else "late")
            )
        log.info("raffle %d drawn: %d winners", raffle.drop_id, len(winners or []))
        return True

    async def _claim(self, drop_id: int) -> None:
        """Claim each winner's edition (a grant with a stable source), then close the drop."""
        async with self.sessions() as session:
            raffle = await session.get(Raffle, drop_id)
            assert raffle is not None
            if raffle.claimed_at is not None:
                return
            winners = list(
                await session.scalars(
                    select(RaffleEntry).where(
                        RaffleEntry.drop_id == drop_id,
                        RaffleEntry.outcome == "won",
                        RaffleEntry.request_id.is_(None),
                        RaffleEntry.refused.is_(None),
                    )
                )
            )
        results = await asyncio.gather(
            *(
                self.drops.grant(
                    drop_id,
                    Claimant(w.platform, w.user_id),
                    w.user_name,
                    source=f"raffle:{w.user_id}"[:128],
                    reply_to=w.reply_to,
                )
                for w in winners
            ),
            return_exceptions=True,
        )
        async with self.sessions.begin() as session:
            for winner, result in zip(winners, results, strict=True):
                if isinstance(result, RequestRejected):  # their own reason (no linked wallet)
                    # Kept untranslated: the winner is told it in their language (`_tell`).
                    values: dict[str, object] = {"refused": result.said.to_json()}
                elif isinstance(result, BaseException):
                    raise result  # not decided: the whole step again next round
                else:
                    values = {"request_id": result.request_id}
                await session.execute(
                    update(_ENTRIES).where(_ENTRIES.c.id == winner.id).values(**values)
                )
            await session.execute(
                update(_RAFFLES)
                .where(_RAFFLES.c.drop_id == drop_id, _RAFFLES.c.claimed_at.is_(None))
                .values(claimed_at=utcnow())
            )
        await self.drops.close(drop_id)

    async def _tell(self, drop_id: int) -> None:
        """Announce the draw and tell up to `TELL_PER_ROUND` entrants privately, where the
        raffle's platform runs in this process; each entrant is tried `TELL_ATTEMPTS` times
        at most."""
        info = await raffle_info(self.sessions, self.drops, self.blocks, self.gateway, drop_id)
        voice = self.voices.get(info.drop.platform)
        if voice is None:
            return  # told by a process that runs its platform
        async with self.sessions() as session:
            raffle = await session.get(Raffle, drop_id)
            assert raffle is not None
            announced = raffle.announced_at is not None
            untold = (
                await session.execute(
                    select(RaffleEntry, MintRequest.custodial)
                    .outerjoin(MintRequest, MintRequest.id == RaffleEntry.request_id)
                    .where(
                        RaffleEntry.drop_id == drop_id,
                        RaffleEntry.told_at.is_(None),
                        RaffleEntry.tell_attempts < TELL_ATTEMPTS,
                    )
                    .order_by(RaffleEntry.id)
                    .limit(TELL_PER_ROUND)
                )
            ).all()
        if not announced:
            for chat_id, message_id in await self.drops.announcements(drop_id, info.drop.platform):
                try:
                    await voice.announce_draw(drop_id, chat_id, message_id, info.drawn_text())
                except Exception:  # one try: each entrant is told on their own besides
                    log.exception("raffle %d: announcing the draw in %s failed", drop_id, chat_id)
            async with self.sessions.begin() as session:
                await session.execute(
                    update(_RAFFLES)
                    .where(_RAFFLES.c.drop_id == drop_id)
                    .values(announced_at=utcnow())
                )
        for entry, custodial in untold:
            told: dict[str, object] = {"told_at": utcnow()}
            try:
                # Told long after they entered, by a worker: in the language they entered in.
                with speaking(locale_in(entry.reply_to)):
                    text = outcome_text(info, entry.outcome, entry.ticket, entry.refused, custodial)
                await voice.tell_entrant(entry.user_id, entry.reply_to, text)
            except Exception as err:
                log.info("raffle %d: could not tell entrant %d: %r", drop_id, entry.id, err)
                told = {"tell_attempts": _ENTRIES.c.tell_attempts + 1}
            async with self.sessions.begin() as session:
                await session.execute(
                    update(_ENTRIES).where(_ENTRIES.c.id == entry.id).values(**told)
                )
        async with self.sessions.begin() as session:
            left = await session.scalar(
                select(_ENTRIES.c.id)
                .where(
                    _ENTRIES.c.drop_id == drop_id,
                    _ENTRIES.c.told_at.is_(None),
                    _ENTRIES.c.tell_attempts < TELL_ATTEMPTS,
                )
                .limit(1)
            )
            if left is None:
                await session.execute(
                    update(_RAFFLES).where(_RAFFLES.c.drop_id == drop_id).values(done_at=utcnow())
                )


async def raffle_info(
    sessions: async_sessionmaker[AsyncSession],
    drops: Drops,
    blocks: ChainBlocks,
    gateway: str,
    drop_id: int,
) -> RaffleInfo:
    """The raffle of drop `drop_id`. Raises `DropNotFound` if that drop is no raffle."""
    drop = await drops.info(drop_id)
    async with sessions() as session:
        raffle = await session.get(Raffle, drop_id)
    if raffle is None:
        raise DropNotFound(N_("Drop #{id} is not a raffle."), id=drop_id)
    return RaffleInfo(
        drop=drop,
        closes_at=aware_utc(raffle.closes_at),
        block=raffle.block_number,
        chain_id=blocks.chain_id,
        entrants=raffle.entrants,
        drawn=raffle.drawn_at is not None,
        seed=raffle.seed,
        entrants_cid=raffle.entrants_cid,
        winners=raffle.winners,
        cancelled=raffle.cancelled,
        gateway=gateway,
    )


async def _drawn(session: AsyncSession, drop_id: int) -> bool:
    drawn_at = await session.scalar(
        select(_RAFFLES.c.drawn_at).where(_RAFFLES.c.drop_id == drop_id)
    )
    return drawn_at is not None
