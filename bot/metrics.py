"""`/metrics`, in the Prometheus text format (the `prometheus-client` package).

Two kinds of numbers, named apart:

- what the database holds, shared by every process (`mintbot_requests{phase}`, the queues,
  each lane's state): read when scraped, so every process reports the same truth;
- what this process did since it started (`mintbot_batch_size`, the confirmations it saw, its
  failed answers): counted in its memory, as Prometheus counters are, and summed over processes
  by whoever scrapes them.

The registry is the runtime's own (built by the composition root), never the package's global
one: two runtimes in one process (the tests run many) count apart.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client import generate_latest as exposition
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from bot.queue_depths import SIGNING_ROLES, Depths

# Mints per batch transaction: one alone up to BATCH_MAX_SIZE's largest sensible values.
BATCH_SIZE_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500)


class PipelineMetrics:
    """What this process's pipeline counts: the size of each batch it signs, the mint
    transactions (and mints) it saw confirmed, and the answers it failed to give."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.batch_sizes = Histogram(
            "mintbot_batch_size",
            "Mints in each batch transaction this process signed.",
            buckets=BATCH_SIZE_BUCKETS,
            registry=registry,
        )
        self.confirmed_transactions = Counter(
            "mintbot_confirmed_mint_transactions",
            "Mint transactions this process saw confirmed on chain.",
            registry=registry,
        )
        self.confirmed_mints = Counter(
            "mintbot_confirmed_mints",
            "Mints (tokens or editions) this process saw confirmed on chain.",
            registry=registry,
        )
        self.answer_failures = Counter(
            "mintbot_answer_failures",
            "Tries at answering a member that failed in this process (each is retried, up to "
            "ANSWER_MAX_ATTEMPTS).",
            registry=registry,
        )


class SharedState(Collector):
    """The database's numbers as gauges, from `depths` read for one scrape (the database is
    asynchronous, a collector is not), and this process's role and lanes. Labels are phases
    and wallet addresses, never a URL or anything secret."""

    def __init__(
        self,
        depths: Depths,
        *,
        role: str,
        wallets: Sequence[str],
        lanes: Mapping[str, Mapping[str, object]],
    ) -> None:
        self.depths = depths
        self.role = role
        self.wallets = tuple(wallets)
        self.lanes = lanes

    def collect(self) -> Iterator[Metric]:
        process = GaugeMetricFamily(
            "mintbot_process", "This process, by its role (always 1).", labels=["role"]
        )
        process.add_metric([self.role], 1)
        yield process
        owned = GaugeMetricFamily(
            "mintbot_lane_owned",
            "1 for each hot wallet whose nonce lane this process signs with.",
            labels=["wallet"],
        )
        stuck = GaugeMetricFamily(
            "mintbot_lane_stuck",
            "1 for each lane this process passes over: an outside transaction holds its next "
            "nonce, or its oldest transaction is unmined past FEE_BUMP_AFTER_S.",
            labels=["wallet"],
        )
        for wallet in self.wallets:
            here = self.lanes.get(wallet, {})
            signs = self.role in SIGNING_ROLES
            owned.add_metric([wallet], 1 if signs and here.get("owned") else 0)
            stuck.add_metric([wallet], 1 if signs and here.get("stuck") else 0)
        yield owned
        yield stuck
        depths = self.depths
        requests = GaugeMetricFamily(
            "mintbot_requests",
            "Mint requests by phase, in the shared database (every process reports the same).",
            labels=["phase"],
        )
        for phase, count in depths.requests_by_phase.items():
            requests.add_metric([phase], count)
        yield requests
        for name, text, value in (
            (
                "mintbot_pins_pending",
                "CIDs waiting to be pinned on a backend.",
                depths.pins_pending,
            ),
            (
                "mintbot_withdrawals_queued",
                "Withdrawals recorded, their transfer not signed yet.",
                depths.withdrawals_queued,
            ),
            (
                "mintbot_inbox_waiting",
                "Chat updates recorded but neither handled nor given up.",
                depths.inbox_waiting,
            ),
            (
                "mintbot_answers_given_up",
                "Decided requests whose answer could not be delivered (given up).",
                depths.answers_given_up,
            ),
        ):
            yield GaugeMetricFamily(name, text, value=value)
        in_flight = GaugeMetricFamily(
            "mintbot_lane_in_flight_transactions",
            "Transactions of each hot wallet signed but not yet confirmed.",
            labels=["wallet"],
        )
        stopped = GaugeMetricFamily(
            "mintbot_lane_signing_stopped",
            "1 while a hot wallet's signing is stopped (a key rotation), else 0.",
            labels=["wallet"],
        )
        for lane in depths.lanes:
            in_flight.add_metric([lane.wallet], lane.in_flight_txs)
            stopped.add_metric([lane.wallet], 0 if lane.signing_stopped is None else 1)
        yield in_flight
        yield stopped


class MetricsPage:
    """The `/metrics` route: the runtime's registry, and the database's gauges read afresh
    for each scrape (one query per figure, whatever the database holds)."""

    def __init__(
        self,
        registry: CollectorRegistry,
        read: Callable[[], Awaitable[Depths]],
        *,
        role: str,
        wallets: Sequence[str],
        lanes: Callable[[], Mapping[str, Mapping[str, object]]] = dict,
    ) -> None:
        self.registry = registry
        self.read = read
        self.role = role
        self.wallets = tuple(wallets)
        self.lanes = lanes

    async def handle(self, _request: web.Request) -> web.Response:
        shared = SharedState(
            await self.read(), role=self.role, wallets=self.wallets, lanes=self.lanes()
        )
        body = exposition(_Together((self.registry, shared)))
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


class _Together(Collector):
    """Several collectors exposed as one. The database's gauges are not registered in the
    runtime's registry: each scrape brings its own, so two routes on one runtime never
    report them twice."""

    def __init__(self, parts: Sequence[Collector]) -> None:
        self.parts = parts

    def collect(self) -> Iterator[Metric]:
        for part in self.parts:
            yield from part.collect()
