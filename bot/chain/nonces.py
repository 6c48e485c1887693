"""Nonce allocation: one place per wallet and chain, persisted, reconciled with the chain.

The `nonce_state` row is the allocator. `allocate` locks it (SELECT ... FOR UPDATE on
PostgreSQL; SQLite has one writer at a time anyway) inside the caller's transaction, so the
nonce and the signed transaction that uses it commit together or not at all, and several
processes sharing one PostgreSQL never hand out the same nonce.

The same row says whether the wallet may sign at all: a key rotation stops it
(`signing_stopped`), letting only its own signer (`signing_holder`) through, and a wallet
rotated out stays stopped; and, where processes share the database, which process holds the
wallet's nonce lane (`lane_owner`, `bot.chain.lanes`): no other one signs with it. Every
signature takes a nonce (`allocate`) or replaces one (`lock`), so checking the row there costs
one more read of a row already locked.
"""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import N_
from bot.i18n.said import Said
from db.engine import insert_unless_present
from db.models import NonceState, utcnow

log = logging.getLogger(__name__)


class SigningStopped(Exception):
    """The wallet may not sign now (a key rotation holds it, or rotated it out); nothing is
    signed and the work waits."""

    def __init__(self, wallet: str, reason: str) -> None:
        # The reason is the operators' (a rotation's state), so it stays as it is said.
        self.said = Said(
            N_("signing with {wallet} is stopped: {reason}"), {"wallet": wallet, "reason": reason}
        )
        super().__init__(str(self.said))


class NonceAllocator:
    def __init__(self, chain_id: int, wallet: str, holder: str | None = None) -> None:
        self.chain_id = chain_id
        self.wallet = wallet
        # Who this allocator signs for: a key rotation signs while it has signing stopped.
        self.holder = holder
        # The process this allocator signs in, where lanes are leased (None: not leased).
        self.lane_holder: str | None = None

    async def may_sign(self, session: AsyncSession) -> None:
        """Raise `SigningStopped` unless this allocator may sign. Decisive only after this
        transaction has written the row (as `allocate` and `lock` do): then it holds the
        row's write lock (SQLite: the database's) and reads what the last writer committed,
        so a rotation's stop is seen by every signature that commits after it. Anywhere else
        it is a look ahead, to skip work that could not be signed."""
        row = (
            await session.execute(
                select(
                    NonceState.signing_stopped, NonceState.signing_holder, NonceState.lane_owner
                ).where(NonceState.chain_id == self.chain_id, NonceState.wallet == self.wallet)
            )
        ).one_or_none()
        if row is None:
            return
        stopped, holder, lane_owner = row
        if self.lane_holder is not None and lane_owner != self.lane_holder:
            raise SigningStopped(self.wallet, "another pipeline process holds this nonce lane")
        if stopped is None:
            return
        if holder is None or holder != self.holder:  # a stop without holder is for all
            raise SigningStopped(self.wallet, stopped)

    async def _row(self, session: AsyncSession) -> NonceState | None:
        return await session.scalar(
            select(NonceState)
            .where(NonceState.chain_id == self.chain_id, NonceState.wallet == self.wallet)
            .with_for_update()
        )

    async def reconcile(self, session: AsyncSession, chain_nonce: int) -> int:
        """Move the next nonce up to `chain_nonce` (the chain's count of mined transactions)
        if something outside mintbot used nonces; never down, because our signed but not yet
        mined transactions hold the nonces in between. Returns the next nonce."""
        row = await self._row(session)
        if row is None:  # first start; processes starting together: the first insert wins
            await session.execute(
                insert_unless_present(session, NonceState.__table__),  # type: ignore[arg-type]
                {"chain_id": self.chain_id, "wallet": self.wallet, "next_nonce": chain_nonce},
            )
            row = await self._row(session)
            assert row is not None
        if chain_nonce > row.next_nonce:
            log.warning(
                "nonce %d..%d of %s were used outside mintbot; continuing at %d",
                row.next_nonce,
                chain_nonce - 1,
                self.wallet,
                chain_nonce,
            )
            row.next_nonce = chain_nonce
        await session.flush()
        return row.next_nonce

    async def lock(self, session: AsyncSession) -> None:
        """Hold the allocator's row until the caller's transaction ends, as `allocate` does,
        for a decision that must not interleave with signing (the daily spending cap).
        Raises `SigningStopped` if the wallet may not sign."""
        row = await self._row(session)
        if row is not None:
            row.updated_at = utcnow()  # a write, to take the lock `may_sign` relies on
            await session.flush()
        await self.may_sign(session)

    async def allocate(self, session: AsyncSession) -> int:
        """Take the next nonce inside the caller's transaction. Raises `SigningStopped` if the
        wallet may not sign (the caller's transaction then rolls back with the nonce)."""
        row = await self._row(session)
        if row is None:
            raise RuntimeError("reconcile the nonce allocator with the chain before allocating")
        nonce = row.next_nonce
        row.next_nonce = nonce + 1
        await session.flush()
        await self.may_sign(session)
        return nonce
