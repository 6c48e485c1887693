"""Gas per mint: the mintbot collection beside the usual URIStorage baseline, clones and
editions beside the collection, in one anvil run.

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
from bot.chain.editions import Editions
from bot.chain.factory import Factory, deploy_factory
from bot.chain.fees import Fees
from bot.chain.transactions import send_and_confirm
from bot.chain.wallet import HotWallet
from bot.contracts.build import compile_solidity
from bot.env_values import Secret
from bot.hot_wallet_keys import ANVIL_DEV_KEYS

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
# Community contracts, each beside what it replaces: (label, compared with, target).
COMMUNITY_ROWS = {
    "collection_create": ("create a community collection", "full_deploy", None),
    "clone_single_new_holder": ("clone: single mint, new holder", "single_new_holder", 75_000),
    "clone_batch100_new_holders_per_token": (
        "clone: batch of 100, new holders, per token",
        "batch100_new_holders_per_token",
        50_500,
    ),
    "edition_batch100_new_holders_per_claim": (
        "editions: 100 new holders, per claim",
        "batch100_new_holders_per_token",
        28_000,
    ),
    "edition_batch100_custody_per_claim": (
        "editions: 100 into custody, per claim",
        "batch100_one_holder_per_token",
        8_000,
    ),
}
CREATE_RATIO_TARGET = 0.15  # creating a collection, as a share of deploying one in full
# What an ERC-1155 mint to a new holder costs whatever the code around it (EIP-2929/2200 prices):
# a fresh balance slot (cold SLOAD 2,100 + SSTORE from zero 20,000), TransferSingle (LOG4 with
# 64 bytes of data: 375 + 4 * 375 + 64 * 8), and the cold EXTCODESIZE that tells a contract
# recipient (which must be asked to accept) from an account.
EDITION_FIXED_GAS = 22_100 + 2_387 + 2_600
FRESH_WORD_GAS = 22_100  # the first edition of a bitmap word (256 editions) sets it from zero


def calldata_gas(data: bytes) -> int:
    """EIP-2028: 16 gas per non-zero calldata byte, 4 per zero byte."""
    return sum(16 if byte else 4 for byte in data)


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
    params = CollectionParams("Bench", "B", admin, admin, minter.address, admin, 500, "")
    ours = Collection(w3, (await deploy_collection(w3, minter, params, FEES)).address)

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
    results.update(await measure_community(w3, minter, admin))
    return results


async def measure_community(w3: AsyncWeb3, minter: HotWallet, admin: str) -> dict[str, float]:
    """A collection and an editions contract created through the factory, as a community
    gets them: owned by its own address, the operator's admin beside it, the hot wallet minting."""
    factory = Factory(w3, await deploy_factory(w3, minter, FEES))
    params = CollectionParams(
        "Community art",
        "ART",
        new_address(),
        admin,
        minter.address,
        admin,
        500,
        "ipfs://" + "b" * 59,
    )
    # The same collection deployed in full, as the shared one is.
    deployment = await deploy_collection(w3, minter, params, FEES)
    deployed = await w3.eth.get_transaction_receipt(deployment.tx_hash)  # type: ignore[arg-type]

    async def send(to: str, data: bytes) -> int:
        tx = {"to": to, "data": "0x" + data.hex()}
        return int((await send_and_confirm(w3, minter, tx, FEES))["gasUsed"])

    salt = os.urandom(32)
    results: dict[str, float] = {"full_deploy": int(deployed["gasUsed"])}
    address = await factory.predict_collection(minter.address, salt)
    results["collection_create"] = await send(
        factory.address, factory.encode_create_collection(salt, params)
    )
    clone = Collection(w3, address)
    results["clone_single_new_holder"] = int(
        (await clone.mint(minter, new_address(), new_id(), FEES))["gasUsed"]
    )
    recipients = [new_address() for _ in range(100)]
    receipt = await clone.mint_batch(minter, recipients, [new_id() for _ in recipients], FEES)
    results["clone_batch100_new_holders_per_token"] = int(receipt["gasUsed"]) / 100

    address = await factory.predict_editions(minter.address, salt)
    await send(factory.address, factory.encode_create_editions(salt, params))
    editions = Editions(w3, address)
    numbers = list(range(1, 101))
    holders = [new_address() for _ in numbers]
    data = editions.encode_mint_editions(new_id(), holders, numbers)
    results["edition_batch100_new_holders_per_claim"] = await send(editions.address, data) / 100
    # The floor of that figure: the fixed costs of each claim, its share of the transaction's
    # base fee, calldata and fresh bitmap word; nothing for the loop, the proxy or the checks.
    floor = EDITION_FIXED_GAS + (21_000 + calldata_gas(data) + FRESH_WORD_GAS) / 100
    results["edition_floor_per_claim"] = floor
    data = editions.encode_mint_editions(new_id(), [new_address()] * 100, numbers)
    results["edition_batch100_custody_per_claim"] = await send(editions.address, data) / 100
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
    rows.append("")
    rows.append(f"{'figure':<44} {'gas':>9} {'beside':>9} {'ratio':>6} {'target':>8}  ok")
    for key, (label, beside, target) in COMMUNITY_ROWS.items():
        ours, other = results[key], results[beside]
        if target is None:  # a ratio target
            ok = "yes" if ours / other <= CREATE_RATIO_TARGET else "NO"
            goal = f"{CREATE_RATIO_TARGET:.2f}x"
        else:
            ok = "yes" if ours <= target else "NO"
            goal = f"{target:,}"
        rows.append(
            f"{label:<44} {ours:>9,.0f} {other:>9,.0f} {ours / other:>6.2f} {goal:>8}  {ok}"
        )
    rows.append(
        f"{'  floor per claim (see EDITION_FIXED_GAS)':<44} "
        f"{results['edition_floor_per_claim']:>9,.0f}"
    )
    rows.append(
        "beside: the shared collection deployed in full (create), or minting directly into it "
        "(clone rows; edition rows beside today's numbered drop, one ERC-721 token per claim)"
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
