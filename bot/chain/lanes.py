"""Nonce lanes: one per hot wallet key of the pool, each signed for by one process at a time.

Each key is its own nonce sequence (a lane) with its own transaction engine. On a database
that several processes share (PostgreSQL), a pipeline process signs only on the lanes it
holds a lease on: the lease is two columns of the wallet's `nonce_state` row, which every
signature locks and reads (`NonceAllocator.may_sign`), so a process whose lease was taken
over can no longer sign there. A holder renews its leases every third of LANE_TAKEOVER_S;
a lease left unrenewed that long is free for another process to take, which reconciles the
lane with the chain and watches its open transactions from then on.

The live pipeline processes (`lane_member`, renewed with the leases) share the lanes evenly:
one holding more than its share gives the surplus back, for a newcomer to take. On SQLite
only one process runs, and it holds every lane without leases.

A lane is passed over for new batches while it is stuck: a transaction from outside holds
its next nonce (the chain's pending count is past ours), or its oldest open transaction is
unmined FEE_BUMP_AFTER_S after signing. Its unsigned work goes to the other lanes.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import math
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.chain.faults import is_transient
from bot.chain.tx_engine import OPEN_STATUSES, TxEngine
from bot.chain.watcher import TxWatcher
from bot.process_locks import process_identity
from db.engine import insert_unless_present
from db.models import ChainTx, LaneMember, NonceState, TxStatus, aware_utc, utcnow

log = logging.getLogger(__name__)

# Whether `wallet` may mint on `contract` (None: the shared collection).
MayMint = Callable[[str, str | None], Awaitable[bool]]
# How long an answer of `MayMint` is believed before asking the chain again: an admin may
# grant the role meanwhile, or revoke it (take the key out of HOT_WALLET_KEYS first: a batch
# simulated in between would seem refused by the contract).
_ROLE_TTL_S = 60.0


@dataclass
class LaneState:
    """What this process knows of one lane, refreshed every beat."""

    owned: bool
    in_flight: int = 0
    stuck: str | None = None  # why, if stuck


class Lanes:
    def __init__(
        self,
        engines: Sequence[TxEngine],
        sessions: async_sessionmaker[AsyncSession],
        *,
        takeover_s: float,
        shared: bool,
        may_mint: MayMint,
        poll_interval: float,
        me: str | None = None,
    ) -> None:
        if not engines:
            raise ValueError("a pool has at least one key")
        self.engines = list(engines)
        self.watchers = [TxWatcher(engine, poll_interval) for engine in self.engines]
        self.sessions = sessions
        self.takeover = timedelta(seconds=takeover_s)
        self.shared = shared  # False: the only process; it holds every lane, unleased
        self.me = me or process_identity()
        self._may_mint = may_mint
        self._minters: dict[tuple[str, str | None], tuple[bool, float]] = {}
        self._picks = itertools.count(1)
        self._picked: dict[str, int] = {}  # each lane's latest pick, in `_picks` order
        # Until `start`, every engine signs unleased, as a command-line tool's runtime does.
        self.states = {e.wallet.address: LaneState(owned=True) for e in self.engines}
        self._leasing = False  # set by `start` on a shared database

    @property
    def primary(self) -> TxEngine:
        """The custody key's lane: withdrawals, custody moves and contract creation sign here."""
        return self.engines[0]

    @property
    def chain_id(self) -> int:
        return self.primary.chain_id

    # ----- choosing a lane -----------------------------------------------------------------

    async def pick(self, contract: str | None) -> TxEngine | None:
        """The lane for a new batch to `contract`: held by this process, not stuck, funded,
        allowed to mint there, and with the fewest transactions in flight; of lanes with as
        many, the one picked longest ago. None: no lane may take it now."""
        counts = await self._in_flight()
        usable = []
        for engine in self.engines:
            state = self.states[engine.wallet.address]
            if not engine.owned or state.stuck or engine.needs_funds:
                continue
            if await self._minter(engine.wallet.address, contract):
                usable.append(engine)
        if not usable:
            return None
        chosen = min(
            usable,
            key=lambda e: (counts.get(e.wallet.address, 0), self._picked.get(e.wallet.address, 0)),
        )
        self._picked[chosen.wallet.address] = next(self._picks)
        return chosen

    async def _minter(self, wallet: str, contract: str | None) -> bool:
        if wallet == self.primary.wallet.address:
            return True  # the custody key is the minter everything was created with
        known = self._minters.get((wallet, contract))
        loop = asyncio.get_running_loop()
        if known is not None and loop.time() < known[1]:
            return known[0]
        allowed = await self._may_mint(wallet, contract)
        if not allowed and known is None:
            log.warning("hot wallet %s has no MINTER_ROLE on %s: its lane skips it", wallet,
                        contract or "the shared collection")  # fmt: skip
        self._minters[(wallet, contract)] = (allowed, loop.time() + _ROLE_TTL_S)
        return allowed

    async def _in_flight(self) -> dict[str, int]:
        async with self.sessions() as session:
            rows = await session.execute(
                select(ChainTx.wallet, func.count())
                .where(ChainTx.chain_id == self.chain_id, ChainTx.status.in_(OPEN_STATUSES))
                .group_by(ChainTx.wallet)
            )
            return {wallet: int(n) for wallet, n in rows.all()}

    def describe(self) -> dict[str, dict[str, Any]]:
        """Each lane's state as `/health` shows it."""
        return {
            address: {"owned": s.owned, "in_flight": s.in_flight, "stuck": s.stuck}
            for address, s in self.states.items()
        }

    # ----- holding lanes -------------------------------------------------------------------

    async def start(self) -> None:
        """Reconcile every lane with the chain (so each has its `nonce_state` row), then take
        this process's share of them: from now on it signs only on the lanes it holds."""
        for engine in self.engines:
            await engine.reconcile()
            if self.shared:
                self._hold(engine, False)
                engine.nonces.lane_holder = self.me
        self._leasing = self.shared
        await self.beat()

    async def run(self) -> None:
        """Renew, share and look at the lanes every third of LANE_TAKEOVER_S, until
        cancelled; a failed beat is logged and the next one tries again."""
        interval = self.takeover.total_seconds() / 3
        while True:
            await asyncio.sleep(interval)
            try:
                await self.beat()
            except Exception as err:
                if not is_transient(err):
                    log.exception("looking after the nonce lanes failed")
                else:
                    log.warning("nonce lanes: transient fault (%s)", type(err).__name__)

    async def beat(self) -> None:
        if self.shared:
            await self._share()
        counts = await self._in_flight()
        for engine in self.engines:
            state = self.states[engine.wallet.address]
            state.in_flight = counts.get(engine.wallet.address, 0)
            # Only a lane held here is looked at; one given back is the new holder's to judge.
            stuck = await self._stuck(engine) if engine.owned else None
            if engine.owned and stuck != state.stuck:
                if stuck:
                    log.warning("lane %s is stuck (%s): new batches go to others",
                                engine.wallet.address, stuck)  # fmt: skip
                else:
                    log.info("lane %s is moving again", engine.wallet.address)
            state.stuck = stuck

    async def _share(self) -> None:
        now = utcnow()
        until = now + self.takeover
        async with self.sessions.begin() as session:
            await session.execute(delete(LaneMember).where(LaneMember.expires_at < now))
            await session.execute(
                insert_unless_present(session, LaneMember.__table__),  # type: ignore[arg-type]
                {"process_id": self.me, "expires_at": until},
            )
            await session.execute(
                update(LaneMember).where(LaneMember.process_id == self.me).values(expires_at=until)
            )
            live = int(await session.scalar(select(func.count()).select_from(LaneMember)) or 1)
        share = math.ceil(len(self.engines) / max(live, 1))
        held = [e for e in self.engines if await self._renew(e, until)]
        for engine in held[share:]:  # the surplus, from the end of the pool
            await self._release(engine)
            held.remove(engine)
        for engine in self.engines:
            if len(held) >= share:
                break
            if engine not in held and await self._take(engine, now, until):
                held.append(engine)

    def _row(self, engine: TxEngine) -> Any:
        return and_(
            NonceState.chain_id == self.chain_id, NonceState.wallet == engine.wallet.address
        )

    async def _renew(self, engine: TxEngine, until: Any) -> bool:
        async with self.sessions.begin() as session:
            result = await session.execute(
                update(NonceState)
                .where(self._row(engine), NonceState.lane_owner == self.me)
                .values(lane_expires_at=until)
            )
        held = bool(result.rowcount)  # type: ignore[attr-defined]
        if engine.owned and not held:
            log.warning("lost the lease on lane %s to another process", engine.wallet.address)
        self._hold(engine, held)
        return held

    async def _take(self, engine: TxEngine, now: Any, until: Any) -> bool:
        async with self.sessions.begin() as session:
            result = await session.execute(
                update(NonceState)
                .where(
                    self._row(engine),
                    or_(NonceState.lane_owner.is_(None), NonceState.lane_expires_at < now),
                )
                .values(lane_owner=self.me, lane_expires_at=until)
            )
        if not result.rowcount:  # type: ignore[attr-defined]
            return False
        log.info("took lane %s", engine.wallet.address)
        await engine.reconcile()  # its last holder may have died between sign and commit
        self._hold(engine, True)
        engine.sent.set()  # its watcher looks at the lane's open transactions now
        return True

    async def _release(self, engine: TxEngine) -> None:
        self._hold(engine, False)  # no new batch starts here from now on
        async with self.sessions.begin() as session:
            await session.execute(
                update(NonceState)
                .where(self._row(engine), NonceState.lane_owner == self.me)
                .values(lane_owner=None, lane_expires_at=None)
            )
        log.info("gave lane %s back for another process to take", engine.wallet.address)

    def _hold(self, engine: TxEngine, held: bool) -> None:
        engine.owned = held
        self.states[engine.wallet.address].owned = held

    async def close(self) -> None:
        """Give every held lane back and leave the members, for the others to take over at
        once rather than after LANE_TAKEOVER_S."""
        if not self._leasing:
            return  # never started (a command's runtime): it holds no lease to give back
        with contextlib.suppress(Exception):  # the database may be gone; the leases expire
            for engine in self.engines:
                if engine.owned:
                    await self._release(engine)
            async with self.sessions.begin() as session:
                await session.execute(delete(LaneMember).where(LaneMember.process_id == self.me))

    # ----- stuck lanes ---------------------------------------------------------------------

    async def _stuck(self, engine: TxEngine) -> str | None:
        next_nonce = await engine.reconcile()
        address = engine.wallet.address
        pending = await engine.w3.eth.get_transaction_count(address, "pending")  # type: ignore[arg-type]
        if pending > next_nonce:
            return f"a transaction from outside holds nonce {next_nonce}"
        async with self.sessions() as session:
            oldest = await session.scalar(
                select(func.min(ChainTx.created_at)).where(
                    ChainTx.chain_id == self.chain_id,
                    ChainTx.wallet == address,
                    ChainTx.status.in_((TxStatus.SIGNED, TxStatus.SENT)),
                )
            )
        if oldest is not None and utcnow() - aware_utc(oldest) > engine.bump_after:
            return f"a transaction unmined for over {engine.bump_after.total_seconds():.0f} s"
        return None
