"""Worker processes that no single job can take down with it, and each job's CPU budget.

Content is prepared in worker processes (`bot.minting.content_workers`). There a job does whatever a
hostile file makes a decoder do: raise, spin, eat memory, crash the process. Inside the worker
each job runs under `job_budget`; outside, `IsolatingPool.isolate` restarts a pool whose worker
died and splits the group to find the job that killed it. How a fault is told apart from a
job's:

- Whatever a job raises inside its `job_budget` is that job's: the work function turns it into
  the job's result (a reason), and the other jobs go on.
- A job whose CPU time passes the hard cap (it could not be interrupted at the soft one) ends
  its worker, which records the job first: `Fault.OVERRAN`, no re-run needed.
- Any other death of a worker (a signal, the OOM killer, a segfault, RLIMIT_CPU) is traced by
  running parts of the group again in fresh workers: a job that kills a worker twice when run
  alone is `Fault.CRASHED`.
- After every death a fresh worker must run a trivial probe. If it cannot, the workers
  themselves are broken, which no job caused: `ContentWorkersFailed` is raised and the group
  is left for a later try. So is anything the work function raises outside every job's budget
  (the content store's disk failing, say), as is.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import math
import multiprocessing
import multiprocessing.connection
import os
import resource
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from multiprocessing.sharedctypes import Synchronized
from types import FrameType
from typing import TypeVar

from bot.errors import ContentWorkersFailed
from bot.logs import configure_logging

log = logging.getLogger(__name__)

J = TypeVar("J")
R = TypeVar("R")
T = TypeVar("T")

NOBODY = 0  # no job in flight (job IDs are database row IDs, so never 0)
_EXIT_OVERRAN = 75
_PROBE_TIMEOUT = 60.0  # seconds for a fresh worker to start and answer


class Fault(enum.Enum):
    """Why a job has no result of its own: it took its worker down."""

    CRASHED = "crashed"  # killed a fresh worker twice when run alone
    OVERRAN = "overran"  # passed the hard CPU cap


class CpuBudgetExceeded(BaseException):
    """Raised inside a job that used its CPU budget. A `BaseException`, so that no
    `except Exception` in a decoder swallows it on the way out."""


def hard_cpu_cap(cpu_seconds: float) -> float:
    """CPU seconds after which a job that could not be interrupted ends its worker."""
    return cpu_seconds + max(1.0, cpu_seconds / 2)


@dataclass(frozen=True)
class _Shared:
    """Memory the bot and its workers share: what a worker was doing when it died."""

    in_flight: Synchronized[int]  # the job a worker is on, NOBODY between jobs
    overran: Synchronized[int]  # the job that passed the hard CPU cap
    pid: Synchronized[int]  # the worker running `in_flight`


# Worker-side state, set by `_start_worker` in each worker; None in the bot's own process,
# where `job_budget` does nothing (signals and CPU limits there would hit the bot itself).
_shared: _Shared | None = None
_job: tuple[int, float, float] | None = None  # (job, CPU time at its start, its hard cap)


def _start_worker(shared: _Shared, log_level: str) -> None:
    global _shared
    _shared = shared
    configure_logging(log_level)  # a worker holds no secrets, so there are none to redact
    parent = multiprocessing.parent_process()

    def exit_with_parent() -> None:
        """Exit as soon as the bot process is gone, even if it was killed. An orphaned
        worker would otherwise wait for work forever, holding the bot's output open."""
        if parent is not None:
            multiprocessing.connection.wait([parent.sentinel])
            os._exit(0)

    def enforce_hard_cap() -> None:
        """The hard CPU cap, for a job stuck in C code (where the soft timer's signal cannot
        be handled): runs whenever that code releases the GIL, as Pillow's codecs do."""
        while True:
            time.sleep(0.05)
            job = _job
            if job is not None and time.process_time() - job[1] > job[2]:
                shared.overran.value = job[0]
                os._exit(_EXIT_OVERRAN)

    # Installed once and left in place: it acts only while a job runs, so a signal that
    # arrives just as a job ends is ignored rather than left to SIGPROF's default (exit).
    signal.signal(signal.SIGPROF, _soft_cap_reached)
    threading.Thread(target=exit_with_parent, name="exit-with-parent", daemon=True).start()
    threading.Thread(target=enforce_hard_cap, name="hard-cpu-cap", daemon=True).start()


def _soft_cap_reached(signum: int, frame: FrameType | None) -> None:
    if _job is not None:
        raise CpuBudgetExceeded


@contextlib.contextmanager
def job_budget(job_id: int, cpu_seconds: float) -> Iterator[None]:
    """Run one job of a worker within `cpu_seconds` of CPU time (all threads counted).

    Past the budget, `CpuBudgetExceeded` is raised in the job at its next Python instruction.
    A job stuck in C code is ended with its worker at `hard_cpu_cap`, by a watchdog thread
    that records the job first, or, if even that thread cannot run, by the kernel's
    RLIMIT_CPU a little later. Outside a worker process it runs the job without limits.
    """
    global _job
    shared = _shared
    if shared is None:
        yield
        return
    shared.pid.value = os.getpid()
    shared.in_flight.value = job_id
    started = time.process_time()
    cap = hard_cpu_cap(cpu_seconds)
    limits = resource.getrlimit(resource.RLIMIT_CPU)
    kernel_cap = math.ceil(started + cap) + 1
    if limits[1] != resource.RLIM_INFINITY:
        kernel_cap = min(kernel_cap, limits[1])
    resource.setrlimit(resource.RLIMIT_CPU, (kernel_cap, limits[1]))
    _job = (job_id, started, cap)
    signal.setitimer(signal.ITIMER_PROF, cpu_seconds)
    try:
        yield
    finally:
        # The timer fires at most once: if its handler raises during this clean-up (before
        # `_job` is cleared), the inner `finally` still completes it.
        try:
            _job = None
        finally:
            _job = None
            signal.setitimer(signal.ITIMER_PROF, 0)
            resource.setrlimit(resource.RLIMIT_CPU, limits)
            shared.in_flight.value = NOBODY


def _ready() -> bool:
    return True


class WorkerDied(Exception):
    """A worker process ended while running a group; what it was doing when it did."""

    def __init__(self, in_flight: int, overran: int) -> None:
        super().__init__(f"a content worker died (job in flight: {in_flight or 'none'})")
        self.in_flight = in_flight
        self.overran = overran


class IsolatingPool:
    """A pool of worker processes (spawned on first use) that survives its work: a dead
    worker is replaced, and `isolate` traces the death to the job that caused it.

    Runs one call at a time: what a worker was doing when it died must be that call's.
    """

    def __init__(self, processes: int, *, job_wall_seconds: float, tick: float = 0.5) -> None:
        """`job_wall_seconds`: wall-clock time after which a job that is still running (a
        worker hung without using CPU, which no CPU cap notices) is ended with its worker."""
        self.processes = processes
        self.job_wall_seconds = job_wall_seconds
        self.tick = tick
        self.deaths = 0  # workers lost so far, for logs and tests
        self._context = multiprocessing.get_context("spawn")
        self._shared = _Shared(
            self._context.Value("q", NOBODY),
            self._context.Value("q", NOBODY),
            self._context.Value("q", 0),
        )
        self._pool: ProcessPoolExecutor | None = None
        self._lock = asyncio.Lock()

    @property
    def worker_in_flight(self) -> tuple[int, int]:
        """(job, worker pid) being worked on now, or (NOBODY, pid of the last one)."""
        return self._shared.in_flight.value, self._shared.pid.value

    async def start(self, warm_up: Callable[..., object] = _ready, *args: object) -> None:
        """Start the workers now rather than on first use (it takes about a second), and run
        `warm_up(*args)` in one. Raises `ContentWorkersFailed` if it cannot."""
        async with self._lock:
            await self._probe(warm_up, *args)

    async def run(self, function: Callable[..., T], *args: object) -> T:
        """`function(*args)` in a worker. Raises `WorkerDied` if the worker died."""
        async with self._lock:
            return await self._run(function, *args)

    async def isolate(
        self,
        work: Callable[[list[J]], Mapping[int, R]],
        jobs: list[J],
        key: Callable[[J], int],
    ) -> dict[int, R | Fault]:
        """`work(jobs)` in a worker, and if a job kills the worker, the others' results
        anyway: the group is split and run again in fresh workers until the job is found.

        The split follows the worker's own record of the job it was on when it died (that
        job alone, then the rest) while that record has proved right, else halves. Every
        job is run at most twice alone; each death divides a group or ends a job, so a group
        of n is run at most 3n times in all, and in practice 2·log2(n) + 3 times per culprit
        (3 when the record names it). Raises `ContentWorkersFailed` if a fresh worker cannot
        even run a probe, and whatever `work` raises as is.
        """
        async with self._lock:
            return await self._isolate(work, jobs, key)

    async def _isolate(
        self,
        work: Callable[[list[J]], Mapping[int, R]],
        jobs: list[J],
        key: Callable[[J], int],
    ) -> dict[int, R | Fault]:
        outcome: dict[int, R | Fault] = {}
        pending = [jobs] if jobs else []
        solo_deaths: Counter[int] = Counter()
        suspects: set[int] = set()  # split off on the worker's record; not yet run alone
        trust_record = True
        while pending:
            group = pending.pop()
            try:
                outcome.update(await self._run(work, group))
            except WorkerDied as died:
                self.deaths += 1
                log.warning(
                    "a content worker died running %d request(s) (request in flight: %s, "
                    "over its CPU cap: %s); starting a fresh one",
                    len(group),
                    died.in_flight or "none",
                    died.overran or "none",
                )
                await self._probe()
                ids = {key(job): job for job in group}
                if died.overran in ids:
                    outcome[died.overran] = Fault.OVERRAN
                    pending.append([job for job in group if key(job) != died.overran])
                elif len(group) == 1:
                    (only,) = ids
                    solo_deaths[only] += 1
                    if solo_deaths[only] < 2:
                        pending.append(group)
                    else:
                        log.warning("request %s killed a content worker twice: refused", only)
                        outcome[only] = Fault.CRASHED
                elif trust_record and died.in_flight in ids:
                    suspects.add(died.in_flight)
                    pending.append([job for job in group if key(job) != died.in_flight])
                    pending.append([ids[died.in_flight]])  # popped first
                else:
                    half = len(group) // 2
                    pending.extend((group[half:], group[:half]))
                pending = [group for group in pending if group]
            else:
                if len(group) == 1 and key(group[0]) in suspects:
                    trust_record = False  # the record named an innocent job: bisect from now
        return outcome

    async def _run(self, function: Callable[..., T], *args: object) -> T:
        if self._pool is None:
            self._shared.overran.value = NOBODY
            # spawn, not fork: forking a process that runs threads and an event loop is unsafe.
            self._pool = ProcessPoolExecutor(
                self.processes,
                mp_context=self._context,
                initializer=_start_worker,
                initargs=(self._shared, logging.getLevelName(logging.getLogger().level)),
            )
        self._shared.in_flight.value = NOBODY
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self._pool, function, *args)
        watched, since = NOBODY, loop.time()
        while not future.done():
            await asyncio.wait({future}, timeout=self.tick)
            job, pid = self.worker_in_flight
            if job != watched:
                watched, since = job, loop.time()
            elif job != NOBODY and loop.time() - since > self.job_wall_seconds:
                log.warning(
                    "request %s has run for %.0f s: ending its worker", job, loop.time() - since
                )
                with contextlib.suppress(ProcessLookupError):  # it ended on its own meanwhile
                    os.kill(pid, signal.SIGKILL)
        try:
            return future.result()
        except BrokenProcessPool:
            died = WorkerDied(self._shared.in_flight.value, self._shared.overran.value)
            self.close()
            raise died from None

    async def _probe(self, function: Callable[..., object] = _ready, *args: object) -> None:
        """Start fresh workers if needed and check that one can run anything at all."""
        try:
            await asyncio.wait_for(self._run(function, *args), _PROBE_TIMEOUT)
        except (WorkerDied, TimeoutError, OSError) as err:
            self.close()
            raise ContentWorkersFailed(
                f"content worker processes cannot run even a trivial task ({err})"
            ) from err

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
