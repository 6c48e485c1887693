"""The L1 data fee of OP-stack chains (Base, Optimism, ...).

Such a chain charges every transaction, besides gas, for posting its bytes to L1: the receipt
reports it as `l1Fee`, and before sending, the `GasPriceOracle` predeploy estimates it with
`getL1Fee(bytes)`. The spending cap counts the estimate while a transaction is unmined and the
receipt's figure once it is mined, so the cap and the audit see what the wallet really pays.

`L1_FEE=auto` (the default) charges the fee where the oracle predeploy has code; `on` requires
it there, `off` never counts an estimate (a receipt's `l1Fee` is counted all the same: it is
what was paid).
"""

from __future__ import annotations

import logging
from typing import Any

from eth_abi.abi import decode, encode
from eth_utils.crypto import keccak
from web3 import AsyncWeb3

from bot.errors import ConfigError

log = logging.getLogger(__name__)

GAS_PRICE_ORACLE = "0x420000000000000000000000000000000000000F"
GET_L1_FEE = keccak(text="getL1Fee(bytes)")[:4]


class L1DataFee:
    """The L1 data fee of one OP-stack chain, as its `GasPriceOracle` estimates it."""

    def __init__(self, w3: AsyncWeb3[Any], oracle: str = GAS_PRICE_ORACLE) -> None:
        self.w3 = w3
        self.oracle = oracle

    async def estimate(self, raw_tx: bytes) -> int:
        """The oracle's L1 fee for the signed transaction `raw_tx`, in wei.

        The oracle is meant for the unsigned encoding and adds the size of a signature itself;
        the signed bytes overstate the fee by a signature's worth, on the safe side of a cap.
        Transport faults propagate for the caller's retry loop."""
        data = GET_L1_FEE + encode(["bytes"], [raw_tx])
        answer = await self.w3.eth.call({"to": self.oracle, "data": data}, "latest")  # type: ignore[typeddict-item]
        (fee,) = decode(["uint256"], bytes(answer))
        return int(fee)


async def detect_l1_fee(w3: AsyncWeb3[Any], mode: str) -> L1DataFee | None:
    """The chain's L1 data fee under `L1_FEE` (`auto`, `on` or `off`), or None where the chain
    charges none. Asked once, at start: a chain does not change kind while the bot runs."""
    if mode == "off":
        return None
    has_oracle = len(await w3.eth.get_code(GAS_PRICE_ORACLE)) > 0  # type: ignore[arg-type]
    if not has_oracle:
        if mode == "on":
            raise ConfigError(
                "L1_FEE", f"on, but this chain has no GasPriceOracle at {GAS_PRICE_ORACLE}"
            )
        return None
    log.info("this chain charges an L1 data fee: the spending cap counts it (L1_FEE=%s)", mode)
    return L1DataFee(w3)


def l1_fee_paid(receipt_l1_fee: int | None, estimate: int | None, charged: bool) -> int:
    """The L1 fee a mined transaction cost: the receipt's `l1Fee` where it has one; on a chain
    that charges the fee but whose receipts do not say (some nodes, anvil), the estimate made
    when it was signed, so the cost is never counted short; otherwise none."""
    if receipt_l1_fee is not None:
        return receipt_l1_fee
    return (estimate or 0) if charged else 0
