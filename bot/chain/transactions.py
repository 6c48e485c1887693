"""Send one transaction from the hot wallet and wait for its receipt.

This is the simple path for one-off operator work (deploying, granting roles). Mints go through
the persistent transaction engine of the mint pipeline instead.
"""

from __future__ import annotations

from typing import Any

from hexbytes import HexBytes
from web3 import AsyncWeb3
from web3.types import TxReceipt

from bot.chain.fees import Fees
from bot.chain.wallet import HotWallet
from bot.errors import TransactionReverted

GAS_HEADROOM = 1.2  # estimates are exact for the state they ran on; leave room for drift


async def send_and_confirm(
    w3: AsyncWeb3[Any], wallet: HotWallet, tx: dict[str, Any], fees: Fees, timeout: float = 120
) -> TxReceipt:
    """Fill in nonce, gas and fees, sign, send, and wait for the receipt.

    Raises `TransactionReverted` if the transaction was mined but failed.
    """
    tx = {
        **tx,
        "from": wallet.address,
        "chainId": await w3.eth.chain_id,
        "nonce": await w3.eth.get_transaction_count(wallet.address, "pending"),  # type: ignore[arg-type]
        "type": 2,
        **fees.as_tx_fields(),
    }
    if "gas" not in tx:
        tx["gas"] = int(await w3.eth.estimate_gas(tx) * GAS_HEADROOM)  # type: ignore[arg-type]
    tx.pop("gasPrice", None)
    signed = wallet.sign_transaction(tx)
    tx_hash = await w3.eth.send_raw_transaction(signed.raw_transaction)
    receipt = await w3.eth.wait_for_transaction_receipt(tx_hash, timeout=timeout, poll_latency=0.1)
    if receipt["status"] != 1:
        raise TransactionReverted(f"transaction {HexBytes(tx_hash).to_0x_hex()} reverted")
    return receipt
