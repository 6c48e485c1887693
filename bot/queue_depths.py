"""How much work waits, read from the database: requests by phase, pins pending, withdrawals
queued, chat updates not yet handled, answers given up, and each hot wallet's nonce lane.

Every process shares one database, so every process reads the same numbers here: what
`/health` and `/metrics` say of queues is the shared truth, not one process's view of it. Each
figure is one aggregate query (a COUNT or a GROUP BY over an indexed column), so a scrape costs
the same however many requests the database holds.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.models import (
    PIN_PENDING,
    UNANSWERED,
    ChainTx,
    InboxUpdate,
    MintRequest,
    NonceState,
    Phase,
    Pin,
    TxStatus,
    Withdrawal,
    WithdrawalStatus,
)

# A transaction not yet confirmed nor dropped: the engine's OPEN_STATUSES, named here so that
# the web role, which reads these figures, does not import the engine (and web3 with it).
OPEN_TX_STATUSES = (TxStatus.SIGNED, TxStatus.SENT, TxStatus.MINED)
# The roles whose processes sign with the hot wallets they own (`python -m bot run --role`).
SIGNING_ROLES = frozenset({"all", "pipeline"})


@dataclass(frozen=True)
class LaneState:
    """One hot wallet's nonce lane on this chain: its transactions not yet confirmed, and why
    its signing is stopped (a key rotation), if it is."""

    wallet: str
    in_flight_txs: int
    signing_stopped: str | None


@dataclass(frozen=True)
class Depths:
    requests_by_phase: dict[str, int]  # every phase asked for, zero included
    pins_pending: int
    withdrawals_queued: int
    inbox_waiting: int  # chat updates recorded, neither handled nor given up
    answers_given_up: int  # decided requests whose answer could not be delivered
    lanes: tuple[LaneState, ...]  # every wallet the database knows on this chain

    def lane(self, wallet: str) -> LaneState:
        """The lane of `wallet` (empty if the database knows nothing of it yet)."""
        for lane in self.lanes:
            if lane.wallet.lower() == wallet.lower():
                return lane
        return LaneState(wallet, 0, None)


async def read_depths(
    sessions: async_sessionmaker[AsyncSession],
    chain_id: int,
    wallets: Sequence[str] = (),
    *,
    phases: Collection[Phase] = tuple(Phase),
) -> Depths:
    """The queues as the database holds them now, the requests of `phases` only (each phase
    read is a range of the phase index: a health check asks for the few in flight, not the
    replied ones that grow with every mint). `wallets` (this process's own) are listed among
    the lanes even before they signed anything."""
    async with sessions() as session:
        by_phase = dict(
            (
                await session.execute(
                    select(MintRequest.phase, func.count())
                    .where(MintRequest.phase.in_(phases))
                    .group_by(MintRequest.phase)
                )
            ).all()
        )
        open_txs = dict(
            (
                await session.execute(
                    select(ChainTx.wallet, func.count())
                    .where(ChainTx.chain_id == chain_id, ChainTx.status.in_(OPEN_TX_STATUSES))
                    .group_by(ChainTx.wallet)
                )
            ).all()
        )
        stopped = dict(
            (
                await session.execute(
                    select(NonceState.wallet, NonceState.signing_stopped).where(
                        NonceState.chain_id == chain_id
                    )
                )
            ).all()
        )
        pins = await _count(session, select(func.count()).where(Pin.state == PIN_PENDING))
        withdrawals = await _count(
            session,
            select(func.count()).where(Withdrawal.status == WithdrawalStatus.QUEUED),
        )
        inbox = await _count(
            session,
            select(func.count()).where(
                InboxUpdate.processed_at.is_(None), InboxUpdate.given_up_at.is_(None)
            ),
        )
        given_up = await _count(
            session,
            select(func.count()).where(
                # Given-up answers stay unanswered: the phase index narrows the search.
                MintRequest.phase.in_(UNANSWERED),
                MintRequest.undeliverable_at.is_not(None),
            ),
        )
    # Addresses compare without their checksum case; shown as this process names them, else as
    # the database holds them (the last written wins).
    known = {wallet.lower(): wallet for wallet in [*open_txs, *stopped, *wallets]}
    open_by = {wallet.lower(): int(count) for wallet, count in open_txs.items()}
    stopped_by = {wallet.lower(): reason for wallet, reason in stopped.items()}
    lanes = tuple(
        LaneState(known[key], open_by.get(key, 0), stopped_by.get(key)) for key in sorted(known)
    )
    return Depths(
        requests_by_phase={phase.value: int(by_phase.get(phase.value, 0)) for phase in phases},
        pins_pending=pins,
        withdrawals_queued=withdrawals,
        inbox_waiting=inbox,
        answers_given_up=given_up,
        lanes=lanes,
    )


async def _count(session: AsyncSession, query: Select[Any]) -> int:
    return int(await session.scalar(query) or 0)
