"""Receipts read raw (bot/chain/receipts.py) against web3's formatted receipt of the same
transaction, on anvil: every field the transaction engine records, and the minted tokens."""

from __future__ import annotations

import pytest
from eth_account import Account
from web3 import AsyncWeb3

from bot.chain.contract import Collection
from bot.chain.faults import is_transient
from bot.chain.receipts import block_hash_at, fetch_receipt, minted_token_ids
from bot.chain.wallet import HotWallet
from tests.rpc_proxy import RpcProxy
from tests.support import DEV_ADMIN, FEES


async def test_a_batch_of_fifty_reads_as_web3_formats_it(
    w3: AsyncWeb3, collection: Collection, minter: HotWallet
):
    recipients = [minter.address] + [Account.create().address for _ in range(49)]
    token_ids = [2**200 + 7 * n for n in range(50)]  # big IDs: all of topics[3] matters
    formatted = await collection.mint_batch(minter, recipients, token_ids, FEES)

    receipt = await fetch_receipt(w3, formatted["transactionHash"].to_0x_hex())

    assert receipt is not None
    assert receipt.transaction_hash == formatted["transactionHash"].to_0x_hex()
    assert receipt.block_number == formatted["blockNumber"]
    assert receipt.block_hash == formatted["blockHash"].to_0x_hex()
    assert receipt.succeeded is (formatted["status"] == 1) is True
    assert receipt.gas_used == formatted["gasUsed"]
    assert receipt.effective_gas_price == formatted["effectiveGasPrice"]
    assert receipt.gas_fee_wei == formatted["gasUsed"] * formatted["effectiveGasPrice"]
    assert [(entry.address, entry.topics) for entry in receipt.logs] == [
        (entry["address"].lower(), tuple(t.to_0x_hex() for t in entry["topics"]))
        for entry in formatted["logs"]
    ]
    events = collection.contract.events.Transfer().process_receipt(formatted)
    assert len(events) == 50
    assert minted_token_ids(receipt, collection.address) == set(token_ids)
    assert minted_token_ids(receipt, collection.address) == {e["args"]["id"] for e in events}
    # Only the collection's own Transfer events count.
    assert minted_token_ids(receipt, DEV_ADMIN.address) == set()

    moved = await collection.transact(
        minter, "transferFrom", minter.address, DEV_ADMIN.address, token_ids[0], fees=FEES
    )
    transfer = await fetch_receipt(w3, moved["transactionHash"].to_0x_hex())
    assert transfer is not None and len(transfer.logs) == 1
    assert minted_token_ids(transfer, collection.address) == set()  # moved, not minted


async def test_a_block_hash_reads_as_web3_formats_it(w3: AsyncWeb3):
    head = await w3.eth.block_number
    for number in {0, head}:
        block = await w3.eth.get_block(number)
        assert await block_hash_at(w3, number) == block["hash"].to_0x_hex()
    assert await block_hash_at(w3, head + 1000) is None


async def test_a_transaction_not_mined_has_no_receipt(w3: AsyncWeb3):
    assert await fetch_receipt(w3, "0x" + "ab" * 32) is None


async def test_a_node_that_cannot_answer_is_a_transient_fault(proxy: RpcProxy):
    w3 = AsyncWeb3(AsyncWeb3.AsyncHTTPProvider(proxy.url, exception_retry_configuration=None))
    proxy.mode = "down"
    try:
        with pytest.raises(Exception) as raised:
            await fetch_receipt(w3, "0x" + "ab" * 32)
        assert is_transient(raised.value)
    finally:
        await w3.provider.disconnect()
