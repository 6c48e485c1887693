"""Discord acknowledgement under a burst: 500 concurrent /mint interactions, the bot against
the floor of discord.py itself.

    python bench/discord_ack.py [--json] [--rounds N] [--interactions N] [--users N]

One local Discord emulator (tests/emulators/discord/) and one anvil with automine serve every
round. A round sends the same burst, every interaction dispatched at once over the gateway, to
three programs in turn:

- the bot, as `python -m bot run` (a fresh data directory and collection each round; forked
  by tests/forkserver.py, as the tests start it, which changes only how long it takes to
  start, and that is not measured): we time from each dispatch to its deferred
  acknowledgement (Discord allows 3 s) and to its final answer (the response edited with the
  links);
- the floor, bench/discord_floor.py: a bare discord.py bot that defers every interaction and
  does nothing else, so its acknowledgement times are what discord.py costs on this machine;
- the command floor, the same with `--commands`: it defers from a `/mint` declared through
  discord.py's app-command tree, as the bot's is, so the difference to the floor is what
  discord.py's command dispatch costs (reported beside the target, not part of it).

Each connects, then waits past discord.py's wait for its guilds before the burst. The order
is reversed every other round (the bot first in odd ones, last in even ones), so none always
runs on a machine warmed or loaded by another. Rate limits are off: this measures the
programs. Figures are medians over the rounds. Targets: `ack_p99_ms <= 1.25 * floor_ack_p99_ms`,
every interaction answered.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.discord_floor import floor_process  # noqa: E402
from bench.harness import Burst, acknowledged, answered, deploy, mint_burst  # noqa: E402
from bot.chain.devchain import Anvil  # noqa: E402
from tests.emulators.discord import DiscordServer  # noqa: E402
from tests.support import bot_process, png  # noqa: E402

ACK_RATIO_TARGET = 1.25
# After IDENTIFY discord.py waits up to 2 s for the guilds of READY before it is ready; the
# burst is sent after that, to either program, so both are measured ready and idle.
SETTLE_S = 3.0
CONNECT_TIMEOUT_S = 60.0
ACK_TIMEOUT_S = 60.0


class Rounds:
    """The emulator, its members and the chain every round shares."""

    def __init__(self, node: Anvil, discord: DiscordServer, members: list[str], n: int) -> None:
        self.node = node
        self.discord = discord
        self.members = members
        self.interactions = n
        self.bursts = 0

    def images(self) -> list[bytes]:
        self.bursts += 1  # new pictures each burst: no request repeats an earlier one
        return [png(self.bursts * 100_000 + i) for i in range(self.interactions)]

    async def bot(self) -> Burst:
        discord = self.discord
        images = self.images()
        with tempfile.TemporaryDirectory() as tmp:
            env = await deploy(self.node, tmp) | discord.env()
            discord.identified.clear()
            discord.synced.clear()
            async with bot_process(env, Path(tmp) / "bot.log"):
                await discord.wait_for(
                    lambda: discord.synced.is_set() and discord.identified.is_set(),
                    CONNECT_TIMEOUT_S,
                )
                await asyncio.sleep(SETTLE_S)
                burst = await mint_burst(discord, self.members, images, "Bench")
                await acknowledged(discord, burst, timeout=ACK_TIMEOUT_S)
                await answered(discord, burst, timeout=self.interactions * 0.2)
        return burst

    async def floor(self, *, commands: bool = False) -> Burst:
        discord = self.discord
        images = self.images()
        with tempfile.TemporaryDirectory() as tmp:
            discord.identified.clear()
            async with floor_process(discord.env(), Path(tmp) / "floor.log", commands=commands):
                await discord.wait_for(discord.identified.is_set, CONNECT_TIMEOUT_S)
                await asyncio.sleep(SETTLE_S)
                burst = await mint_burst(discord, self.members, images, "Floor")
                await acknowledged(discord, burst, timeout=ACK_TIMEOUT_S)
        return burst

    async def round(self, bot_first: bool) -> dict[str, Any]:
        load = os.getloadavg()[0]
        if bot_first:
            bot, floor, command_floor = (
                await self.bot(),
                await self.floor(),
                await self.floor(commands=True),
            )
        else:
            command_floor, floor, bot = (
                await self.floor(commands=True),
                await self.floor(),
                await self.bot(),
            )
        ours, bare, commands = bot.stats(), floor.stats(), command_floor.stats()
        return {
            "bot_first": bot_first,
            "load": round(load, 2),
            "ack_p50_ms": ours["ack_p50_ms"],
            "ack_p99_ms": ours["ack_p99_ms"],
            "floor_ack_p50_ms": bare["ack_p50_ms"],
            "floor_ack_p99_ms": bare["ack_p99_ms"],
            "command_floor_ack_p50_ms": commands["ack_p50_ms"],
            "command_floor_ack_p99_ms": commands["ack_p99_ms"],
            "acked": ours["acked"],
            "floor_acked": bare["acked"],
            "final_p50_s": ours["final_p50_s"],
            "final_p99_s": ours["final_p99_s"],
            "answered": ours["answered"],
            "minted": ours["minted"],
        }


async def run(rounds: int, interactions: int, users: int) -> dict[str, Any]:
    with Anvil() as node:
        discord = DiscordServer()
        await discord.start()
        members = [discord.add_member(f"user{i}") for i in range(users)]
        bench = Rounds(node, discord, members, interactions)
        try:
            results = [await bench.round(bot_first=n % 2 == 0) for n in range(rounds)]
        finally:
            await discord.stop()
    return summary(results, interactions)


def summary(results: list[dict[str, Any]], interactions: int) -> dict[str, Any]:
    """Medians over the rounds of the timings, totals of the counts, and the targets."""

    def median(key: str) -> float:
        values = [r[key] for r in results if r[key] is not None]
        return statistics.median(values) if values else float("nan")

    ack, floor = median("ack_p99_ms"), median("floor_ack_p99_ms")
    rounds = len(results)
    answered_ = sum(r["answered"] for r in results)
    return {
        "ack_p99_ms": ack,
        "floor_ack_p99_ms": floor,
        "ack_ratio": ack / floor,
        "ack_p50_ms": median("ack_p50_ms"),
        "floor_ack_p50_ms": median("floor_ack_p50_ms"),
        "command_floor_ack_p99_ms": median("command_floor_ack_p99_ms"),
        "command_floor_ack_p50_ms": median("command_floor_ack_p50_ms"),
        "ack_ratio_to_command_floor": ack / median("command_floor_ack_p99_ms"),
        "final_p50_s": median("final_p50_s"),
        "final_p99_s": median("final_p99_s"),
        # Counts are per round (so 500 for 500 interactions), the smallest of the rounds.
        "answered": min(r["answered"] for r in results),
        "minted": min(r["minted"] for r in results),
        "acked": min(r["acked"] for r in results),
        "floor_acked": min(r["floor_acked"] for r in results),
        "interactions": interactions,
        "met": {
            "ack_ratio": ack <= ACK_RATIO_TARGET * floor,
            "answered": answered_ == rounds * interactions,
        },
        "rounds": results,
        "cpus": os.cpu_count(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--interactions", type=int, default=500)
    parser.add_argument("--users", type=int, default=100)
    args = parser.parse_args()
    started = time.monotonic()
    result = asyncio.run(run(args.rounds, args.interactions, args.users))
    if args.json:
        print(json.dumps(result))
        return
    n, floor = result["interactions"], result["floor_ack_p99_ms"]
    met = result["met"]
    rows = [
        ("interactions dispatched at once", f"{n}", "", None),
        ("deferred acknowledgements (bot)", f"{result['acked']}", f"{n}", None),
        ("deferred acknowledgements (floor)", f"{result['floor_acked']}", f"{n}", None),
        (
            "ack p50 (ms), bot / floor",
            f"{result['ack_p50_ms']:.0f} / {result['floor_ack_p50_ms']:.0f}",
            "",
            None,
        ),
        ("floor ack p99 (ms)", f"{floor:.0f}", "", None),
        ("command floor ack p99 (ms)", f"{result['command_floor_ack_p99_ms']:.0f}", "", None),
        (
            "ack p99 (ms)",
            f"{result['ack_p99_ms']:.0f}",
            f"≤ {ACK_RATIO_TARGET * floor:.0f} ({ACK_RATIO_TARGET} × floor)",
            met["ack_ratio"],
        ),
        ("ack p99 bot / floor", f"{result['ack_ratio']:.2f}", f"≤ {ACK_RATIO_TARGET}", None),
        ("ack p99 bot / command floor", f"{result['ack_ratio_to_command_floor']:.2f}", "", None),
        ("final answer p50 (s)", f"{result['final_p50_s']:.2f}", "", None),
        ("final answer p99 (s)", f"{result['final_p99_s']:.2f}", "", None),
        ("answered", f"{result['answered']}", f"{n}", met["answered"]),
        ("minted (embed with links)", f"{result['minted']}", f"{n}", None),
    ]
    print(f"{'figure (median of rounds)':<36} {'value':>11}  target")
    for label, value, target, ok in rows:
        verdict = "" if ok is None else ("  met" if ok else "  MISSED")
        print(f"{label:<36} {value:>11}  {target}{verdict}")
    print("rounds (first; load; ack p99 ms bot / floor / command floor; final p99 s; answered):")
    for i, r in enumerate(result["rounds"], 1):
        print(
            f"  {i}: {'bot' if r['bot_first'] else 'command floor'} first; {r['load']:.1f}; "
            f"{r['ack_p99_ms'] or 0:.0f} / {r['floor_ack_p99_ms'] or 0:.0f} / "
            f"{r['command_floor_ack_p99_ms'] or 0:.0f}; "
            f"{r['final_p99_s'] or 0:.2f}; {r['answered']}"
        )
    print(f"(whole run {time.monotonic() - started:.0f} s on {result['cpus']} CPUs)")


if __name__ == "__main__":
    main()
