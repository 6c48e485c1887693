"""Holder roles following transfers: 1,000 holders, 100 transfers, every role change timed.

    python bench/holder_roles.py [--json] [--holders N] [--transfers N] [--block-time S]
                                 [--poll-interval S]

One anvil mining a block every `--block-time` seconds, SQLite, the bot's runtime in this
process with a holder rule ("at least 1 token of the collection") whose role changes are
recorded by a keeper standing in for the chat platform. Holders are members with verified
addresses, each minted one token; 50 more verified members hold nothing. Once the first full
check has given every holder the role, holders send their token away, at a steady pace: half
to members who held nothing (their role comes), half to strangers. For each expected change
we time from the moment the transfer's block was seen (a watcher polls the head every 20 ms)
to the keeper being told. Measured in the same run: the block interval, hence the target
bound of 2 blocks plus the poll interval, and the floor: a bare `eth_getLogs` poller at the
same interval, which sees each transfer with no database and no decision behind it.
At the end every member's role is compared with their balance on chain (`wrong_roles`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# The content worker process imports this script as its main module, so the heavy imports
# live inside the functions.

WAITING = 50  # verified members who hold nothing until a transfer reaches them


class RecordingKeeper:
    """The platform's side of roles: who has the role now, and when each change came."""

    def __init__(self) -> None:
        self.has: dict[str, bool] = {}
        self.changes: list[tuple[float, str, bool]] = []
        self._changed = asyncio.Event()

    async def set_role(self, community_id: str, user_id: str, role_id: str, present: bool) -> None:
        if self.has.get(user_id, False) != present:
            self.changes.append((time.monotonic(), user_id, present))
            self._changed.set()
        self.has[user_id] = present

    async def until(self, check: Callable[[], bool], timeout: float) -> None:
        """Wait for `check` to hold after some change, up to `timeout` seconds."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                while not check():
                    await self._changed.wait()
                    self._changed.clear()


class BlockClock:
    """When each block was first seen, polling the head every 20 ms."""

    def __init__(self, w3: Any) -> None:
        self.w3 = w3
        self.seen: dict[int, float] = {}

    async def run(self) -> None:
        while True:
            number = await self.w3.eth.block_number
            self.seen.setdefault(number, time.monotonic())
            await asyncio.sleep(0.02)

    def interval(self, first: int, last: int) -> float:
        times = [self.seen[n] for n in range(first, last + 1) if n in self.seen]
        steps = [b - a for a, b in itertools.pairwise(times)]
        return statistics.median(steps) if steps else float("nan")


async def bare_poller(w3: Any, contract: str, every: float, seen: dict[str, float]) -> None:
    """The floor: `eth_getLogs` for the contract's Transfer events every `every` seconds,
    noting when each transaction's log first shows."""
    from bot.chain.receipts import TRANSFER_TOPIC

    start = await w3.eth.block_number + 1
    while True:
        head = await w3.eth.block_number
        if head >= start:
            logs = await w3.eth.get_logs(
                {
                    "address": contract,
                    "fromBlock": start,
                    "toBlock": head,
                    "topics": [TRANSFER_TOPIC],
                }
            )
            now = time.monotonic()
            for entry in logs:
                seen.setdefault("0x" + bytes(entry["transactionHash"]).hex(), now)
            start = head + 1
        await asyncio.sleep(every)


async def run(holders: int, transfers: int, block_time: float, poll: float) -> dict[str, Any]:
    from eth_account import Account

    from bench.burst import GWEI, bench_runtime
    from bot.chain.calls import MINTER_ROLE
    from bot.chain.fees import Fees
    from bot.chain.wallet import HotWallet
    from bot.drops.gates.holder import HolderGate
    from bot.env_values import Secret
    from bot.hot_wallet_keys import ANVIL_DEV_KEYS
    from db.models import PlatformUser

    settings = {"POLL_INTERVAL_S": str(poll), "HOLDER_RECHECK_S": "3600", "LOG_LEVEL": "WARNING"}
    async with bench_runtime(block_time, **settings) as runtime:
        w3, collection = runtime.chain.w3, runtime.collection
        fees = Fees(max_fee_per_gas=50 * GWEI, max_priority_fee_per_gas=GWEI)
        accounts = [Account.create() for _ in range(holders + WAITING)]
        members = {f"u{i}": a for i, a in enumerate(accounts)}
        async with runtime.sessions.begin() as session:
            session.add_all(
                PlatformUser(
                    platform="bench", user_id=user, address=a.address, address_verified=True
                )
                for user, a in members.items()
            )
        # Minted by a minter of the bench's own: the hot wallet's nonces stay the bot's.
        minter = HotWallet(Secret(ANVIL_DEV_KEYS[5]))
        admin = HotWallet(Secret(ANVIL_DEV_KEYS[1]))
        await collection.transact(admin, "grantRole", MINTER_ROLE, minter.address, fees=fees)
        for first in range(0, holders, 100):
            batch = range(first, min(holders, first + 100))
            await collection.mint_batch(
                minter, [accounts[i].address for i in batch], [i + 1 for i in batch], fees
            )
        keeper = RecordingKeeper()
        roles = runtime.holders
        gate = HolderGate(collection.address.lower(), None, 1)
        await roles.rules.set("bench", "guild", "holder", gate, "bench")
        started = time.monotonic()
        roles.attach("bench", keeper)
        await keeper.until(lambda: sum(keeper.has.values()) >= holders, 600)
        first_sync_s = time.monotonic() - started

        clock = BlockClock(w3)
        floor_seen: dict[str, float] = {}
        watchers = [
            asyncio.ensure_future(clock.run()),
            asyncio.ensure_future(bare_poller(w3, collection.address, poll, floor_seen)),
        ]
        first_block = await w3.eth.block_number
        for account in accounts[:transfers]:
            await w3.provider.make_request("anvil_setBalance", [account.address, hex(10**17)])  # type: ignore[arg-type]
        expected: dict[tuple[str, bool], str] = {}  # (user, role after) -> transfer hash
        pace = max(block_time, 0.1) / 5  # about five transfers a block
        for i in range(transfers):
            sender = accounts[i]
            to = accounts[holders + i].address if i < WAITING else Account.create().address
            data = collection.encode_transfer(sender.address, to, i + 1)
            tx = {
                "to": collection.address,
                "data": "0x" + data.hex(),
                "gas": 100_000,
                "maxFeePerGas": fees.max_fee_per_gas,
                "maxPriorityFeePerGas": fees.max_priority_fee_per_gas,
                "nonce": 0,
                "chainId": 31337,
                "type": 2,
            }
            raw = Account.sign_transaction(tx, sender.key).raw_transaction
            tx_hash = "0x" + bytes(await w3.eth.send_raw_transaction(raw)).hex()
            expected[(f"u{i}", False)] = tx_hash
            if i < WAITING:
                expected[(f"u{holders + i}", True)] = tx_hash
            await asyncio.sleep(pace)
        mined_block: dict[str, int] = {}
        for tx_hash in set(expected.values()):
            receipt = await w3.eth.wait_for_transaction_receipt(tx_hash, timeout=120)  # type: ignore[arg-type]
            mined_block[tx_hash] = int(receipt["blockNumber"])

        def done() -> set[tuple[str, bool]]:
            return {(u, p) for _, u, p in keeper.changes} & set(expected)

        await keeper.until(lambda: len(done()) >= len(expected), 60)
        await asyncio.sleep(2 * max(block_time, poll))  # any late, wrong change shows too
        last_block = await w3.eth.block_number
        for task in watchers:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*watchers)

        when_told = {(u, p): t for t, u, p in keeper.changes}
        updates = [
            when_told[key] - clock.seen[mined_block[tx_hash]]
            for key, tx_hash in expected.items()
            if key in when_told and mined_block[tx_hash] in clock.seen
        ]
        floor = [
            floor_seen[h] - clock.seen[mined_block[h]]
            for h in set(expected.values())
            if h in floor_seen and mined_block[h] in clock.seen
        ]
        wrong = 0
        for user, account in members.items():
            holds = await collection.contract.functions.balanceOf(account.address).call() > 0
            wrong += keeper.has.get(user, False) != holds
        interval = clock.interval(first_block, last_block)
    return {
        "holders": holders,
        "transfers": transfers,
        "expected_updates": len(expected),
        "role_updates": len(updates),
        "wrong_roles": wrong,
        "first_sync_s": first_sync_s,
        "p50_update_s": statistics.median(updates) if updates else None,
        "p99_update_s": percentile(updates, 0.99) if updates else None,
        "floor_p99_s": percentile(floor, 0.99) if floor else None,
        "block_interval_s": interval,
        "poll_interval_s": poll,
        "bound_s": 2 * interval + poll,
    }


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def table(r: dict[str, Any]) -> str:
    p99, bound = r["p99_update_s"], r["bound_s"]
    within = p99 is not None and p99 <= bound
    complete = r["role_updates"] == r["expected_updates"]
    rows = [
        f"{'figure':<48} {'value':>10}  {'target':<14} ok",
        f"{'holders / transfers':<48} {r['holders']:>5,} / {r['transfers']:<4,}",
        f"{'first full check: every holder given the role':<48} {r['first_sync_s']:>9.2f}s",
        f"{'role updates made / expected':<48} {r['role_updates']:>5,} / "
        f"{r['expected_updates']:<4,}{'':>9}{_yes(complete)}",
        f"{'wrong roles at the end':<48} {r['wrong_roles']:>10,}  {'0':<14} "
        f"{_yes(r['wrong_roles'] == 0)}",
        f"{'block interval (measured)':<48} {r['block_interval_s']:>9.2f}s",
        f"{'poll interval':<48} {r['poll_interval_s']:>9.2f}s",
        f"{'floor: a bare getLogs poller sees it, p99':<48} {_s(r['floor_p99_s'])}",
        f"{'role update after its block, p50':<48} {_s(r['p50_update_s'])}",
        f"{'role update after its block, p99':<48} {_s(p99)}  "
        f"{'≤ 2 blocks + poll':<14} {_yes(within)}",
        f"{'  the bound, 2 blocks + poll, this run':<48} {bound:>9.2f}s",
    ]
    return "\n".join(rows)


def _s(value: float | None) -> str:
    return f"{value:>9.2f}s" if value is not None else f"{'-':>10}"


def _yes(good: bool) -> str:
    return "yes" if good else "NO"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--holders", type=int, default=1000)
    parser.add_argument("--transfers", type=int, default=100)
    parser.add_argument("--block-time", type=float, default=1.0)
    parser.add_argument("--poll-interval", type=float, default=0.5)
    args = parser.parse_args()
    if args.transfers > args.holders:
        parser.error("--transfers is at most --holders (each holder sends one token)")
    result = asyncio.run(run(args.holders, args.transfers, args.block_time, args.poll_interval))
    print(json.dumps(result) if args.json else table(result))


if __name__ == "__main__":
    main()
