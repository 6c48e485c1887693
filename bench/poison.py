"""Poisoned burst: 900 good mint requests alone, and the same 900 with 100 hostile ones, in one run.

    python bench/poison.py [--json] [--good N] [--hostile N] [--rounds N]

Each scenario runs in its own subprocess on its own anvil (automine), with the bot's runtime
(SQLite) in that process, as bench/throughput.py runs mintbot. Requests come from 100 members
and are submitted at once through MintService:
- clean: the good requests (small distinct PNGs, plain names) alone;
- poisoned: the same good requests with the hostile ones spread among them, a mix of every
  kind tests/hostile.py knows: image bytes (random, truncated, mutated, a camera photo (MPO),
  a phone photo turned by its EXIF orientation, AVIF, HEIC, a GIF of 20,000 frames, huge
  declared dimensions, empty), recipients (the zero address, the collection itself, a bad
  checksum, short, long, 10 KB, ...), names, descriptions and member names (NUL, lone
  surrogates, 20,000 characters, mentions, markdown).

A good request counts as minted when its answer says so and the chain agrees (one mint event
for its token, to its recipient); as answered when its answer arrived. A hostile request is
minted wrongly if it was minted although it had to be refused, or to an address nobody may
receive, or with an unclean name, or with a stored image that keeps its GPS position or does
not match its metadata (`tests.hostile.mint_problems`). A token on chain that no answer
accounts for is counted apart (`unexplained_mints`). Mints per second are good mints over the
time from the first submit until the last good answer (or until no answer came for --give-up
seconds). The scenarios alternate for --rounds pairs (5), each pair in the other order than
the last; rates are medians, counts the worst round's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.burst import bench_runtime, burst, small_png, submission

HOSTILE_SEED = 2026
TARGET_RATIO = 0.8

# The content worker imports this script as its main module: heavy imports stay inside.


async def scenario(good: int, hostile_count: int, give_up: float) -> dict[str, Any]:
    """One burst: `good` good requests with `hostile_count` hostile ones among them."""
    from web3 import Web3

    from bot.errors import RequestRejected
    from tests import hostile

    async with bench_runtime(0) as runtime:
        collection = runtime.collection
        custody = runtime.service.chain.custody_address
        mix = hostile.hostile_mix(hostile_count, HOSTILE_SEED)
        bad = [ask.placed(collection.address) for ask in mix]
        goods = [submission(i, small_png(i), f"Bench #{i}") for i in range(good)]
        asks: dict[str, Any] = {}
        ordered = list(goods)
        step = len(goods) // max(1, len(bad))
        for k, ask in enumerate(bad):  # spread evenly among the good ones
            sub = _hostile(k, ask, good)
            asks[sub.key] = ask
            ordered.insert(min(len(ordered), k * (step + 1) + step // 2), sub)
        outcome = await burst(runtime, ordered, give_up_after=give_up)

        topic = Web3.keccak(text="Transfer(address,address,uint256)")
        logs = await collection.w3.eth.get_logs(
            {
                "address": collection.address,  # type: ignore[typeddict-item]
                "fromBlock": 0,
                "toBlock": "latest",
                "topics": [topic, "0x" + "00" * 32],  # type: ignore[list-item]
            }
        )
        mints: dict[int, list[str]] = {}
        for log in logs:
            token = int.from_bytes(log["topics"][3], "big")
            to = Web3.to_checksum_address(log["topics"][2][-20:])
            mints.setdefault(token, []).append(to)

        good_keys = [s.key for s in goods]
        good_answered = [k for k in good_keys if k in outcome.results]
        good_minted = [
            k
            for k in good_answered
            if outcome.results[k].minted
            and mints.get(outcome.results[k].token_id or -1) == [outcome.results[k].recipient]
        ]
        wrongly = 0
        for key, ask in asks.items():
            result = outcome.results.get(key)
            if result is None or not result.minted:
                continue
            holder = hostile.expected_holder(
                ask, linked=None, custody=custody, collection=collection.address
            )
            metadata = json.loads(runtime.content.read_file(result.metadata_cid or ""))
            image = runtime.content.read_file(metadata["image"].removeprefix("ipfs://"))
            if (
                holder is None
                or mints.get(result.token_id or -1) != [holder]
                or hostile.mint_problems(ask, metadata, image)
            ):
                wrongly += 1
        answered_tokens = {r.token_id for r in outcome.results.values()}
        unexplained = sum(len(to) for token, to in mints.items() if token not in answered_tokens)
        hostile_answered = sum(
            1
            for key in asks
            if key in outcome.results or isinstance(outcome.errors.get(key), RequestRejected)
        )
        last_good = [outcome.answered[k] for k in good_answered]
        ended = max(last_good) if len(last_good) == good else outcome.start + give_up
        elapsed = max(ended - outcome.start, 1e-9)
    return {
        "requests": len(ordered),
        "good_total": good,
        "good_minted": len(good_minted),
        "good_answered": len(good_answered),
        "hostile_total": len(asks),
        "hostile_answered": hostile_answered,
        "hostile_minted_wrongly": wrongly,
        "unexplained_mints": unexplained,
        "submit_errors": sorted({repr(e)[:200] for e in outcome.errors.values()}),
        "elapsed_s": elapsed,
        "mints_per_s": len(good_minted) / elapsed,
        "good_p50_s": _quantile(outcome.latencies(good_answered), 0.5),
        "good_p99_s": _quantile(outcome.latencies(good_answered), 0.99),
    }


def _hostile(n: int, ask: Any, good: int) -> Any:
    """The hostile request's submission: numbered after the good ones, by member n % 100."""
    fields: dict[str, Any] = {"description": ask.description, "recipient": ask.recipient}
    if ask.requester_name != "Ada":
        fields["requester_name"] = ask.requester_name
    return submission(good + n, ask.image, ask.name, **fields)


def _quantile(values: list[float], q: float) -> float | None:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))] if ordered else None


def run_scenario(good: int, hostile_count: int, give_up: float) -> dict[str, Any]:
    proc = subprocess.run(
        [
            sys.executable,
            __file__,
            "--scenario",
            "--good",
            str(good),
            "--hostile",
            str(hostile_count),
            "--give-up",
            str(give_up),
        ],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "LOG_LEVEL": "CRITICAL"},
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def report(clean: list[dict[str, Any]], poisoned: list[dict[str, Any]]) -> dict[str, Any]:
    """The figures: rates are medians over the rounds, counts the worst round's."""
    clean_rate = statistics.median(r["mints_per_s"] for r in clean)
    poisoned_rate = statistics.median(r["mints_per_s"] for r in poisoned)
    return {
        "clean_mints_per_s": clean_rate,
        "poisoned_mints_per_s": poisoned_rate,
        "ratio": poisoned_rate / clean_rate if clean_rate else 0.0,
        "good_total": poisoned[0]["good_total"],
        "good_minted": min(r["good_minted"] for r in poisoned),
        "good_answered": min(r["good_answered"] for r in poisoned),
        "hostile_total": poisoned[0]["hostile_total"],
        "hostile_answered": min(r["hostile_answered"] for r in poisoned),
        "hostile_minted_wrongly": max(r["hostile_minted_wrongly"] for r in poisoned),
        "clean_good_minted": min(r["good_minted"] for r in clean),
        "unexplained_mints": max(r["unexplained_mints"] for r in [*clean, *poisoned]),
    }


def table(clean: list[dict[str, Any]], poisoned: list[dict[str, Any]], f: dict[str, Any]) -> str:
    rows = [
        f"{'scenario':<22} {'requests':>8} {'good minted':>11} {'good answered':>13} "
        f"{'hostile wrong':>13} {'mints/s':>8} {'good p99 s':>10}"
    ]
    for label, runs in (("clean (good alone)", clean), ("poisoned (+ hostile)", poisoned)):
        for r in runs:
            wrong = r["hostile_minted_wrongly"] if r["hostile_total"] else "-"
            p99 = f"{r['good_p99_s']:.2f}" if r["good_p99_s"] is not None else "-"
            rows.append(
                f"{label:<22} {r['requests']:>8} {r['good_minted']:>11} {r['good_answered']:>13} "
                f"{wrong:>13} {r['mints_per_s']:>8.1f} {p99:>10}"
            )
    good = f["good_minted"] == f["good_answered"] == f["good_total"]
    rows += [
        "",
        f"good minted / answered / total: {f['good_minted']} / {f['good_answered']} / "
        f"{f['good_total']} (target: all equal) {'✓' if good else '✗'}",
        f"hostile minted wrongly: {f['hostile_minted_wrongly']} (target 0) "
        f"{'✓' if f['hostile_minted_wrongly'] == 0 else '✗'}; hostile answered "
        f"{f['hostile_answered']} of {f['hostile_total']}",
        f"poisoned / clean mints per second: {f['poisoned_mints_per_s']:.1f} / "
        f"{f['clean_mints_per_s']:.1f} = {f['ratio']:.2f} (target ≥ {TARGET_RATIO}) "
        f"{'✓' if f['ratio'] >= TARGET_RATIO else '✗'}",
    ]
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--good", type=int, default=900)
    parser.add_argument("--hostile", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=5, help="clean/poisoned pairs, alternating")
    parser.add_argument(
        "--give-up", type=float, default=60.0, help="seconds without a new answer that end a run"
    )
    parser.add_argument("--scenario", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.scenario:
        print(json.dumps(asyncio.run(scenario(args.good, args.hostile, args.give_up))))
        return
    clean, poisoned = [], []
    for round_number in range(args.rounds):
        # Which goes first alternates too: on a shared machine the load drifts.
        if round_number % 2:
            poisoned.append(run_scenario(args.good, args.hostile, args.give_up))
            clean.append(run_scenario(args.good, 0, args.give_up))
        else:
            clean.append(run_scenario(args.good, 0, args.give_up))
            poisoned.append(run_scenario(args.good, args.hostile, args.give_up))
    figures = report(clean, poisoned)
    if args.json:
        print(json.dumps({**figures, "clean_runs": clean, "poisoned_runs": poisoned}))
    else:
        print(table(clean, poisoned, figures))


if __name__ == "__main__":
    main()
