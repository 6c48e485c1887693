"""What the pipeline benchmarks share: the bot's runtime minting into a collection deployed on a
fresh anvil, and a burst of mint requests submitted at once and timed until each is answered.

The content worker process imports the benchmark script as its main module, so the heavy
imports live inside the functions: the worker stays the size it is in the bot.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import resource
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.minting.types import MintResult, MintSubmission
    from bot.runtime import Runtime

ADMIN = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"  # anvil's second development account
USERS = 100
GWEI = 10**9


def small_png(seed: int) -> bytes:
    from PIL import Image

    image = Image.new("RGB", (16, 16), (seed % 256, (seed // 256) % 256, 90))
    image.putpixel((seed % 16, (seed // 16) % 16), (255, 255, 255))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def workers_peak_rss_mb() -> float:
    """Peak RSS of this process's multiprocessing workers (mintbot's content workers), read
    from /proc while they still run."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            if ppid != os.getpid():
                continue
            if b"multiprocessing" not in (stat.parent / "cmdline").read_bytes():
                continue
            status = (stat.parent / "status").read_text()
        except (OSError, ValueError, IndexError):
            continue  # gone meanwhile
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                total += int(line.split()[1]) / 1024
    return total


@contextlib.asynccontextmanager
async def bench_runtime(block_time: float, **settings: str) -> AsyncIterator[Runtime]:
    """A fresh anvil (automine with `block_time` 0), a collection deployed on it, and the bot's
    runtime (SQLite, batches of 100) minting into it; `settings` override the bot's settings."""
    from bot.app import open_runtime
    from bot.chain import client
    from bot.chain.contract import CollectionParams, deploy_collection
    from bot.chain.devchain import Anvil
    from bot.chain.fees import Fees
    from bot.chain.wallet import HotWallet
    from bot.config import load_settings
    from bot.env_values import Secret
    from bot.hot_wallet_keys import ANVIL_DEV_KEYS

    fees = Fees(max_fee_per_gas=50 * GWEI, max_priority_fee_per_gas=GWEI)
    with Anvil(block_time=block_time) as node, tempfile.TemporaryDirectory() as tmp:
        w3 = await client.connect(node.url, 31337)
        minter = HotWallet(Secret(ANVIL_DEV_KEYS[0]))
        deployment = await deploy_collection(
            w3,
            minter,
            CollectionParams("Bench", "B", ADMIN, ADMIN, minter.address, ADMIN, 0, ""),
            fees,
        )
        await client.close(w3)
        env = {
            "RPC_URL": node.url,
            "CHAIN_ID": "31337",
            "CONFIRMATIONS": "1",
            "HOT_WALLET_PRIVATE_KEY": ANVIL_DEV_KEYS[0],
            "CONTRACT_ADDRESS": deployment.address,
            "DATA_DIR": tmp,
            "DATABASE_URL": f"sqlite+aiosqlite:///{tmp}/bench.sqlite3",
            "BATCH_MAX_SIZE": "100",
            "BATCH_MAX_WAIT_S": "0.2",
            "POLL_INTERVAL_S": "0.1",
            "HTTP_PORT": "0",
            "ENV_FILE": "/nonexistent/.env",
        }
        async with open_runtime(load_settings(env | settings)) as runtime:
            yield runtime


@dataclass
class Burst:
    """When each request was submitted and answered (monotonic seconds), and its answer; a
    request whose submit raised has its error instead."""

    start: float
    submitted: dict[str, float] = field(default_factory=dict)
    answered: dict[str, float] = field(default_factory=dict)
    results: dict[str, MintResult] = field(default_factory=dict)
    errors: dict[str, BaseException] = field(default_factory=dict)

    def latencies(self, keys: list[str]) -> list[float]:
        return [self.answered[k] - self.submitted[k] for k in keys if k in self.answered]


async def burst(
    runtime: Runtime, submissions: list[MintSubmission], *, give_up_after: float = 60.0
) -> Burst:
    """Submit every request at once and wait until each has its answer, or until no answer
    has arrived for `give_up_after` seconds (then the missing ones have none)."""
    platforms = {s.platform for s in submissions}
    outcome = Burst(start=time.monotonic())
    progress = asyncio.Event()
    expected = len(submissions)

    async def notify(result: MintResult) -> None:
        if result.key not in outcome.answered:
            outcome.answered[result.key] = time.monotonic()
            outcome.results[result.key] = result
        progress.set()

    for platform in platforms:
        runtime.service.answer_through(platform, SimpleNamespace(deliver=notify))

    async def submit(submission: MintSubmission) -> None:
        outcome.submitted[submission.key] = time.monotonic()
        try:
            await runtime.service.submit(submission)
        except Exception as err:
            outcome.errors[submission.key] = err
            progress.set()

    outcome.start = time.monotonic()
    await asyncio.gather(*(submit(s) for s in submissions))
    while len(outcome.answered) + len(outcome.errors) < expected:
        progress.clear()
        try:
            await asyncio.wait_for(progress.wait(), give_up_after)
        except TimeoutError:
            break
    return outcome


def submission(i: int, image: bytes, name: str, **fields: Any) -> MintSubmission:
    """Request `i` of a burst, from member i % USERS in one of ten chats."""
    from bot.minting.types import MintSubmission

    return MintSubmission(
        **{
            "platform": "bench",
            "chat_id": f"chat{i % 10}",
            "message_id": str(i),
            "requester_id": f"u{i % USERS}",
            "requester_name": f"user {i % USERS}",
            "image": image,
            "name": name,
            **fields,
        }
    )
