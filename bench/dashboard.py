"""The admin dashboard's pages for a community with 100,000 requests, beside floors served by
the same web server in the same run.

    python bench/dashboard.py [--json] [--requests N] [--samples N] [--postgres URL]
                              [--without-indexes]

For each database (SQLite always; PostgreSQL when MINTBOT_TEST_POSTGRES_URL or --postgres names
a server, on a fresh database of its own, dropped at the end) the bench migrates an empty
database, bulk-inserts N requests for one Telegram group (spread over 100 days: mostly minted
and answered, some failed or refused with reasons, some answers given up) and N/5 for other
groups, makes 5 drops with claims, signs in through a real sign-in link, and times every page
`--samples` times, one request after another (keep-alive), on the bot's own web server
(`bot.web_wiring.web_server`, on a real runtime and anvil):

- floor: a page of the same server that reads nothing (added by the bench): what HTTP alone
  costs here;
- gallery: the community's gallery page (`/c/telegram/<group>`), as members load it;
- the dashboard's pages: overview (mints per day, requests by phase), failures and answers,
  drops, hot wallets (the balance is read from anvil), and a drop's claims as CSV;
- phase counts: the overview keeps its counts by phase for 5 seconds, so the query that counts
  them, uncached, is timed on its own (a call, no HTTP): the overview's worst case is about
  its p50 plus this.

`--without-indexes` drops the indexes migration 0028 adds first, to show what they buy.
Target: each dashboard page's p99 under 50 ms (`p99_ms_sqlite`, `p99_ms_postgres`: the worst
page's p99); the floor's p99 is reported beside it, since the machine is shared and noisy.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from sqlalchemy import insert, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import deploy
from bot.app import open_runtime
from bot.chain.devchain import Anvil, free_port
from bot.config import load_settings
from bot.dashboard.pages import COOKIE
from bot.dashboard.queries import DashboardQueries
from bot.dashboard.wiring import sign_in_link
from bot.ports import Claimant
from bot.runtime import Runtime
from bot.web_wiring import web_server
from db.engine import create_db_engine, upgrade
from db.models import MINTED, MintRequest, Phase, utcnow
from tests.support import png

GROUP = "-1001000000001"
IMAGE_CID = "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy"
TARGET_MS = 50.0
INDEXES = ("ix_mint_request_community_phase", "ix_mint_request_community_undeliverable")
# What a busy group's requests look like: mostly minted and answered.
PHASES = [
    (Phase.REPLIED, 0.90),
    (Phase.FAILED, 0.03),
    (Phase.REJECTED, 0.03),
    (Phase.CONFIRMED, 0.02),
    (Phase.QUEUED, 0.02),
]


def request_rows(count: int, community: str, first_id: int, rng: random.Random) -> list[dict]:
    now = utcnow()
    phases = rng.choices([p for p, _ in PHASES], [w for _, w in PHASES], k=count)
    rows = []
    for n, phase in enumerate(phases):
        created = now - timedelta(seconds=rng.uniform(0, 100 * 86400))
        given_up = phase == Phase.CONFIRMED and n % 2 == 0
        rows.append(
            {
                "platform": "telegram",
                "chat_id": community,
                "message_id": str(first_id + n),
                "fingerprint": f"{first_id + n:064x}",
                "requester_id": str(rng.randrange(5000)),
                "requester_name": f"Member {n % 5000}",
                "community_id": community,
                "name": f"Piece {n}",
                "description": "",
                "upload_digest": f"{n:064x}",
                "custodial": True,
                "phase": phase,
                "failure_reason": "the image is not a picture"
                if phase in (Phase.FAILED, Phase.REJECTED)
                else None,
                # Minted: a token ID and content as the pipeline records them (the gallery
                # shows these).
                "token_id": f"0x{first_id + n:064x}" if phase in MINTED else None,
                "image_cid": IMAGE_CID if phase in MINTED else None,
                "metadata_cid": IMAGE_CID if phase in MINTED else None,
                "created_at": created,
                "updated_at": created,
                "undeliverable_at": created if given_up else None,
                "answer_error": "Forbidden: bot was blocked by the user" if given_up else None,
                "attempts": 0,
                "answer_attempts": 100 if given_up else 0,
            }
        )
    return rows


async def fill(runtime: Runtime, requests: int) -> None:
    rng = random.Random(19)
    table = MintRequest.__table__
    plan = [(GROUP, requests)] + [(f"-100200000000{n}", requests // 20) for n in range(4)]
    next_id = 1
    for community, count in plan:
        for start in range(0, count, 5000):
            rows = request_rows(min(5000, count - start), community, next_id, rng)
            next_id += len(rows)
            async with runtime.sessions.begin() as session:
                await session.execute(insert(table), rows)
    for n in range(5):
        drop = await runtime.drops.create_drop(
            platform="telegram",
            community_id=GROUP,
            created_by="admin",
            name=f"Drop {n}",
            image=png(100 + n),
            supply=500,
        )
        for member in range(20):
            await runtime.drops.claim(drop.id, Claimant("telegram", f"m{member}"), f"M{member}")


async def settle(runtime: Runtime, without_indexes: bool) -> None:
    """Statistics up to date (as autovacuum and a periodic ANALYZE keep them), and the
    indexes gone if asked."""
    engine = runtime.sessions.kw["bind"]
    async with engine.connect() as connection:
        connection = await connection.execution_options(isolation_level="AUTOCOMMIT")
        if without_indexes:
            for name in INDEXES:
                await connection.execute(text(f"DROP INDEX {name}"))
        postgres = engine.dialect.name == "postgresql"
        await connection.execute(text("VACUUM ANALYZE" if postgres else "ANALYZE"))


async def time_page(http: aiohttp.ClientSession, url: str, samples: int) -> list[float]:
    for _ in range(5):  # warm: connections, caches, prepared statements
        async with http.get(url) as answer:
            assert answer.status == 200, (url, answer.status, await answer.text())
            await answer.read()
    times = []
    for _ in range(samples):
        started = time.perf_counter()
        async with http.get(url) as answer:
            await answer.read()
        times.append((time.perf_counter() - started) * 1000)
        assert answer.status == 200, url
    return times


def p99(times: list[float]) -> float:
    return statistics.quantiles(times, n=100)[98]


async def measure(database_url: str, node: Anvil, args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as data:
        port = free_port()
        env = await deploy(node, data)
        base = f"http://127.0.0.1:{port}"
        env |= {"DATABASE_URL": database_url, "PUBLIC_BASE_URL": base, "HTTP_PORT": str(port)}
        settings = load_settings(env)
        async with open_runtime(settings, start=False) as runtime:
            await fill(runtime, args.requests)
            await settle(runtime, args.without_indexes)
            server = web_server(runtime, host="127.0.0.1", port=port)
            server.app.router.add_get("/bench/floor", lambda _: _floor())
            await server.start()
            try:
                return await time_pages(runtime, base, args.samples)
            finally:
                await server.stop()


async def _floor() -> web.Response:
    return web.Response(text="ok")


async def time_pages(runtime: Runtime, base: str, samples: int) -> dict[str, Any]:
    jar = aiohttp.CookieJar(unsafe=True)  # cookies of an IP address (loopback)
    async with aiohttp.ClientSession(cookie_jar=jar) as http:
        async with http.get(sign_in_link(runtime.settings, "telegram", GROUP, "admin")) as answer:
            assert answer.status == 200 and COOKIE in answer.cookies, await answer.text()
        home = f"{base}/dashboard/telegram/{GROUP}"
        pages = {
            "floor": f"{base}/bench/floor",
            "gallery": f"{base}/c/telegram/{GROUP}",
            "overview": home,
            "problems": f"{home}/problems",
            "drops": f"{home}/drops",
            "wallets": f"{home}/wallets",
            "claims.csv": f"{home}/drops/1/claims.csv",
        }
        timed = {name: await time_page(http, url, samples) for name, url in pages.items()}
    # The overview keeps its counts by phase for 5 s (bot/dashboard/recent.py): what one
    # count costs, uncached, is timed on its own.
    queries = DashboardQueries(runtime.sessions)
    timed["phase counts"] = [
        await timed_call(lambda: queries.by_phase("telegram", GROUP)) for _ in range(samples)
    ]
    return timed


async def timed_call(call: Callable[[], Awaitable[object]]) -> float:
    started = time.perf_counter()
    await call()
    return (time.perf_counter() - started) * 1000


@contextlib.asynccontextmanager
async def databases(postgres: str | None, directory: Path) -> AsyncIterator[list[tuple]]:
    """SQLite, and a fresh PostgreSQL database when a server is named (dropped at the end)."""
    found = [("sqlite", f"sqlite+aiosqlite:///{directory / 'bench.sqlite3'}")]
    if postgres is None:
        yield found
        return
    import asyncpg

    admin_dsn = postgres.replace("postgresql+asyncpg://", "postgresql://")
    name = f"mintbot_bench_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(admin_dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield [*found, ("postgres", postgres.rsplit("/", 1)[0] + "/" + name)]
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def run(args: argparse.Namespace) -> dict[str, Any]:
    postgres = args.postgres or os.environ.get("MINTBOT_TEST_POSTGRES_URL")
    figures: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as directory, Anvil() as node:
        async with databases(postgres, Path(directory)) as found:
            for backend, url in found:
                engine = create_db_engine(url)
                await upgrade(engine)
                await engine.dispose()
                figures[backend] = await measure(url, node, args)
    return figures


def report(figures: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {"requests": args.requests, "samples": args.samples}
    for backend, pages in figures.items():
        dashboard = [n for n in pages if n not in ("floor", "gallery", "phase counts")]
        out[f"p99_ms_{backend}"] = round(max(p99(pages[n]) for n in dashboard), 2)
        out[f"floor_p99_ms_{backend}"] = round(p99(pages["floor"]), 2)
        out[f"gallery_p99_ms_{backend}"] = round(p99(pages["gallery"]), 2)
        out[f"pages_{backend}"] = {
            n: {"p50_ms": round(statistics.median(t), 2), "p99_ms": round(p99(t), 2)}
            for n, t in pages.items()
        }
        out[f"under_target_{backend}"] = out[f"p99_ms_{backend}"] < TARGET_MS
    out["without_indexes"] = args.without_indexes
    return out


def table(out: dict[str, Any]) -> str:
    lines = [f"{'database':<10} {'page':<12} {'p50 ms':>8} {'p99 ms':>8}"]
    for key, pages in out.items():
        if key.startswith("pages_"):
            for name, times in pages.items():
                row = f"{key[6:]:<10} {name:<12} {times['p50_ms']:>8.2f} {times['p99_ms']:>8.2f}"
                lines.append(row)
    for key, value in out.items():
        if key.startswith("p99_ms_"):
            lines.append(
                f"{key}: {value} (target < {TARGET_MS:.0f}; floor "
                f"{out['floor_' + key]} ms, gallery {out['gallery_' + key]} ms)"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--postgres", help="a PostgreSQL server's URL (its admin database)")
    parser.add_argument("--without-indexes", action="store_true")
    args = parser.parse_args()
    out = report(asyncio.run(run(args)), args)
    print(json.dumps(out) if args.json else table(out))


if __name__ == "__main__":
    main()
