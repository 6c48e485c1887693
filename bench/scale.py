"""Scale-out: mints through one bot process beside one chat and two pipeline processes with two
hot wallets, and that set-up again with one wallet's lane stuck, in one run.

    python bench/scale.py [--json] [--requests N] [--rounds R] [--runs one,three,stuck]
                          [--block-time S] [--wallets 1|2] [--keep DIR]

Each run has its own anvil (2-second blocks), a fresh PostgreSQL database on the server
MINTBOT_TEST_POSTGRES_URL names (default: the one .ci/postgres.sh starts), a collection, and the
Telegram emulator (tests/emulators/telegram/) posting to one webhook URL in front of the chat
processes (tests/scale_cluster.py):
- one: one `python -m bot run --role all`, one hot wallet (HOT_WALLET_PRIVATE_KEY);
- three: one `--role chat` and two `--role pipeline`, two hot wallets (HOT_WALLET_KEYS=k1,k2);
- stuck: as three, with the second wallet's lane held from before the processes start to the
  end of the run by a transaction sent outside the bot (bench/stuck_lane.py says how).
All runs have the same chain: blocks of 199M gas (so block space limits none of them) and the
bot's fee cap MAX_FEE_PER_GAS_GWEI=50, which the outside transaction pays.

N photos captioned `/mint Piece n` come from 40 members in 50 group chats, as fast as Telegram
delivers them to a webhook: at most 40 deliveries open at once (its max_connections default).
A request's latency runs from its delivery to the first sight of its token in a Transfer log
(the bench reads new blocks' logs every 0.25 s); mints per second are N over the time from the
first delivery to the last token seen. Then the bench waits for every answer. Counted over all
runs: duplicates (a token minted twice, or a request with two final answers in its chat) and
lost (a request with no token on chain, or no final answer, by the end).

Targets are ratios to a baseline of the same run: three ≥ 1.5x one, stuck p99 ≤ 1.5x clean
p99 (clean: the three run), duplicates and lost 0. The bench reports them; it asserts nothing.
Beside them, the ceiling: every process of a run shares the machine's cores with the bench,
PostgreSQL and anvil, so the three-process set-up can mint at most (cores / CPU per token, all
of the machine's busy time counted) however well it spreads its work; the bench reports that
ceiling and its ratio to one.
With `--rounds R` each run is made R times, a round's runs one after another, and the figures
are medians (the machine is shared: each run reports the load average as it minted).
`--wallets 1` runs `three` with one wallet and leaves out `stuck` (for a bot without a pool).
`--runs` picks runs; `four` (two chat and two pipeline processes) is there but not a default.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import re
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.stuck_lane import GWEI, hold_lane, roomy_blocks, still_held

CAP_GWEI = 50
OPEN_DELIVERIES = 40  # Telegram's max_connections default for a webhook
LOG_POLL_S = 0.25
MINT_WAIT_S = 900.0  # from the first delivery, how long the bench waits for the last token
ANSWER_WAIT_S = 300.0  # then, how long it waits for the last answer
CORES = os.cpu_count() or 1
DEFAULT_POSTGRES = "postgresql+asyncpg://mintbot:mintbot@127.0.0.1:5432/mintbot"
ERRORS = re.compile(r"\b(ERROR|CRITICAL)\b|Traceback")


class Setup(NamedTuple):
    roles: tuple[str, ...]  # one process of each role listed
    wallets: int
    stuck: bool  # the last wallet's lane held by an outside transaction


RUNS = {
    "one": Setup(("all",), 1, False),
    "three": Setup(("chat", "pipeline", "pipeline"), 2, False),
    "stuck": Setup(("chat", "pipeline", "pipeline"), 2, True),
    # not in the default runs: a second chat process, where the chat role is the bottleneck
    "four": Setup(("chat", "chat", "pipeline", "pipeline"), 2, False),
}
DEFAULT_RUNS = "one,three,stuck"


class TokenWatcher:
    """When each token was first seen minted (a Transfer from the zero address), and how often
    each was minted, read block by block."""

    def __init__(self, w3: Any, contract: str) -> None:
        self.w3, self.contract = w3, contract
        self.seen: dict[int, float] = {}
        self.mints: Counter[int] = Counter()
        self._next_block = 0

    async def read(self) -> None:
        from tests.scale_cluster import TRANSFER, ZERO_TOPIC

        latest = await self.w3.eth.block_number
        if latest < self._next_block:
            return
        logs = await self.w3.eth.get_logs(
            {
                "address": self.contract,
                "fromBlock": self._next_block,
                "toBlock": latest,
                "topics": [TRANSFER, ZERO_TOPIC],
            }
        )
        now = time.monotonic()
        for entry in logs:
            token = int.from_bytes(bytes(entry["topics"][3]), "big")
            self.mints[token] += 1
            self.seen.setdefault(token, now)
        self._next_block = latest + 1

    async def until(self, tokens: int, deadline: float) -> None:
        """Read new blocks until `tokens` tokens are seen or the monotonic `deadline` passes."""
        while len(self.seen) < tokens and time.monotonic() < deadline:
            await self.read()
            await asyncio.sleep(LOG_POLL_S)


async def feed(cluster: Any, requests: int) -> tuple[dict[str, float], list[float]]:
    """Send `requests` mint photos, each to the next chat process in turn, keeping at most
    OPEN_DELIVERIES webhook deliveries unanswered. Returns when each was sent, by request key,
    and how long each delivery took to be answered 2xx (once all are)."""
    sent: dict[str, float] = {}
    taken: list[float] = []
    open_updates: dict[int, tuple[dict[str, Any], float]] = {}  # update_id -> (update, sent)

    def answered() -> int:
        now = time.monotonic()
        for update_id, (update, at) in list(open_updates.items()):
            if cluster.telegram.confirmed(update):
                taken.append(now - at)
                del open_updates[update_id]
        return len(open_updates)

    chat_processes = len(cluster.chat_processes)
    for n in range(requests):
        await _until(lambda: answered() < OPEN_DELIVERIES)
        mint = cluster.send_mint(n, chat_process=n % chat_processes)
        sent[mint.key] = time.monotonic()
        open_updates[mint.update["update_id"]] = (mint.update, sent[mint.key])
    await _until(lambda: answered() == 0)
    return sent, taken


async def _until(condition: Callable[[], bool]) -> None:
    """Poll `condition` (the emulator's record) every 5 ms until it holds."""
    while True:
        if condition():
            return
        await asyncio.sleep(0.005)


async def phases(cluster: Any, every: float, until: asyncio.Task[None]) -> list[Any]:
    """How many requests were in each phase, every `every` seconds until `until` is done:
    [seconds since the first sample, {phase: count}]."""
    from sqlalchemy import func, select

    from db.models import MintRequest

    timeline: list[Any] = []
    start = time.monotonic()
    while not until.done():
        async with cluster.db.connect() as db:
            rows = await db.execute(
                select(MintRequest.phase, func.count()).group_by(MintRequest.phase)
            )
            timeline.append([round(time.monotonic() - start, 1), dict(rows.all())])
        await asyncio.sleep(every)
    return timeline


async def token_ids(cluster: Any) -> dict[str, int]:
    """Each request's token ID as the database has it, by request key."""
    from sqlalchemy import select

    from db.models import MintRequest as R

    async with cluster.db.connect() as db:
        rows = await db.execute(select(R.platform, R.chat_id, R.message_id, R.token_id))
    return {f"{p}:{c}:{m}": int(t, 16) for p, c, m, t in rows if t}


async def health(process: Any) -> Any:
    """The process's /health JSON, or what went wrong asking for it."""
    import aiohttp

    url = f"http://127.0.0.1:{process.env['HTTP_PORT']}/health"
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as http,
            http.get(url) as response,
        ):
            return await response.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError, ValueError) as err:
        return f"unavailable: {err!r}"


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of process `pid` and its live descendants (content workers)."""
    ticks = os.sysconf("SC_CLK_TCK")
    stats: dict[int, tuple[int, float]] = {}  # pid -> (parent, seconds)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        stats[int(stat.parent.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / ticks)
    family, grew = {pid}, True
    while grew:
        grown = family | {p for p, (parent, _) in stats.items() if parent in family}
        grew, family = grown != family, grown
    return sum(stats.get(member, (0, 0.0))[1] for member in family)


def machine_busy_seconds() -> float:
    """CPU time the whole machine spent busy so far, over all its cores (/proc/stat: all but
    idle and iowait): the bot's processes, the bench, PostgreSQL and anvil alike."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def log_errors(process: Any) -> list[str]:
    text = process.log.read_text(errors="replace") if process.log.exists() else ""
    return [line for line in text.splitlines() if ERRORS.search(line)]


async def answers_done(cluster: Any) -> bool:
    from tests.test_telegram import pending

    requests = await cluster.requests()
    if len(requests) < len(cluster.mints) or not all(a for _, a in requests.values()):
        return False
    return all(any(not pending(a) for a in found) for found in cluster.answers().values())


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(0.99 * len(ordered)) - 1))]


async def one_run(name: str, requests: int, block_time: float, wallets: int, root: Path) -> Any:
    from tests.scale_cluster import HOT_KEYS, postgres_cluster
    from tests.test_telegram import pending

    spec = RUNS[name]
    keys = HOT_KEYS[: min(wallets, spec.wallets)]
    env = {"MAX_FEE_PER_GAS_GWEI": str(CAP_GWEI), "LOG_LEVEL": "INFO"}
    async with postgres_cluster(
        root / name, block_time=block_time, hot_keys=keys, env=env
    ) as cluster:
        await roomy_blocks(cluster.w3)
        held = None
        if spec.stuck:
            held = await hold_lane(cluster.w3, keys[-1], CAP_GWEI * GWEI, block_time)
        for i, role in enumerate(spec.roles):
            cluster.add(f"{role}-{i}", role)
        await cluster.start()
        watcher = TokenWatcher(cluster.w3, cluster.collection.address)
        load_before = os.getloadavg()[0]
        cpu_before = {p.name: cpu_seconds(p.proc.pid) for p in cluster.processes}
        bench_cpu = time.process_time()
        machine_before = machine_busy_seconds()
        start = time.monotonic()
        watching = asyncio.create_task(watcher.until(requests, start + MINT_WAIT_S))
        sampling = asyncio.create_task(phases(cluster, 2.0, watching))
        sent, taken = await feed(cluster, requests)
        fed = time.monotonic() - start
        await watching
        timeline = await sampling
        last = max(watcher.seen.values(), default=math.inf)
        # when 99 % of the tokens were seen: the last few alone can set `last`
        seen = sorted(watcher.seen.values())
        most = seen[math.ceil(0.99 * requests) - 1] if len(seen) >= 0.99 * requests else None
        cpu = {p.name: cpu_seconds(p.proc.pid) - cpu_before[p.name] for p in cluster.processes}
        cpu["bench (emulator, front, feed)"] = time.process_time() - bench_cpu
        machine_busy = machine_busy_seconds() - machine_before
        mint_s = time.monotonic() - start
        for _ in range(int(ANSWER_WAIT_S)):
            if await answers_done(cluster):
                break
            await asyncio.sleep(1)
        await watcher.read()
        tokens = await token_ids(cluster)
        answers = cluster.answers()
        latencies = [
            watcher.seen[tokens[key]] - at
            if key in tokens and tokens[key] in watcher.seen
            else math.inf
            for key, at in sent.items()
        ]
        finals = {key: [a for a in found if not pending(a)] for key, found in answers.items()}
        minted_keys = {k for k in sent if k in tokens and tokens[k] in watcher.mints}
        result = {
            "processes": list(spec.roles),
            "wallets": len(keys),
            "requests": requests,
            "fed_s": round(fed, 2),
            "delivery_p50_ms": round(statistics.median(taken) * 1000),
            "delivery_p99_ms": round(p99(taken) * 1000),
            "mints_per_s": requests / (last - start) if math.isfinite(last) else 0.0,
            "s_to_99pct_minted": round(most - start, 1) if most is not None else None,
            "p50_s": _finite(statistics.median(latencies)),
            "p99_s": _finite(p99(latencies)),  # None: more than 1 % never minted
            "minted": len(minted_keys),
            "cpu_s_until_minted": {name: round(v, 1) for name, v in cpu.items()},
            "wall_s_until_minted": round(mint_s, 1),
            # everything on the machine (bot, bench, PostgreSQL, anvil), per token minted, and
            # how many of its cores were busy on average until the last token
            "machine_cpu_ms_per_mint": round(1000 * machine_busy / requests, 2),
            "machine_cores_busy": round(machine_busy / mint_s, 2),
            "machine_cpu_ms_per_mint_but_bench": round(
                1000 * (machine_busy - cpu["bench (emulator, front, feed)"]) / requests, 2
            ),
            # the machine's 1-minute load average as minting began and ended (2 cores: the
            # bench's processes share them with whatever else runs)
            "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)],
            "answered": sum(1 for f in finals.values() if f),
            "tokens_minted_twice": sum(1 for c in watcher.mints.values() if c > 1),
            "answered_twice": sum(1 for f in finals.values() if len(f) > 1),
            "lost": sum(1 for k in sent if k not in minted_keys or not finals.get(k)),
            "phases_every_2_s": timeline,
            "lanes": {lane.wallet: lane.chain_nonce for lane in await cluster.lanes()},
            "health": {p.name: await health(p) for p in cluster.processes},
            "log_errors": {p.name: log_errors(p)[:5] for p in cluster.processes},
            "log_error_count": {p.name: len(log_errors(p)) for p in cluster.processes},
        }
        if held is not None:
            result["held_to_the_end"] = await still_held(cluster.w3, held)
            result["held_wallet"] = held.wallet
        if not all(math.isfinite(x) for x in latencies):
            result["not_minted_report"] = await cluster.report()
        return result


def _finite(value: float) -> float | None:
    return None if math.isinf(value) else round(value, 3)


def _seconds(value: float | None) -> str:
    return "never" if value is None else f"{value:.2f}"


def _median(values: list[float | None]) -> float | None:
    """The median, a missing value (a p99 never reached) counting as infinitely late."""
    middle = statistics.median([math.inf if v is None else v for v in values])
    return None if math.isinf(middle) else round(middle, 3)


def figures(runs: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """The figures the issue asks for, each the median over the rounds of its run."""
    one = _median([r["mints_per_s"] for r in runs["one"]]) or 0.0
    three = _median([r["mints_per_s"] for r in runs["three"]]) or 0.0
    clean_p99 = _median([r["p99_s"] for r in runs["three"]])
    stuck_p99 = _median([r["p99_s"] for r in runs["stuck"]]) if "stuck" in runs else None
    ratio = three / one if one else None
    # The most the three-process set-up could mint on this machine: all its cores busy at the
    # CPU cost per token that run measured.
    three_cost = _median([r["machine_cpu_ms_per_mint"] for r in runs["three"]])
    ceiling = 1000 * CORES / three_cost if three_cost else None
    # The same if the emulator and the feed (the bench's own process) ran elsewhere.
    bot_cost = _median([r["machine_cpu_ms_per_mint_but_bench"] for r in runs["three"]])
    bot_ceiling = 1000 * CORES / bot_cost if bot_cost else None
    stuck_ratio = stuck_p99 / clean_p99 if stuck_p99 is not None and clean_p99 else None
    every = [r for rounds in runs.values() for r in rounds]
    duplicates = sum(r["tokens_minted_twice"] + r["answered_twice"] for r in every)
    lost = sum(r["lost"] for r in every)
    return {
        "one_process_mints_per_s": round(one, 2),
        "three_process_mints_per_s": round(three, 2),
        "p99_s_clean": clean_p99,
        "p99_s_one_lane_stuck": stuck_p99,
        "duplicates": duplicates,
        "lost": lost,
        "three_to_one": round(ratio, 2) if ratio else None,
        "machine_cores": CORES,
        "three_process_ceiling_mints_per_s": round(ceiling, 2) if ceiling else None,
        "ceiling_to_one": round(ceiling / one, 2) if ceiling and one else None,
        "three_process_ceiling_but_bench_mints_per_s": round(bot_ceiling, 2)
        if bot_ceiling
        else None,
        "stuck_to_clean_p99": round(stuck_ratio, 2) if stuck_ratio is not None else None,
        "targets_met": {
            "three_process_mints_per_s >= 1.5 x one": ratio is not None and ratio >= 1.5,
            "p99_s_one_lane_stuck <= 1.5 x clean": stuck_ratio is not None and stuck_ratio <= 1.5,
            "duplicates == 0": duplicates == 0,
            "lost == 0": lost == 0,
        },
    }


def table(runs: dict[str, list[dict[str, Any]]], figs: dict[str, Any]) -> str:
    rows = [
        f"{'run':<9} {'processes':<24} {'wallets':>7} {'requests':>8} {'mints/s':>8} "
        f"{'p50 s':>7} {'p99 s':>7} {'minted':>6} {'answered':>8} {'lost':>5} {'dup':>4} "
        f"{'cores':>5} {'cpu ms':>6} {'load':>10}"
    ]
    # cores: how many of the machine's cores were busy on average while the run minted; cpu
    # ms: the machine's busy CPU time per token (bot, bench, PostgreSQL, anvil)
    for name, rounds in runs.items():
        for i, r in enumerate(rounds):
            dup = r["tokens_minted_twice"] + r["answered_twice"]
            load = "-".join(f"{x:.1f}" for x in r["load_average"])
            rows.append(
                f"{f'{name} {i + 1}':<9} {'+'.join(r['processes']):<24} {r['wallets']:>7} "
                f"{r['requests']:>8} {r['mints_per_s']:>8.2f} {_seconds(r['p50_s']):>7} "
                f"{_seconds(r['p99_s']):>7} {r['minted']:>6} {r['answered']:>8} {r['lost']:>5} "
                f"{dup:>4} {r['machine_cores_busy']:>5.2f} {r['machine_cpu_ms_per_mint']:>6.1f} "
                f"{load:>10}"
            )
    if not figs:  # not every run made: no figures
        return "\n".join(rows)
    met = figs["targets_met"]
    rows += [
        "",
        f"medians: one {figs['one_process_mints_per_s']} mints/s, three "
        f"{figs['three_process_mints_per_s']} mints/s",
        f"three processes: {figs['three_to_one']}x one (target ≥ 1.5x): "
        f"{'met' if met['three_process_mints_per_s >= 1.5 x one'] else 'NOT met'}",
        f"ceiling: {figs['machine_cores']} cores all busy at the three run's CPU per token: "
        f"{figs['three_process_ceiling_mints_per_s']} mints/s, {figs['ceiling_to_one']}x one "
        f"({figs['three_process_ceiling_but_bench_mints_per_s']} mints/s if the bench's own "
        "CPU were spent elsewhere)",
        f"one lane stuck: p99 {figs['p99_s_one_lane_stuck']} s, {figs['stuck_to_clean_p99']}x "
        f"clean {figs['p99_s_clean']} s (target ≤ 1.5x): "
        f"{'met' if met['p99_s_one_lane_stuck <= 1.5 x clean'] else 'NOT met'}",
        f"duplicates {figs['duplicates']}, lost {figs['lost']} (target 0 and 0)",
    ]
    return "\n".join(rows)


async def bench(
    names: list[str], requests: int, block_time: float, wallets: int, rounds: int, keep: Path | None
) -> dict[str, list[dict[str, Any]]]:
    """Each run `rounds` times, the runs of a round one after another (so a change in the
    machine's load falls on every kind of run alike)."""
    names = [n for n in names if wallets > 1 or not RUNS[n].stuck]
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    with tempfile.TemporaryDirectory(prefix="mintbot-scale-") as tmp:
        root = keep or Path(tmp)
        for i in range(rounds):
            for name in names:
                result = await one_run(name, requests, block_time, wallets, root / f"{i + 1}")
                runs[name].append(result)
                print(f"{name} {i + 1}: {result['mints_per_s']:.2f} mints/s", file=sys.stderr)
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--block-time", type=float, default=2.0)
    parser.add_argument("--wallets", type=int, choices=(1, 2), default=2)
    parser.add_argument("--rounds", type=int, default=1, help="run each this often (medians)")
    parser.add_argument("--runs", default=DEFAULT_RUNS, help=f"of {', '.join(RUNS)}")
    parser.add_argument("--keep", type=Path, help="keep logs and data in this directory")
    args = parser.parse_args()
    if unknown := set(args.runs.split(",")) - set(RUNS):
        parser.error(f"unknown runs: {', '.join(sorted(unknown))}; known: {', '.join(RUNS)}")
    os.environ.setdefault("MINTBOT_TEST_POSTGRES_URL", DEFAULT_POSTGRES)
    names = args.runs.split(",")
    runs = asyncio.run(
        bench(names, args.requests, args.block_time, args.wallets, args.rounds, args.keep)
    )
    figs = figures(runs) if {"one", "three"} <= set(runs) else {}
    if args.json:
        print(json.dumps({**figs, "runs": runs}, default=str))
    else:
        print(table(runs, figs))


if __name__ == "__main__":
    main()
