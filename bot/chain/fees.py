"""EIP-1559 fees under the operator's cap."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from web3 import AsyncWeb3

from bot.errors import FeeCapExceeded


@dataclass(frozen=True)
class Fees:
    max_fee_per_gas: int
    max_priority_fee_per_gas: int

    def as_tx_fields(self) -> dict[str, int]:
        return {
            "maxFeePerGas": self.max_fee_per_gas,
            "maxPriorityFeePerGas": self.max_priority_fee_per_gas,
        }


def fees_for_base_fee(base_fee: int, priority_fee: int, cap: int) -> Fees:
    """Offer twice the base fee plus the tip, which survives six full blocks of base-fee rise,
    but never more than `cap`. If the base fee alone is above the cap, nothing can be sent."""
    if base_fee + priority_fee > cap:
        raise FeeCapExceeded(base_fee=base_fee, cap=cap)
    return Fees(
        max_fee_per_gas=min(2 * base_fee + priority_fee, cap),
        max_priority_fee_per_gas=priority_fee,
    )


async def current_fees(w3: AsyncWeb3[Any], priority_fee: int, cap: int) -> Fees:
    block = await w3.eth.get_block("pending")
    return fees_for_base_fee(int(block.get("baseFeePerGas") or 0), priority_fee, cap)
