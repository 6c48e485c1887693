"""The web server beside a Discord burst: does serving the gallery slow the bot's answers?

    python bench/web.py [--json] [--rounds N] [--requests N] [--clients N] [--interactions N]
                        [--env NAME=VALUE ...]

The bot runs as `python -m bot run` (its web server as it ships) against the Discord emulator
(tests/emulators/discord/) and an anvil with automine. First it mints the tokens the web load
asks for: 24 noise images, 4 of them larger than one 256 KiB IPFS block, and sends the web load
once to each server without a burst (a steady state, not a cold start, is measured). Then each
round runs three bursts of N `/mint` interactions dispatched at once, each after the previous
one's mints are answered:

1. quiet: nothing else running;
2. floor: a load generator in its own process (bench/http_load.py) sends R requests from C
   clients to a server that does nothing of the bot's (bench/floor_server.py), and once a
   tenth of them are done the burst is dispatched: what that much HTTP costs the machine;
3. web load: the same, against the bot's web server: a third each to `/ipfs/<cid>` (one in
   four revalidating with If-None-Match), `/token/<id>` and the gallery
   `/c/discord/<guild>?page=k`.

The load generator runs at niceness 19 (real clients are elsewhere: here they take only the
CPU the machine leaves), the floor server at the niceness the bot gives its web server. Each
figure is the median over the rounds (the machine is shared: one round can be unlucky).
`--env WEB_SERVER=inline` runs the bot with its web server on its own event loop instead.
Targets: `ack_p99_ms_web_load <= 1.2 * ack_p99_ms_quiet` with at least 500 web requests/s.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import io
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.harness import Burst, acknowledged, answered, deploy, mint_burst  # noqa: E402
from bot.chain.devchain import Anvil, free_port  # noqa: E402
from tests.emulators.discord import DiscordServer  # noqa: E402
from tests.support import bot_process, png  # noqa: E402

SEED_SMALL, SEED_LARGE = 20, 4
RPS_TARGET, ACK_RATIO_TARGET = 500, 1.2


def noise_png(rng: random.Random, side: int) -> bytes:
    """A PNG of random pixels: it does not compress, so its size is about 3 bytes a pixel."""
    image = Image.frombytes("RGB", (side, side), rng.randbytes(side * side * 3))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def web_plan(burst: Burst, guild_id: str, pages: int) -> list[dict[str, Any]]:
    """The web requests, interleaved: a content file, a token page, a gallery page, ..."""
    images, tokens = [], []
    for interaction in burst.sent:
        embed = (interaction.original or {}).get("embeds", [{}])[0]
        images.append(urlsplit(embed["image"]["url"]).path)
        tokens.append(urlsplit(embed["url"]).path)
    plan: list[dict[str, Any]] = []
    for n, (image, token) in enumerate(zip(images, tokens, strict=True)):
        cid = image.rsplit("/", 1)[1]
        revalidate = {"If-None-Match": f'"{cid}"'} if n % 4 == 3 else None
        plan.append({"path": image, "headers": revalidate})
        plan.append({"path": token})
        plan.append({"path": f"/c/discord/{guild_id}?page={n % pages + 1}"})
    return plan


async def web_load(
    base: str, plan: list[dict[str, Any]], total: int, clients: int
) -> tuple[asyncio.Event, asyncio.Future[dict[str, Any]]]:
    """Start the load generator: an event set once a tenth of the requests are done, and its
    figures once it ends."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(ROOT / "bench" / "http_load.py"),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert proc.stdin is not None
    proc.stdin.write(
        json.dumps({"base": base, "requests": plan, "total": total, "clients": clients}).encode()
    )
    proc.stdin.close()
    warm = asyncio.Event()
    return warm, asyncio.ensure_future(_figures(proc, warm))


async def _figures(proc: asyncio.subprocess.Process, warm: asyncio.Event) -> dict[str, Any]:
    assert proc.stdout is not None
    result: dict[str, Any] = {}
    async for line in proc.stdout:
        text = line.decode().strip()
        if text == "warm":
            warm.set()
        elif text.startswith("{"):
            result = json.loads(text)
    await proc.wait()
    warm.set()
    return result


async def until_serving(base: str, path: str = "/health", timeout: float = 60) -> None:
    async with aiohttp.ClientSession() as http:
        deadline = time.monotonic() + timeout
        while True:
            try:
                async with http.get(base + path) as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing answered at {base}")
            await asyncio.sleep(0.2)


@contextlib.asynccontextmanager
async def floor_server() -> AsyncIterator[str]:
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(ROOT / "bench" / "floor_server.py"), str(port)
    )
    try:
        base = f"http://127.0.0.1:{port}"
        await until_serving(base, "/")
        yield base
    finally:
        proc.terminate()
        await proc.wait()


class Bench:
    def __init__(self, discord: DiscordServer, members: list[str], args: argparse.Namespace):
        self.discord = discord
        self.members = members
        self.args = args
        self.bursts = 0

    def images(self) -> list[bytes]:
        self.bursts += 1
        return [png(self.bursts * 100_000 + i) for i in range(self.args.interactions)]

    async def quiet(self) -> Burst:
        burst = await mint_burst(self.discord, self.members, self.images(), "Quiet")
        await acknowledged(self.discord, burst, timeout=60)
        await answered(self.discord, burst, timeout=self.args.interactions * 0.2)
        return burst

    async def under_load(self, base: str, plan: list[dict[str, Any]]) -> tuple[Burst, Any]:
        """A burst dispatched once the web load is under way; the load's figures."""
        warm, figures = await web_load(base, plan, self.args.requests, self.args.clients)
        await warm.wait()
        burst = await mint_burst(self.discord, self.members, self.images(), "Loaded")
        await acknowledged(self.discord, burst, timeout=60)
        load = await figures
        await answered(self.discord, burst, timeout=self.args.interactions * 0.2)
        load["acks_under_load"] = load.get("end", 0.0) >= max(
            (i.callback_at or 0.0) for i in burst.sent
        )
        return burst, load


async def run(args: argparse.Namespace) -> dict[str, Any]:
    rng = random.Random(13)
    rounds: list[dict[str, Any]] = []
    with Anvil() as node, tempfile.TemporaryDirectory() as tmp:
        env = await deploy(node, tmp)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        env |= {"HTTP_PORT": str(port), "PUBLIC_BASE_URL": base, **dict(args.env)}
        discord = DiscordServer()
        await discord.start()
        members = [discord.add_member(f"user{i}") for i in range(args.users)]
        seeds = [noise_png(rng, 64) for _ in range(SEED_SMALL)]
        seeds += [noise_png(rng, 400) for _ in range(SEED_LARGE)]
        env |= discord.env()
        bench = Bench(discord, members, args)
        try:
            async with bot_process(env, Path(tmp) / "bot.log"), floor_server() as floor:
                await discord.wait_for(
                    lambda: discord.synced.is_set() and discord.identified.is_set(), 60
                )
                await until_serving(base)
                seeded = await mint_burst(discord, members, seeds, "Seed")
                await answered(discord, seeded, timeout=120)
                if seeded.minted != len(seeds):
                    raise RuntimeError(f"only {seeded.minted} of {len(seeds)} seeds were minted")
                pages = max(1, (len(seeds) + args.interactions) // 12)
                plan = web_plan(seeded, discord.guild_id, min(pages, 10))
                for server in (floor, base):  # steady state: caches warm, processes started
                    await (await web_load(server, plan, args.requests, args.clients))[1]
                for _ in range(args.rounds):
                    quiet = await bench.quiet()
                    floor_burst, floor_load = await bench.under_load(floor, plan)
                    web_burst, web_load_ = await bench.under_load(base, plan)
                    rounds.append(
                        {
                            "ack_p99_ms_quiet": quiet.stats()["ack_p99_ms"],
                            "ack_p99_ms_floor_load": floor_burst.stats()["ack_p99_ms"],
                            "ack_p99_ms_web_load": web_burst.stats()["ack_p99_ms"],
                            "floor_rps": floor_load.get("rps", 0.0),
                            "web_rps": web_load_.get("rps", 0.0),
                            "web": web_load_,
                            "answered": [
                                b.stats()["answered"] for b in (quiet, floor_burst, web_burst)
                            ],
                        }
                    )
        finally:
            await discord.stop()

    def median(key: str) -> float:
        return statistics.median(r[key] or 0.0 for r in rounds)

    quiet_p99, web_p99 = median("ack_p99_ms_quiet"), median("ack_p99_ms_web_load")
    floor_p99 = median("ack_p99_ms_floor_load")
    webs = [r["web"] for r in rounds]
    return {
        "web_rps": median("web_rps"),
        "ack_p99_ms_quiet": quiet_p99,
        "ack_p99_ms_web_load": web_p99,
        "ack_p99_ms_floor_load": floor_p99,
        "floor_rps": median("floor_rps"),
        "ratio_web_load": web_p99 / quiet_p99,
        "ratio_floor_load": floor_p99 / quiet_p99,
        "web_requests": sum(w.get("requests", 0) for w in webs),
        "web_errors": sum(w.get("errors", 0) for w in webs),
        "web_first_errors": [e for w in webs for e in w.get("first_errors", [])][:5],
        "web_statuses": dict(
            sum((collections.Counter(w.get("statuses", {})) for w in webs), collections.Counter())
        ),
        "web_latency_p99_ms": statistics.median(w.get("latency_p99_ms") or 0.0 for w in webs),
        "acks_under_load": all(w.get("acks_under_load") for w in webs),
        "answered": sum(sum(r["answered"]) for r in rounds),
        "interactions": 3 * args.rounds * args.interactions,
        "rounds": [{k: v for k, v in r.items() if k != "web"} for r in rounds],
        "cpus": os.cpu_count(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--interactions", type=int, default=500)
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        type=lambda text: tuple(text.split("=", 1)),
        metavar="NAME=VALUE",
        help="a setting for the bot (say, WEB_SERVER=inline)",
    )
    args = parser.parse_args()
    started = time.monotonic()
    result = asyncio.run(run(args))
    if args.json:
        print(json.dumps(result))
        return
    quiet = result["ack_p99_ms_quiet"]
    rows = [
        ("web requests served", f"{result['web_requests']}", f"{args.rounds * args.requests}"),
        ("web errors", f"{result['web_errors']}", "0"),
        ("web requests/s", f"{result['web_rps']:.0f}", f"≥ {RPS_TARGET}"),
        ("floor requests/s", f"{result['floor_rps']:.0f}", ""),
        ("web latency p99 (ms)", f"{result['web_latency_p99_ms']:.0f}", ""),
        ("ack p99 (ms), quiet", f"{quiet:.0f}", ""),
        ("ack p99 (ms), floor load", f"{result['ack_p99_ms_floor_load']:.0f}", ""),
        (
            "ack p99 (ms), web load",
            f"{result['ack_p99_ms_web_load']:.0f}",
            f"≤ {ACK_RATIO_TARGET * quiet:.0f} ({ACK_RATIO_TARGET} × quiet)",
        ),
        ("ratio web load / quiet", f"{result['ratio_web_load']:.2f}", f"≤ {ACK_RATIO_TARGET}"),
        ("ratio floor load / quiet", f"{result['ratio_floor_load']:.2f}", ""),
        ("acks all under load", "yes" if result["acks_under_load"] else "no", "yes"),
        ("answered", f"{result['answered']}", f"{result['interactions']}"),
    ]
    print(f"{'figure (median of rounds)':<30} {'value':>10}  target")
    for label, value, target in rows:
        print(f"{label:<30} {value:>10}  {target}")
    print("rounds (ack p99 ms quiet / floor / web; web requests/s):")
    for n, r in enumerate(result["rounds"], 1):
        print(
            f"  {n}: {r['ack_p99_ms_quiet']:.0f} / {r['ack_p99_ms_floor_load']:.0f} / "
            f"{r['ack_p99_ms_web_load']:.0f}; {r['web_rps']:.0f}"
        )
    print(f"(whole run {time.monotonic() - started:.0f} s on {result['cpus']} CPUs)")


if __name__ == "__main__":
    main()
