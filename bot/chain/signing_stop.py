"""Stopping and resuming a hot wallet's signing, as a key rotation does.

The stop lives in the wallet's `nonce_state` row, which every signer of every process reads
under its lock before it signs (`NonceAllocator`); nothing is held in memory. A rotation
stops the old and the new wallet while it runs (only its own signer, `holder`, may sign with
the old one then), and at its end leaves the old wallet stopped for good and resumes the new.
"""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from db.engine import insert_unless_present
from db.models import NonceState


async def stop_signing(
    session: AsyncSession,
    *,
    chain_id: int,
    wallet: str,
    chain_nonce: int,
    reason: str,
    holder: str | None,
) -> None:
    """Stop every signer of `wallet` but `holder`, saying `reason` in their logs. A wallet
    that never signed gets its row here, starting at `chain_nonce` (its count on chain)."""
    await session.execute(
        insert_unless_present(session, NonceState.__table__),  # type: ignore[arg-type]
        {"chain_id": chain_id, "wallet": wallet, "next_nonce": chain_nonce},
    )
    await session.execute(
        update(NonceState)
        .where(NonceState.chain_id == chain_id, NonceState.wallet == wallet)
        .values(signing_stopped=reason[:200], signing_holder=holder)
    )


async def resume_signing(session: AsyncSession, *, chain_id: int, wallet: str) -> None:
    """Let every signer of `wallet` sign again."""
    await session.execute(
        update(NonceState)
        .where(NonceState.chain_id == chain_id, NonceState.wallet == wallet)
        .values(signing_stopped=None, signing_holder=None)
    )
