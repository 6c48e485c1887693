"""Nonce allocation: one place per wallet and chain, persisted, reconciled with the chain.

The `nonce_state` row is the allocator. `allocate` locks it (SELECT ... FOR UPDATE on
PostgreSQL; SQLite has one writer at a time anyway) inside the caller's transaction, so the
nonce and the signed transaction that uses it commit together or not at all, and several
processes sharing one PostgreSQL never hand out the same nonce.
"""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db.engine import insert_unless_present
from db.models import NonceState

log = logging.getLogger(__name__)


class NonceAllocator:
    def __init__(self, chain_id: int, wallet: str) -> None:
        self.chain_id = chain_id
        self.wallet = wallet

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
        for a decision that must not interleave with signing (the daily spending cap)."""
        await self._row(session)

    async def allocate(self, session: AsyncSession) -> int:
        """Take the next nonce inside the caller's transaction."""
        row = await self._row(session)
        if row is None:
            raise RuntimeError("reconcile the nonce allocator with the chain before allocating")
        nonce = row.next_nonce
        row.next_nonce = nonce + 1
        await session.flush()
        return nonce
