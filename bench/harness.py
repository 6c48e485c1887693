"""What the bot benchmarks share: a fresh collection and the bot's settings to mint into it,
percentiles, and a burst of Discord `/mint` interactions through the emulator
(tests/emulators/discord/) with its acknowledgement times.
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bot.chain import client  # noqa: E402
from bot.chain.contract import CollectionParams, deploy_collection  # noqa: E402
from bot.chain.devchain import Anvil  # noqa: E402
from bot.chain.fees import Fees  # noqa: E402
from bot.chain.wallet import HotWallet  # noqa: E402
from bot.env_values import Secret  # noqa: E402
from bot.hot_wallet_keys import ANVIL_DEV_KEYS  # noqa: E402
from tests.emulators.discord import DiscordServer, Interaction  # noqa: E402
from tests.support import DEV_ADMIN  # noqa: E402

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
        CollectionParams("Bench", "B", admin, admin, minter.address, admin, 0, ""),
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


@dataclass
class Burst:
    """`/mint` interactions dispatched at once, and what the bot did with them."""

    sent: list[Interaction]

    @property
    def acks_ms(self) -> list[float]:
        """From each dispatch to its (deferred) acknowledgement, for those acknowledged."""
        return [(i.callback_at - i.dispatched_at) * 1000 for i in self.sent if i.callback_at]

    @property
    def finals_s(self) -> list[float]:
        return [i.answered_at - i.dispatched_at for i in self.sent if i.answered_at]

    @property
    def minted(self) -> int:
        return sum(1 for i in self.sent if i.original and i.original.get("embeds"))

    def stats(self) -> dict[str, float | int | None]:
        acks, finals = self.acks_ms, self.finals_s
        return {
            "interactions": len(self.sent),
            "acked": len(acks),
            "ack_p50_ms": statistics.median(acks) if acks else None,
            "ack_p99_ms": percentile(acks, 0.99) if acks else None,
            "final_p50_s": statistics.median(finals) if finals else None,
            "final_p99_s": percentile(finals, 0.99) if finals else None,
            "answered": len(finals),
            "minted": self.minted,
        }


async def mint_burst(
    discord: DiscordServer, members: list[str], images: list[bytes], label: str
) -> Burst:
    """Dispatch one `/mint` per image at once, members taking turns."""
    sent = await asyncio.gather(
        *(
            discord.mint(members[i % len(members)], image, f"{label} {i}")
            for i, image in enumerate(images)
        )
    )
    return Burst(list(sent))


async def acknowledged(discord: DiscordServer, burst: Burst, timeout: float) -> None:
    """Wait until every interaction of the burst is acknowledged (or `timeout` passes)."""
    with contextlib.suppress(AssertionError):  # report what arrived in time
        await discord.wait_for(lambda: all(i.callback_at for i in burst.sent), timeout)


async def answered(discord: DiscordServer, burst: Burst, timeout: float) -> None:
    """Wait until every interaction of the burst has its final answer (or `timeout` passes)."""
    with contextlib.suppress(AssertionError):
        await discord.wait_for(lambda: all(i.answered_at for i in burst.sent), timeout)
