"""Transaction receipts read raw: one `eth_getTransactionReceipt` call, parsed from hex into
the few fields the transaction engine uses (an OP-stack chain's `l1Fee` among them), and the
tokens a receipt shows minted; and, as raw, the hash of the block at a height (to tell a
receipt's block is still canonical).

web3's receipt formatters convert every field of every log (checksummed addresses, HexBytes
topics, AttributeDicts); for a batch mint's hundred Transfer logs they cost more CPU than the
rest of confirming the batch, and the engine reads five fields and two topics per log.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from eth_utils.crypto import keccak
from web3 import AsyncWeb3
from web3.types import RPCEndpoint

TRANSFER_TOPIC = "0x" + keccak(text="Transfer(address,address,uint256)").hex()
GET_RECEIPT = RPCEndpoint("eth_getTransactionReceipt")
GET_BLOCK = RPCEndpoint("eth_getBlockByNumber")


@dataclass(frozen=True, slots=True)
class Log:
    """One event log: the emitting contract (lowercase hex) and its topics (lowercase hex)."""

    address: str
    topics: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Receipt:
    """A mined transaction's receipt, as the transaction engine reads it. Hashes are lowercase
    0x-prefixed hex."""

    transaction_hash: str
    block_number: int
    block_hash: str
    succeeded: bool
    gas_used: int
    effective_gas_price: int
    logs: tuple[Log, ...]
    # OP-stack chains: the L1 data fee charged besides gas (`l1Fee`); None where not reported.
    l1_fee: int | None = None

    @property
    def gas_fee_wei(self) -> int:
        """What the gas cost: gas used times the effective price (no L1 data fee)."""
        return self.gas_used * self.effective_gas_price


def parse_receipt(raw: Mapping[str, Any]) -> Receipt:
    """A receipt from the node's JSON (quantities in hex); `KeyError`/`ValueError` if a field
    the engine needs is missing or malformed."""
    return Receipt(
        transaction_hash=str(raw["transactionHash"]).lower(),
        block_number=int(raw["blockNumber"], 16),
        block_hash=str(raw["blockHash"]).lower(),
        succeeded=int(raw["status"], 16) == 1,
        gas_used=int(raw["gasUsed"], 16),
        effective_gas_price=int(raw["effectiveGasPrice"], 16),
        logs=tuple(_log(entry) for entry in raw["logs"]),
        l1_fee=None if raw.get("l1Fee") is None else int(raw["l1Fee"], 16),
    )


def _log(entry: Mapping[str, Any]) -> Log:
    topics: Sequence[str] = entry["topics"]
    return Log(str(entry["address"]).lower(), tuple(t.lower() for t in topics))


async def fetch_receipt(w3: AsyncWeb3[Any], tx_hash: str) -> Receipt | None:
    """The receipt of `tx_hash`, or None while it is not mined (or unknown to the node).

    Transport faults propagate as the provider raises them, and an error answer raises the
    same `Web3RPCError` web3's own receipt call would, so callers classify faults (transient
    or not) as before."""
    params = [tx_hash]
    response = await w3.provider.make_request(GET_RECEIPT, params)
    # Validates the JSON-RPC envelope and raises on an error answer; applies no formatters.
    raw = w3.manager.formatted_response(response, params)
    return None if raw is None else parse_receipt(raw)


async def block_hash_at(w3: AsyncWeb3[Any], number: int) -> str | None:
    """The hash (lowercase hex) of the canonical block at `number`, or None if the node has
    no block there; read raw like receipts (without its transactions, unformatted)."""
    params = [hex(number), False]
    response = await w3.provider.make_request(GET_BLOCK, params)
    block = w3.manager.formatted_response(response, params)
    return None if block is None else str(block["hash"]).lower()


def minted_token_ids(receipt: Receipt, collection: str) -> set[int]:
    """Token IDs that the collection's ERC-721 Transfer events in `receipt` show coming from
    the zero address (topics: signature, from, to, token ID)."""
    contract = collection.lower()
    minted = set()
    for entry in receipt.logs:
        topics = entry.topics
        if (
            len(topics) == 4
            and topics[0] == TRANSFER_TOPIC
            and entry.address == contract
            and int(topics[1], 16) == 0
        ):
            minted.add(int(topics[3], 16))
    return minted
