"""An HTTP load generator in a process of its own, so its work never runs on the event loop
of the process that measures something else (the Discord emulator's timestamps).

    python bench/http_load.py < plan.json

The plan: {"base": URL, "requests": [{"path": ..., "headers": {...}}, ...], "total": N,
"clients": C}. C clients (each its own keep-alive connection) take the plan's requests in turn
until N are done. Prints "started" when the first request goes out, "warm" once a tenth are
done, then one JSON object: counts by status, bytes, errors, requests/s and latency
percentiles, and the monotonic start and end (CLOCK_MONOTONIC is shared by every process of
the machine, so the caller can line them up with its own timestamps).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import sys
import time
from collections import Counter
from typing import Any

import aiohttp


async def run(plan: dict[str, Any]) -> dict[str, Any]:
    base: str = plan["base"]
    requests: list[dict[str, Any]] = plan["requests"]
    total: int = plan["total"]
    clients: int = plan["clients"]
    order = itertools.cycle(requests)
    taken = itertools.count()
    statuses: Counter[int] = Counter()
    latencies: list[float] = []
    errors: list[str] = []
    received = 0
    warm_at = max(1, total // 10)

    async def client(http: aiohttp.ClientSession) -> None:
        nonlocal received
        while next(taken) < total:
            request = next(order)
            started = time.monotonic()
            try:
                async with http.get(base + request["path"], headers=request.get("headers")) as r:
                    body = await r.read()
                    statuses[r.status] += 1
                    expected = r.headers.get("Content-Length")
                    if expected is not None and int(expected) != len(body):
                        errors.append(f"{request['path']}: {len(body)} of {expected} bytes")
                    received += len(body)
            except (aiohttp.ClientError, TimeoutError) as err:
                errors.append(f"{request['path']}: {type(err).__name__}: {err}")
            latencies.append(time.monotonic() - started)
            if len(latencies) == warm_at:
                print("warm", flush=True)

    connector = aiohttp.TCPConnector(limit=clients, force_close=False)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
        print("started", flush=True)
        start = time.monotonic()
        await asyncio.gather(*(client(http) for _ in range(clients)))
        end = time.monotonic()
    ordered = sorted(latencies)

    def pct(q: float) -> float:
        return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))] * 1000

    return {
        "requests": len(latencies),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "errors": len(errors),
        "first_errors": errors[:5],
        "bytes": received,
        "seconds": end - start,
        "rps": len(latencies) / (end - start),
        "latency_p50_ms": pct(0.5),
        "latency_p99_ms": pct(0.99),
        "start": start,
        "end": end,
    }


def main() -> None:
    # Real clients are elsewhere: here the load takes only the CPU the machine leaves.
    os.nice(19)
    plan = json.load(sys.stdin)
    print(json.dumps(asyncio.run(run(plan))), flush=True)


if __name__ == "__main__":
    main()
