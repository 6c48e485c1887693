"""Discord acknowledgement under a burst: 500 concurrent /mint interactions.

    python bench/discord_ack.py [--json] [--interactions N] [--users N]

The bot runs as `python -m bot run` against the local Discord emulator (tests/discord_server.py)
and an anvil with automine. Every interaction is dispatched at once over the gateway; we time
from each dispatch to its deferred acknowledgement (Discord allows 3 s) and to its final
answer (the response edited with the links). Rate limits are off: this measures the bot.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.chain import client  # noqa: E402
from bot.chain.contract import CollectionParams, deploy_collection  # noqa: E402
from bot.chain.devchain import Anvil  # noqa: E402
from bot.chain.fees import Fees  # noqa: E402
from bot.chain.wallet import HotWallet  # noqa: E402
from bot.config import ANVIL_DEV_KEYS, Secret  # noqa: E402
from tests.discord_server import DiscordServer, Interaction  # noqa: E402
from tests.support import DEV_ADMIN, bot_process, png  # noqa: E402

GWEI = 10**9


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


async def deploy(node: Anvil, data_dir: str) -> dict[str, str]:
    """A fresh collection on `node`; the bot's settings to mint into it from `data_dir`."""
    w3 = await client.connect(node.url, 31337)
    minter = HotWallet(Secret(ANVIL_DEV_KEYS[0]))
    admin = DEV_ADMIN.address
    deployment = await deploy_collection(
        w3,
        minter,
        CollectionParams("Bench", "B", admin, minter.address, admin, 0, ""),
        Fees(max_fee_per_gas=50 * GWEI, max_priority_fee_per_gas=GWEI),
    )
    await client.close(w3)
    return {
        "ENV_FILE": "/nonexistent/.env",
        "RPC_URL": node.url,
        "CHAIN_ID": "31337",
        "CONFIRMATIONS": "1",
        "HOT_WALLET_PRIVATE_KEY": ANVIL_DEV_KEYS[0],
        "CONTRACT_ADDRESS": deployment.address,
        "DATA_DIR": data_dir,
        "HTTP_PORT": "0",
        "POLL_INTERVAL_S": "0.2",
        "BATCH_MAX_WAIT_S": "0.5",
        "USER_MINTS_PER_MINUTE": "0",
        "COMMUNITY_MINTS_PER_MINUTE": "0",
        "LOG_LEVEL": "WARNING",
    }


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
                sent: list[Interaction] = await asyncio.gather(
                    *(
                        discord.mint(members[i % users], images[i], f"Bench {i}")
                        for i in range(interactions)
                    )
                )
                with contextlib.suppress(AssertionError):  # report what arrived in time
                    await discord.wait_for(
                        lambda: all(i.answered_at for i in sent), timeout=interactions * 0.2
                    )
        finally:
            await discord.stop()
    acks = [(i.callback_at - i.dispatched_at) * 1000 for i in sent if i.callback_at]
    finals = [i.answered_at - i.dispatched_at for i in sent if i.answered_at]
    minted = sum(1 for i in sent if i.original and i.original.get("embeds"))
    return {
        "interactions": interactions,
        "acked": len(acks),
        "ack_p50_ms": statistics.median(acks),
        "ack_p99_ms": percentile(acks, 0.99),
        "final_p50_s": statistics.median(finals) if finals else None,
        "final_p99_s": percentile(finals, 0.99) if finals else None,
        "answered": len(finals),
        "minted": minted,
    }


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
