"""Gas per mint: the mintbot collection beside the usual URIStorage baseline, in one anvil run.

    python bench/gas.py [--json]

Figures come from receipts (gasUsed, which includes the 21,000 base and calldata).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import os
import sys
from pathlib import Path

from eth_account import Account
from web3 import AsyncWeb3

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.chain import client
from bot.chain.contract import Collection, CollectionParams, deploy_collection
from bot.chain.devchain import Anvil
from bot.chain.fees import Fees
from bot.chain.transactions import send_and_confirm
from bot.chain.wallet import HotWallet
from bot.config import ANVIL_DEV_KEYS
from bot.contracts.build import compile_solidity
from bot.env_values import Secret

BASELINE_SOURCE = Path(__file__).resolve().parent / "contracts" / "BaselineURIStorage.sol"
FEES = Fees(max_fee_per_gas=50 * 10**9, max_priority_fee_per_gas=10**9)
TARGETS = {
    "single_new_holder": 72_000,
    "single_existing_holder": 56_000,
    "batch100_one_holder_per_token": 26_000,
    "batch100_new_holders_per_token": 49_000,
}
LABELS = {
    "single_new_holder": "single mint, new holder",
    "single_existing_holder": "single mint, existing holder",
    "batch100_one_holder_per_token": "batch of 100, one holder, per token",
    "batch100_new_holders_per_token": "batch of 100, new holders, per token",
}


def new_id() -> int:
    """A token ID as the bot makes them: a sha2-256 digest (full-width, mostly non-zero bytes)."""
    return int.from_bytes(hashlib.sha256(os.urandom(32)).digest(), "big")


def new_address() -> str:
    return str(Account.create().address)


def stored_cid(token_id: int) -> str:
    """What the baseline stores per token: the 59-character CID whose digest is the ID, so its
    tokenURI ("ipfs://" + CID) equals the one our contract derives without storing anything."""
    raw = bytes([0x01, 0x55, 0x12, 0x20]) + token_id.to_bytes(32, "big")
    return "b" + base64.b32encode(raw).decode().lower().rstrip("=")


async def measure(w3: AsyncWeb3) -> dict[str, float]:
    minter = HotWallet(Secret(ANVIL_DEV_KEYS[0]))
    admin = str(Account.from_key(ANVIL_DEV_KEYS[1]).address)
    ours = Collection(
        w3,
        (
            await deploy_collection(
                w3,
                minter,
                CollectionParams("Bench", "B", admin, admin, minter.address, admin, 500, ""),
                FEES,
            )
        ).address,
    )

    baseline_artifact = compile_solidity({BASELINE_SOURCE.name: BASELINE_SOURCE})[
        "BaselineURIStorage"
    ]
    factory = w3.eth.contract(abi=baseline_artifact.abi, bytecode=baseline_artifact.bytecode)
    tx = await factory.constructor(admin, minter.address).build_transaction(
        {"from": minter.address}
    )
    receipt = await send_and_confirm(w3, minter, {k: v for k, v in tx.items() if k != "gas"}, FEES)
    baseline = w3.eth.contract(address=receipt["contractAddress"], abi=baseline_artifact.abi)

    async def baseline_mint(to: str) -> int:
        tid = new_id()
        tx = await baseline.functions.mint(to, tid, stored_cid(tid)).build_transaction(
            {"from": minter.address}
        )
        receipt = await send_and_confirm(
            w3, minter, {k: v for k, v in tx.items() if k != "gas"}, FEES
        )
        return int(receipt["gasUsed"])

    async def our_mint(to: str) -> int:
        return int((await ours.mint(minter, to, new_id(), FEES))["gasUsed"])

    async def our_batch(recipients: list[str]) -> float:
        receipt = await ours.mint_batch(minter, recipients, [new_id() for _ in recipients], FEES)
        return int(receipt["gasUsed"]) / len(recipients)

    results: dict[str, float] = {}
    holder = new_address()
    results["single_new_holder"] = await our_mint(holder)
    results["single_existing_holder"] = await our_mint(holder)
    results["batch100_one_holder_per_token"] = await our_batch([new_address()] * 100)
    results["batch100_new_holders_per_token"] = await our_batch([new_address() for _ in range(100)])

    base_holder = new_address()
    results["baseline_single_new_holder"] = await baseline_mint(base_holder)
    results["baseline_single_existing_holder"] = await baseline_mint(base_holder)
    # The baseline has no batch: 100 tokens cost 100 single mints.
    one = new_address()
    results["baseline_batch100_one_holder_per_token"] = (
        sum([await baseline_mint(one) for _ in range(100)]) / 100
    )
    results["baseline_batch100_new_holders_per_token"] = (
        sum([await baseline_mint(new_address()) for _ in range(100)]) / 100
    )
    return results


def table(results: dict[str, float]) -> str:
    rows = [f"{'figure':<40} {'mintbot':>9} {'baseline':>9} {'ratio':>6} {'target':>8}  ok"]
    for key, label in LABELS.items():
        ours, base = results[key], results[f"baseline_{key}"]
        ok = "yes" if ours <= TARGETS[key] else "NO"
        rows.append(
            f"{label:<40} {ours:>9,.0f} {base:>9,.0f} {ours / base:>6.2f} {TARGETS[key]:>8,}  {ok}"
        )
    rows.append(
        "baseline: OpenZeppelin ERC721URIStorage + AccessControl storing a 59-character "
        "CID per token (tokenURI ipfs://<cid>); it has no batch mint, so its batch rows "
        "are 100 single mints"
    )
    return "\n".join(rows)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    with Anvil() as anvil:
        w3 = await client.connect(anvil.url, 31337)
        try:
            results = await measure(w3)
        finally:
            await client.close(w3)
    print(json.dumps(results) if args.json else table(results))


if __name__ == "__main__":
    asyncio.run(main())
