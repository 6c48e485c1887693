"""How a chain transaction's row is changed by the engine, the batcher and the watcher.

A transaction's row is locked before its requests or attempts change, so that whoever changes
them takes turns on one row instead of locking the same requests in different orders (which
deadlocks on PostgreSQL). The lock is NO KEY UPDATE: a row that points at the transaction takes
KEY SHARE on it when written, and must not wait for a look at the transaction.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import ChainTx, TxStatus

# `with_for_update` arguments of that lock.
FOR_NO_KEY_UPDATE = {"key_share": True}


async def lock_tx(session: AsyncSession, tx_id: int) -> str | None:
    """Lock a transaction's row for this database transaction (see the module's docstring); its
    status, or None if there is no such transaction."""
    return await session.scalar(
        select(ChainTx.status).where(ChainTx.id == tx_id).with_for_update(key_share=True)
    )


async def move_tx(session: AsyncSession, tx_id: int, when: TxStatus, **values: Any) -> None:
    """Change a transaction only if it is still in status `when`: one statement, so a look
    that decided it meanwhile (confirmed, dropped) is never overwritten by a stale read."""
    await session.execute(
        update(ChainTx).where(ChainTx.id == tx_id, ChainTx.status == when).values(**values)
    )
