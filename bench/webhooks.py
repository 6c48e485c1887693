"""Signed webhooks: 1,000 events through the outbox to a receiver that fails 30 % of requests.

    python bench/webhooks.py [--json] [--events N] [--fail-rate F]

Three runs on one machine, in one process, each with a fresh SQLite database:

- floor: the same events signed and posted straight to a receiver that never fails, 64 at a
  time, with no database (what a bot that fired and forgot would cost);
- outbox: the events recorded by the real hook (`mints_ended`, in the state change's
  transaction, 50 per transaction as the batcher confirms them) and posted by the real worker
  (`WebhookSender`) to a receiver that never fails;
- outbox, failing: the same, to a receiver that answers 500 to a random 30 % of requests.

Each receiver verifies every signature with the reference library (tests/webhook_receiver.py)
and counts events by their ID. Delivery time is from the event's commit (the floor: from the
start) to the receiver's first 2xx for it. Back-off in this bench starts at 0.1 s and doubles
up to 2 s (production: 5 s up to an hour, for 24 h); the timeout is the production 5 s.
--json prints one object: delivered, duplicates_seen_by_receiver, p99_delivery_s (the failing
run's), and every run's figures.
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
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
from sqlalchemy import insert, update  # noqa: E402

from bench.harness import percentile  # noqa: E402
from bot.env_values import Secret  # noqa: E402
from bot.ports import RunningPlatforms  # noqa: E402
from bot.webhooks.delivery import WebhookSender  # noqa: E402
from bot.webhooks.endpoints import WebhookEndpoints  # noqa: E402
from bot.webhooks.outbox import MINT_CONFIRMED, Event, mints_ended  # noqa: E402
from bot.webhooks.settings import WebhookSettings  # noqa: E402
from bot.webhooks.signing import new_secret, signed_headers  # noqa: E402
from bot.webhooks.vault import SecretBox  # noqa: E402
from db.engine import create_db_engine, session_factory, sqlite_url, upgrade  # noqa: E402
from db.models import MintRequest, Phase, utcnow  # noqa: E402
from tests.webhook_receiver import Receiver, receiving  # noqa: E402

PER_TRANSACTION = 50
SETTINGS = WebhookSettings(
    allow_loopback=True, timeout_s=5, retry_base_s=0.1, retry_max_s=2, poll_s=0.05
)


def figures(
    name: str, receiver: Receiver, started: dict[str, float], took: float
) -> dict[str, Any]:
    waits = [receiver.accepted_at[e] - started[e] for e in receiver.accepted_at if e in started]
    return {
        "run": name,
        "delivered": len(receiver.accepted),
        "duplicates_seen_by_receiver": receiver.duplicates,
        "requests_seen": sum(receiver.tries.values()),
        "refused_signatures": receiver.refused,
        "p50_delivery_s": round(percentile(waits, 0.5), 4) if waits else None,
        "p99_delivery_s": round(percentile(waits, 0.99), 4) if waits else None,
        "wall_s": round(took, 3),
    }


async def floor(events: int) -> dict[str, Any]:
    """Signed POSTs straight to a receiver that never fails: no database, no retries."""
    secret = new_secret()
    async with receiving(secret) as receiver, aiohttp.ClientSession() as client:
        limit = asyncio.Semaphore(64)
        start = time.monotonic()

        async def post(n: int) -> None:
            event = Event(MINT_CONFIRMED, str(n), "bench", "guild", {"request_id": n})
            body = event.body(utcnow()).encode()
            headers = signed_headers(secret, event.id, int(time.time()), body)
            async with limit, client.post(receiver.url, data=body, headers=headers) as response:
                await response.read()

        await asyncio.gather(*(post(n) for n in range(1, events + 1)))
        started = dict.fromkeys(receiver.accepted_at, start)
        return figures(
            "floor: direct POST, never fails", receiver, started, time.monotonic() - start
        )


async def through_outbox(name: str, events: int, fail_rate: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as directory:
        engine = create_db_engine(sqlite_url(Path(directory)))
        try:
            await upgrade(engine)
            return await _outbox_run(name, engine, events, fail_rate)
        finally:
            await engine.dispose()


async def _outbox_run(name: str, engine: Any, events: int, fail_rate: float) -> dict[str, Any]:
    sessions = session_factory(engine)
    secret = new_secret()
    async with receiving(secret, fail_rate=fail_rate) as receiver:
        box = SecretBox(b"bench")
        await WebhookEndpoints(sessions, box, allow_loopback=True).sync_global((receiver.url,))
        async with sessions.begin() as session:
            await session.execute(insert(MintRequest), [_request(n) for n in range(1, events + 1)])
        settings = WebhookSettings(**{**SETTINGS.__dict__, "secret": Secret(secret)})
        worker = asyncio.ensure_future(
            WebhookSender(sessions, settings, RunningPlatforms(), box, shared=False).run()
        )
        started: dict[str, float] = {}
        start = time.monotonic()
        try:
            for first in range(1, events + 1, PER_TRANSACTION):
                ids = list(range(first, min(first + PER_TRANSACTION, events + 1)))
                async with sessions.begin() as session:  # the batcher's confirmation, with its hook
                    await session.execute(
                        update(MintRequest)
                        .where(MintRequest.id.in_(ids))
                        .values(phase=Phase.CONFIRMED)
                    )
                    await mints_ended(session, ids, MINT_CONFIRMED)
                committed = time.monotonic()
                started.update((f"evt_mint_confirmed_{i}", committed) for i in ids)
            await receiver.wait_for(lambda: len(receiver.accepted) >= events, timeout=300)
        finally:
            worker.cancel()
            await asyncio.gather(worker, return_exceptions=True)
        return figures(name, receiver, started, time.monotonic() - start)


def _request(n: int) -> dict[str, Any]:
    return {
        "id": n,
        "platform": "bench",
        "chat_id": "chat",
        "message_id": str(n),
        "fingerprint": "f" * 64,
        "requester_id": "u1",
        "community_id": "guild",
        "name": f"Art {n}",
        "description": "",
        "upload_digest": "d" * 64,
        "phase": Phase.SENT,
        "token_id": f"0x{n:064x}",
        "custodial": False,
        "attempts": 0,
    }


async def measure(events: int, fail_rate: float) -> list[dict[str, Any]]:
    return [
        await floor(events),
        await through_outbox("outbox, never fails", events, 0.0),
        await through_outbox(f"outbox, fails {fail_rate:.0%} at random", events, fail_rate),
    ]


def table(runs: list[dict[str, Any]]) -> str:
    head = f"{'run':<36} {'delivered':>9} {'dupes':>5} {'requests':>8} {'p50 s':>7} {'p99 s':>7}"
    lines = [head, "-" * len(head)]
    for r in runs:
        lines.append(
            f"{r['run']:<36} {r['delivered']:>9} {r['duplicates_seen_by_receiver']:>5} "
            f"{r['requests_seen']:>8} {r['p50_delivery_s']:>7} {r['p99_delivery_s']:>7}"
        )
    floor_p99, failing = runs[0]["p99_delivery_s"], runs[-1]
    lines.append(
        f"\nfailing run: p99 {failing['p99_delivery_s']} s = "
        f"{failing['p99_delivery_s'] / floor_p99:.1f}x the floor's p99 ({floor_p99} s); "
        f"back-off 0.1 s doubling to 2 s"
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--fail-rate", type=float, default=0.3)
    args = parser.parse_args()
    runs = asyncio.run(measure(args.events, args.fail_rate))
    failing = runs[-1]
    if args.json:
        print(
            json.dumps(
                {
                    "delivered": failing["delivered"],
                    "duplicates_seen_by_receiver": failing["duplicates_seen_by_receiver"],
                    "p99_delivery_s": failing["p99_delivery_s"],
                    "runs": runs,
                }
            )
        )
    else:
        print(table(runs))


if __name__ == "__main__":
    main()
