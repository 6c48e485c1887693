"""Discord acknowledgement under a burst: 500 concurrent /mint interactions.

    python bench/discord_ack.py [--json] [--interactions N] [--users N]

The bot runs as `python -m bot run` against the local Discord emulator (tests/emulators/discord/)
and an anvil with automine. Every interaction is dispatched at once over the gateway; we time
from each dispatch to its deferred acknowledgement (Discord allows 3 s) and to its final
answer (the response edited with the links). Rate limits are off: this measures the bot.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.harness import acknowledged, answered, deploy, mint_burst  # noqa: E402
from bot.chain.devchain import Anvil  # noqa: E402
from tests.emulators.discord import DiscordServer  # noqa: E402
from tests.support import bot_process, png  # noqa: E402


async def run(interactions: int, users: int) -> dict[str, Any]:
    with Anvil() as node, tempfile.TemporaryDirectory() as tmp:
        env = await deploy(node, tmp)
        discord = DiscordServer()
        await discord.start()
        members = [discord.add_member(f"user{i}") for i in range(users)]
        images = [png(100_000 + i) for i in range(interactions)]
        env |= discord.env()
        try:
            async with bot_process(env, Path(tmp) / "bot.log"):
                await discord.wait_for(
                    lambda: discord.synced.is_set() and discord.identified.is_set(), 60
                )
                burst = await mint_burst(discord, members, images, "Bench")
                await acknowledged(discord, burst, timeout=60)
                await answered(discord, burst, timeout=interactions * 0.2)
        finally:
            await discord.stop()
    return burst.stats()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--interactions", type=int, default=500)
    parser.add_argument("--users", type=int, default=100)
    args = parser.parse_args()
    started = time.monotonic()
    result = asyncio.run(run(args.interactions, args.users))
    if args.json:
        print(json.dumps(result))
        return
    print(f"{'figure':<36} {'value':>10}  target")
    rows = [
        ("interactions dispatched at once", f"{result['interactions']}", ""),
        ("deferred acknowledgements", f"{result['acked']}", f"{result['interactions']}"),
        ("ack p50 (ms)", f"{result['ack_p50_ms']:.0f}", ""),
        ("ack p99 (ms)", f"{result['ack_p99_ms']:.0f}", "≤ 300"),
        ("final answer p50 (s)", f"{result['final_p50_s'] or 0:.2f}", ""),
        ("final answer p99 (s)", f"{result['final_p99_s'] or 0:.2f}", ""),
        ("answered", f"{result['answered']}", f"{result['interactions']}"),
        ("minted (embed with links)", f"{result['minted']}", f"{result['interactions']}"),
    ]
    for label, value, target in rows:
        print(f"{label:<36} {value:>10}  {target}")
    print(f"(whole run {time.monotonic() - started:.0f} s)")


if __name__ == "__main__":
    main()
