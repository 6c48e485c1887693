"""The signing audit as CSV: every transaction the hot wallet signed, who asked for it, why,
what it could cost, what it did cost, and how it ended. On an OP-stack chain the costs count
the L1 data fee: its estimate when signed, and in the fee paid, the receipt's `l1Fee`."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from datetime import datetime
from typing import IO

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.models import ChainTx, SigningAudit, TxAttempt

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
    "l1_fee_estimate_wei",
    "outcome",
    "gas_used",
    "fee_paid_wei",
    "l1_fee_wei",
)


async def audit_rows(
    sessions: async_sessionmaker[AsyncSession], since: datetime | None = None
) -> list[dict[str, object]]:
    """One row per signature, oldest first. Only the signature that was mined carries the fee
    paid (the L1 data fee included); the others of its nonce were replaced by it."""
    query = (
        select(SigningAudit, ChainTx, TxAttempt.l1_fee_wei)
        .join(ChainTx, SigningAudit.tx_id == ChainTx.id)
        .outerjoin(TxAttempt, TxAttempt.tx_hash == SigningAudit.tx_hash)
    )
    if since is not None:
        query = query.where(SigningAudit.created_at >= since)
    async with sessions() as session:
        pairs = (await session.execute(query.order_by(SigningAudit.id))).all()
    return [_row(audit, tx, estimate) for audit, tx, estimate in pairs]


def _row(audit: SigningAudit, tx: ChainTx, l1_estimate: str | None) -> dict[str, object]:
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
        "l1_fee_estimate_wei": l1_estimate or "",
        "outcome": outcome,
        "gas_used": tx.gas_used if mined else "",
        "fee_paid_wei": tx.fee_paid_wei if mined else "",
        "l1_fee_wei": (tx.l1_fee_wei or "") if mined else "",
    }


def fees_paid(rows: Iterable[dict[str, object]]) -> tuple[int, int]:
    """The fees the audited signatures paid in all, and the L1 data fee part of it (wei)."""
    paid = l1 = 0
    for row in rows:
        paid += int(str(row["fee_paid_wei"] or 0))
        l1 += int(str(row["l1_fee_wei"] or 0))
    return paid, l1


def write_csv(rows: Iterable[dict[str, object]], out: IO[str]) -> int:
    """Write `rows` as CSV with a header; returns how many rows."""
    writer = csv.DictWriter(out, fieldnames=COLUMNS)
    writer.writeheader()
    count = 0
    for row in rows:
        writer.writerow(row)
        count += 1
    return count
