"""The signing audit as CSV: every transaction the hot wallet signed, who asked for it, why,
what it could cost, what it did cost, and how it ended."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from datetime import datetime
from typing import IO

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.models import ChainTx, SigningAudit

COLUMNS = (
    "signed_at",
    "chain_id",
    "wallet",
    "nonce",
    "tx_hash",
    "reason",
    "requesters",
    "request_keys",
    "max_fee_per_gas_wei",
    "gas_limit",
    "outcome",
    "gas_used",
    "fee_paid_wei",
)


async def audit_rows(
    sessions: async_sessionmaker[AsyncSession], since: datetime | None = None
) -> list[dict[str, object]]:
    """One row per signature, oldest first. Only the signature that was mined carries the fee
    paid; the others of its nonce were replaced by it."""
    query = select(SigningAudit, ChainTx).join(ChainTx, SigningAudit.tx_id == ChainTx.id)
    if since is not None:
        query = query.where(SigningAudit.created_at >= since)
    async with sessions() as session:
        pairs = (await session.execute(query.order_by(SigningAudit.id))).all()
    return [_row(audit, tx) for audit, tx in pairs]


def _row(audit: SigningAudit, tx: ChainTx) -> dict[str, object]:
    mined = tx.mined_hash is not None and tx.mined_hash.lower() == audit.tx_hash.lower()
    if mined:
        outcome = "reverted" if tx.reverted else "confirmed"
    elif tx.mined_hash is not None:
        outcome = "replaced"
    else:
        outcome = str(tx.status)
    return {
        "signed_at": audit.created_at.isoformat(),
        "chain_id": audit.chain_id,
        "wallet": audit.wallet,
        "nonce": audit.nonce,
        "tx_hash": audit.tx_hash,
        "reason": audit.reason,
        "requesters": " ".join(audit.requesters.split()),
        "request_keys": " ".join(audit.request_keys.split()),
        "max_fee_per_gas_wei": audit.max_fee_per_gas,
        "gas_limit": audit.gas_limit,
        "outcome": outcome,
        "gas_used": tx.gas_used if mined else "",
        "fee_paid_wei": tx.fee_paid_wei if mined else "",
    }


def write_csv(rows: Iterable[dict[str, object]], out: IO[str]) -> int:
    """Write `rows` as CSV with a header; returns how many rows."""
    writer = csv.DictWriter(out, fieldnames=COLUMNS)
    writer.writeheader()
    count = 0
    for row in rows:
        writer.writerow(row)
        count += 1
    return count
