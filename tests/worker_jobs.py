"""Test-only work for `IsolatingPool`: jobs that misbehave in the ways a hostile file can make
a decoder misbehave. Kept apart from the tests so a spawned worker imports little."""

from __future__ import annotations

import hashlib
import os
import signal
import time
from dataclasses import dataclass

from bot.minting.workers import CpuBudgetExceeded, job_budget


@dataclass(frozen=True)
class Task:
    id: int
    act: str = "ok"


def run_tasks(cpu_seconds: float, tasks: list[Task]) -> dict[int, str]:
    """Each task's result; some acts take the worker down instead."""
    done: dict[int, str] = {}
    for task in tasks:
        try:
            with job_budget(task.id, cpu_seconds):
                if task.act == "die":  # as the OOM killer or a segfault would
                    os.kill(os.getpid(), signal.SIGKILL)
                elif task.act == "spin-in-c":  # C code that releases the GIL and never returns
                    hashlib.pbkdf2_hmac("sha256", b"password", b"salt", 2**31 - 1)
                elif task.act == "hold-gil":  # C code that holds the GIL: no thread can run
                    sum(range(10**14))
                elif task.act == "hang":  # blocked without using CPU: no CPU cap notices
                    time.sleep(3600)
                elif task.act == "spin":  # Python code: the soft timer interrupts it
                    while True:
                        pass
        except CpuBudgetExceeded:
            done[task.id] = "too slow"
        else:
            done[task.id] = f"done {task.id}"
    if any(task.act == "die-after" for task in tasks):
        os.kill(os.getpid(), signal.SIGKILL)  # no job in flight: only bisection can tell
    return done
