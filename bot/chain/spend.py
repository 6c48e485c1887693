"""What the hot wallet spends on fees: today's total against MAX_SPEND_PER_DAY_ETH, and the
cost recorded when a transaction is mined.

A transaction's cost is its gas (gas used times the effective price) plus, on an OP-stack
chain, its L1 data fee. While it is unmined, the cap counts its worst case: the gas limit at
the newest attempt's max fee, plus that attempt's L1 fee estimate.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.chain.l1fee import l1_fee_paid
from bot.chain.receipts import Receipt
from bot.i18n import N_
from bot.i18n.said import Said
from db.models import ChainTx, TxStatus


class SpendCapReached(Exception):
    """Signing would take today's committed fees past MAX_SPEND_PER_DAY_ETH; nothing is signed."""

    said = Said(
        N_(
            "today's spending cap (MAX_SPEND_PER_DAY_ETH) is reached; it resumes tomorrow "
            "(UTC) or when an admin raises it"
        )
    )

    def __str__(self) -> str:
        return str(self.said)


def worst_case(tx: ChainTx) -> int:
    """The most an unmined transaction can cost: the newest attempt's gas at its max fee and
    its L1 data fee estimate."""
    last = tx.attempts[-1]
    return tx.gas_limit * last.max_fee_per_gas + int(last.l1_fee_wei or 0)


async def spent_today(session: AsyncSession, chain_id: int, wallet: str) -> int:
    """Fees committed since 00:00 UTC by `wallet` on `chain_id`: paid where mined, the worst
    case where not (a dropped transaction cost nothing)."""
    midnight = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    total = 0
    rows = await session.scalars(
        select(ChainTx).where(
            ChainTx.wallet == wallet,
            ChainTx.chain_id == chain_id,
            ChainTx.created_at >= midnight,
        )
    )
    for tx in rows:
        if tx.fee_paid_wei is not None:
            total += int(tx.fee_paid_wei)
        elif tx.attempts and tx.status != TxStatus.DROPPED:
            total += worst_case(tx)
    return total


def record_cost(tx: ChainTx, receipt: Receipt, *, l1_charged: bool) -> None:
    """Record on `tx` what mining it cost, from its receipt: gas used, and the fee paid, the L1
    data fee included (see `l1_fee_paid`)."""
    estimate = next(
        (a.l1_fee_wei for a in tx.attempts if a.tx_hash.lower() == receipt.transaction_hash),
        None,
    )
    l1_fee = l1_fee_paid(receipt.l1_fee, None if estimate is None else int(estimate), l1_charged)
    tx.gas_used = receipt.gas_used
    tx.fee_paid_wei = str(receipt.gas_fee_wei + l1_fee)
    tx.l1_fee_wei = str(l1_fee) if l1_charged or receipt.l1_fee is not None else None
