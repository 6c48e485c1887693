"""A test that times out prints its event loop's tasks, where each one waits.

pytest-timeout (signal method) prints the stack of every thread. An end-to-end test that hangs
is nearly always one await that never returns, and there the main thread's stack shows only
the event loop waiting in select. So the alarm handler pytest-timeout installs is wrapped: it
first prints each task of the running loop with the chain of awaits it is suspended in, then
does what it did.
"""

from __future__ import annotations

import asyncio
import io
import signal
import threading
from types import FrameType
from typing import Any

import pytest


@pytest.hookimpl(hookwrapper=True)
def pytest_timeout_set_timer(item: pytest.Item, settings: Any) -> Any:
    yield
    if threading.current_thread() is not threading.main_thread():
        return
    installed = signal.getsignal(signal.SIGALRM)
    if not callable(installed):  # not the signal method
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        __tracebackhide__ = True
        print_tasks(item)
        installed(signum, frame)

    signal.signal(signal.SIGALRM, handler)


def print_tasks(item: pytest.Item) -> None:
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:  # timed out outside the loop: the threads' stacks tell it all
        return
    terminal = item.config.get_terminal_writer()
    tasks = sorted(asyncio.all_tasks(loop), key=lambda task: task.get_name())
    terminal.sep("+", title=f"{len(tasks)} asyncio tasks at the timeout")
    for task in tasks:
        stack = io.StringIO()
        task.print_stack(file=stack)  # its chain of awaits, outermost first
        terminal.write(stack.getvalue())
