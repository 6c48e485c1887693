"""Stopping on a signal: shared by the bot and the web role, which imports nothing else of
the bot's core."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Iterator


@contextlib.contextmanager
def stop_signals(
    signals: tuple[signal.Signals, ...] = (signal.SIGINT, signal.SIGTERM),
) -> Iterator[asyncio.Event]:
    """An event set by SIGINT or SIGTERM (or `signals`), caught from the moment the block
    starts."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in signals:
        loop.add_signal_handler(sig, stop.set)
    try:
        yield stop
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)


async def wait_for_stop_signal() -> None:
    """Return on SIGINT or SIGTERM."""
    with stop_signals() as stop:
        await stop.wait()
