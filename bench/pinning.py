"""Minting with content published on IPFS, beside minting with content kept locally, in one run.

    python bench/pinning.py [--json] [--requests N]

Two scenarios, each on a fresh anvil with automine, the bot's runtime in this process:
- unpinned: N requests from 100 members (small distinct PNGs) submitted at once, content kept in
  the bot's store only (no PINNING);
- pinned: the same, with PINNING=kubo on a real IPFS node (tests/ipfs/kubo_rpc.mjs: kubo's RPC
  API on Helia, started here on loopback): every request's image and metadata are pinned there
  and read back before its mint is signed.
Each is timed from the first submit until every request is answered. Afterwards every CID of the
pinned run is read back from the node's gateway, block by block, and checked against itself.
The node's floor: a fresh node given the pinned run's CARs (one per group, as the publisher
makes them), imported, pinned and read back as the publisher does, with nothing else running:
the most mints a second this node allows on this machine (`node_floor_mints_per_s`). And the
CPU each run needed in all (this process, its content workers, anvil, the node): no run on
`cpus` cores mints faster than mints / (CPU-seconds / cpus) (`pinned_cpu_bound_mints_per_s`).

Keys: `unpinned_mints_per_s`, `pinned_mints_per_s`, `pinned_verified` (CIDs read back and
checked), `total` (CIDs the pinned run minted: an image and a metadata document per request),
`mints` (requests per run). Targets: `pinned_verified == total`, and
`pinned_mints_per_s >= 0.7 * unpinned_mints_per_s`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.burst import bench_runtime, burst, small_png, submission  # noqa: E402

RATIO_TARGET = 0.7


def process_cpu_seconds(pid: int) -> float:
    """CPU time of a running process, all its threads (from /proc; Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(pid: int | None = None) -> float:
    """CPU time of a process and every live descendant (here: the bot's runtime in this
    process, its content workers, anvil and the IPFS node)."""
    pid = pid or os.getpid()
    total = 0.0
    try:
        total += process_cpu_seconds(pid)
        for task in Path(f"/proc/{pid}/task").iterdir():
            for child in (task / "children").read_text().split():
                total += tree_cpu_seconds(int(child))
    except (FileNotFoundError, ProcessLookupError):
        pass  # it ended meanwhile
    return total


async def scenario(requests: int, first: int, **settings: str) -> dict[str, Any]:
    """Mint `requests` distinct images (seeds from `first`) with these settings; with the CARs
    the publisher makes of them (a group's worth each), for the floor."""
    from bot.minting.publish import PUBLISH_GROUP, car_of

    submissions = [submission(i, small_png(first + i), f"Pin #{i}") for i in range(requests)]
    async with bench_runtime(0, **settings) as runtime:
        cpu_before = tree_cpu_seconds()
        outcome = await burst(runtime, submissions, give_up_after=300)
        cpu = tree_cpu_seconds() - cpu_before
        minted = [r for r in outcome.results.values() if r.tx_hash]
        cids = [cid for r in minted for cid in (r.image_cid, r.metadata_cid) if cid]
        groups = [cids[i : i + PUBLISH_GROUP] for i in range(0, len(cids), PUBLISH_GROUP)]
        cars = [(roots, car_of(runtime.content, roots)) for roots in groups]
    elapsed = max(outcome.answered.values()) - outcome.start
    return {
        "mints": len(minted),
        "mints_per_s": len(minted) / elapsed,
        "elapsed_s": elapsed,
        "cpu_s": cpu,
        "cids": cids,
        "cars": cars,
    }


async def floor(node_url: str, cars: list[tuple[list[str], bytes]], mints: int) -> float:
    """Mints a second the node itself allows: the same CARs imported, pinned and read back
    through the kubo backend, as many at once as the publisher sends, and nothing else."""
    from bot.config import load_settings
    from bot.content.pinning.kubo import KUBO
    from bot.minting.publish import PUBLISH_IN_FLIGHT, READ_BACK_AT_ONCE, read_back

    settings = load_settings(
        {"PINNING": "kubo", "KUBO_API_URL": node_url, "ENV_FILE": "/nonexistent/.env"}
    )
    backend = KUBO.open(settings)
    at_once = asyncio.Semaphore(PUBLISH_IN_FLIGHT)

    async def publish(roots: list[str], car: bytes) -> None:
        async with at_once:
            await backend.pin_car(car, roots)
            limit = asyncio.Semaphore(READ_BACK_AT_ONCE)
            await asyncio.gather(*(read_back(r, backend.fetch_block, limit) for r in roots))

    started = time.monotonic()
    try:
        await asyncio.gather(*(publish(roots, car) for roots, car in cars))
    finally:
        await backend.close()
    return mints / (time.monotonic() - started)


async def verified_on(node_url: str, cids: list[str]) -> int:
    """How many of `cids` the node's gateway hands back whole, every block matching its CID."""
    import aiohttp

    from bot.content.pinning.gateway import GatewayReader
    from bot.minting.publish import read_back

    good = 0
    async with aiohttp.ClientSession() as http:
        reader = GatewayReader(node_url, http)
        for cid in cids:
            try:
                await read_back(cid, reader.fetch_block)
            except Exception as err:
                print(f"not read back: {cid}: {type(err).__name__}: {err}", file=sys.stderr)
            else:
                good += 1
    return good


async def run(requests: int) -> dict[str, Any]:
    from tests.ipfs_node import ipfs_node

    unpinned = await scenario(requests, 0)
    with ipfs_node() as node:
        node_before = process_cpu_seconds(node.process.pid)
        pinned = await scenario(requests, 1_000_000, PINNING="kubo", KUBO_API_URL=node.url)
        node_cpu = process_cpu_seconds(node.process.pid) - node_before
        verified = await verified_on(node.url, pinned["cids"])
    with ipfs_node() as node:  # a fresh node: the same content is new to it
        node_floor = await floor(node.url, pinned["cars"], pinned["mints"])
    cpus = os.cpu_count() or 1
    return {
        "unpinned_mints_per_s": unpinned["mints_per_s"],
        "pinned_mints_per_s": pinned["mints_per_s"],
        "node_floor_mints_per_s": node_floor,
        # CPU-seconds everything spent while each run was timed (the bot, its workers, anvil,
        # the node): with `cpus` cores no run can mint faster than mints / (cpu / cpus).
        "unpinned_cpu_s": unpinned["cpu_s"],
        "pinned_cpu_s": pinned["cpu_s"],
        "node_cpu_s": node_cpu,  # the IPFS node's share of the pinned run (a part of it)
        "pinned_cpu_bound_mints_per_s": requests / (pinned["cpu_s"] / cpus),
        # Even if publishing cost the bot nothing, the pinned run needs the unpinned run's CPU
        # plus the node's: the best pinned / unpinned ratio this machine and node allow.
        "best_ratio_bound": requests
        / ((unpinned["cpu_s"] + node_cpu) / cpus)
        / unpinned["mints_per_s"],
        "pinned_verified": verified,
        "total": len(pinned["cids"]),
        "mints": requests,
        "unpinned_minted": unpinned["mints"],
        "pinned_minted": pinned["mints"],
        "unpinned_elapsed_s": unpinned["elapsed_s"],
        "pinned_elapsed_s": pinned["elapsed_s"],
        "ratio": pinned["mints_per_s"] / unpinned["mints_per_s"],
        "met": {
            "verified": verified == len(pinned["cids"]) == 2 * requests,
            "ratio": pinned["mints_per_s"] >= RATIO_TARGET * unpinned["mints_per_s"],
        },
        "cpus": cpus,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--requests", type=int, default=1000)
    args = parser.parse_args()
    started = time.monotonic()
    result = asyncio.run(run(args.requests))
    if args.json:
        print(json.dumps(result))
        return
    met = result["met"]
    rows = [
        ("mints per run (100 members)", f"{result['mints']}", "", None),
        ("unpinned: mints/s", f"{result['unpinned_mints_per_s']:.1f}", "", None),
        (
            "pinned (kubo on Helia): mints/s",
            f"{result['pinned_mints_per_s']:.1f}",
            f"≥ {RATIO_TARGET * result['unpinned_mints_per_s']:.1f} ({RATIO_TARGET} × unpinned)",
            met["ratio"],
        ),
        ("pinned / unpinned", f"{result['ratio']:.2f}", f"≥ {RATIO_TARGET}", None),
        ("node floor: mints/s", f"{result['node_floor_mints_per_s']:.1f}", "", None),
        (
            "CPU-s unpinned / pinned (node)",
            f"{result['unpinned_cpu_s']:.1f} / {result['pinned_cpu_s']:.1f} "
            f"({result['node_cpu_s']:.1f})",
            "",
            None,
        ),
        (
            "pinned: CPU bound mints/s",
            f"{result['pinned_cpu_bound_mints_per_s']:.1f}",
            "",
            None,
        ),
        ("best ratio the CPU allows", f"{result['best_ratio_bound']:.2f}", "", None),
        ("CIDs minted in the pinned run", f"{result['total']}", "", None),
        (
            "CIDs read back and checked",
            f"{result['pinned_verified']}",
            f"= {result['total']}",
            met["verified"],
        ),
    ]
    print(f"{'figure':<34} {'value':>8}  target")
    for label, value, target, ok in rows:
        verdict = "" if ok is None else ("  met" if ok else "  MISSED")
        print(f"{label:<34} {value:>8}  {target}{verdict}")
    print(f"(whole run {time.monotonic() - started:.0f} s on {result['cpus']} CPUs)")


if __name__ == "__main__":
    main()
