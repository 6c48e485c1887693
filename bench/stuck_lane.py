"""One hot wallet's nonce lane held for as long as a run lasts by a transaction sent outside the
bot, on anvil with interval mining.

    python bench/stuck_lane.py [--json] [--seconds S] [--cap-gwei G]

A self-check of the mechanism the scale benchmark (bench/scale.py) uses: it starts anvil with
2-second blocks, holds one key's lane, then shows that the bot could not free it (a replacement
at the bot's fee cap is refused), that another key's transactions still mine, and that the
outside transaction is still pending after S seconds of blocks. Exits 1 if any of that fails.

How the lane is held, and why this way on anvil:
- The outside transaction takes the key's next nonce with both fee fields at the bot's cap
  (MAX_FEE_PER_GAS_GWEI). A node replaces a pending transaction only for more: geth wants +10 %
  on both fields, anvil a higher max fee. The bot never offers more than its cap, so every
  replacement it signs is refused ("replacement transaction underpriced").
- The chain must not mine it, yet mine the other key's transactions at the same fees. A max fee
  below the base fee does not do on anvil: its pool accepts no such transaction, and drops one
  that falls below the base fee when it builds a block. Anvil keeps a transaction whose gas limit
  exceeds the block gas limit pending and skips it block after block, so the outside transaction
  asks for `OUTSIDE_GAS` while blocks allow `BLOCK_GAS_LIMIT`, a little less. Its gas is accepted
  by the pool only while the block gas limit is at least as high, so mining pauses for the moment
  it is sent with the limit raised.
- `BLOCK_GAS_LIMIT` is far above anvil's 30M default so that block space limits neither the
  clean run nor the stuck one: both runs set it (`roomy_blocks`), and only the held lane differs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from web3 import AsyncWeb3
from web3.types import RPCEndpoint

from bot.chain.wallet import HotWallet
from bot.env_values import Secret

GWEI = 10**9
OUTSIDE_GAS = 200_000_000
BLOCK_GAS_LIMIT = OUTSIDE_GAS - 1_000_000
UNDERPRICED = "underpriced"  # what a node says when it refuses a replacement


@dataclass(frozen=True)
class OutsideTx:
    """The transaction that holds a lane: the lane's wallet, the nonce it holds, its hash."""

    wallet: str
    nonce: int
    tx_hash: str
    fee_wei: int


async def rpc(w3: AsyncWeb3[Any], method: str, *params: Any) -> Any:
    """Call a JSON-RPC method (anvil's own included); raise with the node's error if any."""
    answer = await w3.provider.make_request(RPCEndpoint(method), list(params))
    if answer.get("error"):
        raise RuntimeError(f"{method}: {answer['error']}")
    return answer.get("result")


async def send_raw(w3: AsyncWeb3[Any], raw: bytes) -> tuple[str | None, str | None]:
    """Send signed bytes; (hash, None) if the node took them, (None, its error) if not."""
    answer = await w3.provider.make_request(
        RPCEndpoint("eth_sendRawTransaction"), ["0x" + raw.hex()]
    )
    if answer.get("error"):
        return None, str(answer["error"].get("message", answer["error"]))
    return str(answer["result"]), None


async def roomy_blocks(w3: AsyncWeb3[Any]) -> None:
    """Blocks of `BLOCK_GAS_LIMIT` gas: room for every batch, for clean and stuck runs alike."""
    await rpc(w3, "evm_setBlockGasLimit", hex(BLOCK_GAS_LIMIT))


def _transfer(wallet: HotWallet, nonce: int, fee: int, tip: int, gas: int, chain_id: int) -> bytes:
    tx = {
        "type": 2,
        "chainId": chain_id,
        "nonce": nonce,
        "to": wallet.address,
        "value": 0,
        "gas": gas,
        "maxFeePerGas": fee,
        "maxPriorityFeePerGas": tip,
    }
    return bytes(wallet.sign_transaction(tx).raw_transaction)


async def hold_lane(
    w3: AsyncWeb3[Any], key: str, cap_wei: int, block_time: float, chain_id: int = 31337
) -> OutsideTx:
    """Send from `key`, outside the bot, a transaction at its next nonce that pays the bot's
    cap and that blocks of `BLOCK_GAS_LIMIT` never include. Interval mining pauses while the
    block gas limit is raised to let the pool take it, and resumes at `block_time`."""
    wallet = HotWallet(Secret(key))
    nonce = await w3.eth.get_transaction_count(wallet.address, "pending")  # type: ignore[arg-type]
    raw = _transfer(wallet, nonce, cap_wei, cap_wei, OUTSIDE_GAS, chain_id)
    await rpc(w3, "anvil_setIntervalMining", 0)
    try:
        await rpc(w3, "evm_setBlockGasLimit", hex(OUTSIDE_GAS))
        tx_hash, error = await send_raw(w3, raw)
    finally:
        await rpc(w3, "evm_setBlockGasLimit", hex(BLOCK_GAS_LIMIT))
        await rpc(w3, "anvil_setIntervalMining", max(1, round(block_time)))
    if tx_hash is None:
        raise RuntimeError(f"the outside transaction was refused: {error}")
    return OutsideTx(wallet.address, nonce, tx_hash, cap_wei)


async def still_held(w3: AsyncWeb3[Any], held: OutsideTx) -> bool:
    """Whether `held` is still pending and its wallet has mined nothing at or past its nonce."""
    tx = await rpc(w3, "eth_getTransactionByHash", held.tx_hash)
    mined = await w3.eth.get_transaction_count(held.wallet, "latest")  # type: ignore[arg-type]
    return tx is not None and tx.get("blockNumber") is None and mined == held.nonce


async def replacement_at_cap(
    w3: AsyncWeb3[Any], key: str, held: OutsideTx, cap_wei: int, chain_id: int = 31337
) -> str | None:
    """What the node says to the best replacement the bot could sign (both fee fields at its
    cap, the gas of a batch of 100): its error, or None if it took it (the lane is free)."""
    wallet = HotWallet(Secret(key))
    raw = _transfer(wallet, held.nonce, cap_wei, cap_wei, 6_260_000, chain_id)
    tx_hash, error = await send_raw(w3, raw)
    return None if tx_hash else error


async def self_check(seconds: float, cap_gwei: float) -> dict[str, Any]:
    from bot.chain import client
    from bot.chain.devchain import Anvil
    from bot.hot_wallet_keys import ANVIL_DEV_KEYS

    cap = int(cap_gwei * GWEI)
    stuck_key, free_key = ANVIL_DEV_KEYS[3], ANVIL_DEV_KEYS[2]
    free = HotWallet(Secret(free_key))
    with Anvil(block_time=2) as node:
        w3 = await client.connect(node.url, 31337)
        try:
            await roomy_blocks(w3)
            held = await hold_lane(w3, stuck_key, cap, 2)
            refused = await replacement_at_cap(w3, stuck_key, held, cap)
            # what the bot reads to tell an outside transaction holds the lane
            pending = await w3.eth.get_transaction_count(held.wallet, "pending")  # type: ignore[arg-type]
            start_block = await w3.eth.block_number
            start, checks = time.monotonic(), []
            sent = 0
            while time.monotonic() - start < seconds:
                # the other lane sends at the same fees and must keep mining
                raw = _transfer(free, sent, cap, GWEI // 100, 21_000, 31337)
                if (await send_raw(w3, raw))[0]:
                    sent += 1
                await asyncio.sleep(min(10.0, seconds / 6))
                checks.append(
                    {
                        "after_s": round(time.monotonic() - start, 1),
                        "block": await w3.eth.block_number,
                        "held": await still_held(w3, held),
                        "other_lane_mined": await w3.eth.get_transaction_count(
                            free.address,  # type: ignore[arg-type]
                            "latest",
                        ),
                    }
                )
            await asyncio.sleep(2.5)  # the other lane's last one is mined
            other_mined = await w3.eth.get_transaction_count(free.address, "latest")  # type: ignore[arg-type]
            blocks = await w3.eth.block_number - start_block
            held_at_end = await still_held(w3, held)
        finally:
            await client.close(w3)
    ok = (
        refused is not None
        and UNDERPRICED in refused
        and held_at_end
        and all(c["held"] for c in checks)
        and other_mined == sent > 0
        and pending == held.nonce + 1
    )
    return {
        "outside_tx": asdict(held),
        "replacement_at_cap": refused or "accepted",
        "pending_nonce": pending,
        "seconds": round(seconds),
        "blocks": blocks,
        "held_throughout": all(c["held"] for c in checks) and held_at_end,
        "other_lane_sent": sent,
        "other_lane_mined": other_mined,
        "checks": checks,
        "ok": ok,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--seconds", type=float, default=180.0, help="how long to watch")
    parser.add_argument("--cap-gwei", type=float, default=50.0, help="the bot's fee cap")
    args = parser.parse_args()
    result = asyncio.run(self_check(args.seconds, args.cap_gwei))
    if args.json:
        print(json.dumps(result))
    else:
        held = result["outside_tx"]
        print(f"outside tx {held['tx_hash']} holds nonce {held['nonce']} of {held['wallet']}")
        print(f"replacement at the cap ({args.cap_gwei:g} gwei): {result['replacement_at_cap']}")
        print(f"the wallet's pending nonce: {result['pending_nonce']}")
        for check in result["checks"]:
            print(
                f"  after {check['after_s']:>6} s, block {check['block']:>4}: "
                f"held {check['held']}, other lane mined {check['other_lane_mined']}"
            )
        print(
            f"{result['blocks']} blocks in {result['seconds']} s; held throughout: "
            f"{result['held_throughout']}; other lane mined {result['other_lane_mined']} of "
            f"{result['other_lane_sent']}; {'OK' if result['ok'] else 'FAILED'}"
        )
    sys.exit(0 if result["ok"] else 1)


if __name__ == "__main__":
    main()
