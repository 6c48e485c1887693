"""Mint throughput: mintbot's pipeline beside a naive one-at-a-time bot, in one run.

    python bench/throughput.py [--json] [--requests N] [--baseline-requests-2s N]

Scenarios, each in its own subprocess (so peak RSS is its own) on its own anvil:
- A: mintbot, N requests from 100 users with small distinct PNGs, submitted at once through
  MintService; timed from the first submit until every request is confirmed and answered.
  Its peak RSS is the bot process's plus its content worker's.
- B: the usual bot: per request, store image and metadata, then `mint(to, id, uri)` on an
  OpenZeppelin URIStorage contract and wait for the receipt, one after another.
Both with automine and with 2-second blocks (B uses fewer requests at 2 s: it mints one per block).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.burst import (
    ADMIN,
    GWEI,
    USERS,
    bench_runtime,
    burst,
    peak_rss_mb,
    small_png,
    submission,
    workers_peak_rss_mb,
)

BASELINE_SOURCE = Path(__file__).resolve().parent / "contracts" / "BaselineURIStorage.sol"


def summary(
    requests: int, elapsed: float, latencies: list[float], gas: int, extra_rss_mb: float = 0
) -> dict[str, Any]:
    ordered = sorted(latencies)
    return {
        "requests": requests,
        "mints_per_s": requests / elapsed,
        "p50_s": statistics.median(ordered),
        "p99_s": ordered[max(0, int(len(ordered) * 0.99) - 1)],
        "gas_per_mint": gas / requests,
        "peak_rss_mb": peak_rss_mb() + extra_rss_mb,
        "elapsed_s": elapsed,
    }


async def mintbot(requests: int, block_time: float) -> dict[str, Any]:
    from sqlalchemy import select

    from db.models import ChainTx

    submissions = [submission(i, small_png(i), f"Bench #{i}") for i in range(requests)]
    async with bench_runtime(block_time) as runtime:
        outcome = await burst(runtime, submissions, give_up_after=600)
        elapsed = max(outcome.answered.values()) - outcome.start
        async with runtime.sessions() as session:
            txs = list(await session.scalars(select(ChainTx)))
        gas = sum(int(tx.gas_used or 0) for tx in txs)
        workers_rss = workers_peak_rss_mb()
    latencies = outcome.latencies(list(outcome.submitted))
    return summary(requests, elapsed, latencies, gas, workers_rss)


async def baseline(requests: int, block_time: float) -> dict[str, Any]:
    from bot.chain import client
    from bot.chain.devchain import Anvil
    from bot.chain.fees import Fees
    from bot.chain.transactions import send_and_confirm
    from bot.chain.wallet import HotWallet
    from bot.content.cid import cid_digest
    from bot.content.metadata import build_metadata
    from bot.content.store import ContentStore
    from bot.contracts.build import compile_solidity
    from bot.env_values import Secret
    from bot.hot_wallet_keys import ANVIL_DEV_KEYS

    fees = Fees(max_fee_per_gas=50 * GWEI, max_priority_fee_per_gas=GWEI)
    images = [small_png(10_000 + i) for i in range(requests)]
    compiled = compile_solidity({BASELINE_SOURCE.name: BASELINE_SOURCE})["BaselineURIStorage"]
    with Anvil(block_time=block_time) as node, tempfile.TemporaryDirectory() as tmp:
        w3 = await client.connect(node.url, 31337)
        minter = HotWallet(Secret(ANVIL_DEV_KEYS[0]))
        factory = w3.eth.contract(abi=compiled.abi, bytecode=compiled.bytecode)
        tx = await factory.constructor(ADMIN, minter.address).build_transaction(
            {"from": minter.address}
        )
        receipt = await send_and_confirm(
            w3, minter, {k: v for k, v in tx.items() if k != "gas"}, fees, timeout=600
        )
        contract = w3.eth.contract(address=receipt["contractAddress"], abi=compiled.abi)
        store = ContentStore(Path(tmp) / "ipfs")
        latencies: list[float] = []
        gas = 0
        start = time.monotonic()
        for i in range(requests):
            began = time.monotonic()
            image_cid = store.put_file(images[i])
            metadata = build_metadata(
                name=f"Baseline #{i}",
                description="",
                image_cid=image_cid,
                creator={"platform": "bench", "user_id": f"u{i % USERS}"},
                source={"platform": "bench", "chat_id": "c", "message_id": str(i)},
            )
            metadata_cid = store.put_file(metadata)
            token_id = int.from_bytes(cid_digest(metadata_cid), "big")
            call = await contract.functions.mint(ADMIN, token_id, metadata_cid).build_transaction(
                {"from": minter.address}
            )
            receipt = await send_and_confirm(
                w3, minter, {k: v for k, v in call.items() if k != "gas"}, fees, timeout=600
            )
            gas += int(receipt["gasUsed"])
            latencies.append(time.monotonic() - began)
        elapsed = time.monotonic() - start
        await client.close(w3)
        return summary(requests, elapsed, latencies, gas)


SCENARIOS = {
    "a-automine": lambda n, n2: mintbot(n, 0),
    "b-automine": lambda n, n2: baseline(n, 0),
    "a-2s": lambda n, n2: mintbot(n, 2),
    "b-2s": lambda n, n2: baseline(n2, 2),
}


def run_scenario(name: str, requests: int, baseline_2s: int) -> dict[str, Any]:
    proc = subprocess.run(
        [
            sys.executable,
            __file__,
            "--scenario",
            name,
            "--requests",
            str(requests),
            "--baseline-requests-2s",
            str(baseline_2s),
        ],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "LOG_LEVEL": "WARNING"},
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def report(results: dict[str, dict[str, Any]]) -> dict[str, Any]:
    a, b, a2, b2 = (results[k] for k in ("a-automine", "b-automine", "a-2s", "b-2s"))
    return {
        "automine_mints_per_s": a["mints_per_s"],
        "automine_baseline_mints_per_s": b["mints_per_s"],
        "block2s_mints_per_s": a2["mints_per_s"],
        "block2s_baseline_mints_per_s": b2["mints_per_s"],
        "p99_submit_to_confirmed_s": a["p99_s"],
        "block2s_p99_submit_to_confirmed_s": a2["p99_s"],
        "peak_rss_mb": max(a["peak_rss_mb"], a2["peak_rss_mb"]),
        "automine_ratio": a["mints_per_s"] / b["mints_per_s"],
        "block2s_ratio": a2["mints_per_s"] / b2["mints_per_s"],
        "gas_per_mint": a["gas_per_mint"],
        "baseline_gas_per_mint": b["gas_per_mint"],
    }


def table(results: dict[str, dict[str, Any]], figures: dict[str, Any]) -> str:
    rows = [
        f"{'scenario':<28} {'requests':>8} {'mints/s':>9} {'p50 s':>7} {'p99 s':>7} "
        f"{'gas/mint':>9} {'peak RSS MB':>11}"
    ]
    labels = {
        "a-automine": "mintbot, automine",
        "b-automine": "baseline, automine",
        "a-2s": "mintbot, 2 s blocks",
        "b-2s": "baseline, 2 s blocks",
    }
    for key, label in labels.items():
        r = results[key]
        rows.append(
            f"{label:<28} {r['requests']:>8} {r['mints_per_s']:>9.2f} {r['p50_s']:>7.2f} "
            f"{r['p99_s']:>7.2f} {r['gas_per_mint']:>9,.0f} {r['peak_rss_mb']:>11.0f}"
        )
    rows.append("")
    rows.append(f"automine: {figures['automine_ratio']:.1f}x the baseline (target ≥ 15x)")
    rows.append(f"2 s blocks: {figures['block2s_ratio']:.1f}x the baseline (target ≥ 200x)")
    rows.append(f"mintbot peak RSS: {figures['peak_rss_mb']:.0f} MB (target ≤ 300 MB)")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--baseline-requests-2s", type=int, default=100)
    parser.add_argument("--scenario", choices=SCENARIOS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.scenario:
        result = asyncio.run(SCENARIOS[args.scenario](args.requests, args.baseline_requests_2s))
        print(json.dumps(result))
        return
    results = {
        name: run_scenario(name, args.requests, args.baseline_requests_2s) for name in SCENARIOS
    }
    figures = report(results)
    print(json.dumps({**figures, "scenarios": results}) if args.json else table(results, figures))


if __name__ == "__main__":
    main()
