"""Live "claimed N / supply" counters under drop announcements, debounced.

A burst of claims must not become a burst of message edits: chat APIs allow a handful of edits
per channel every few seconds (Discord) or about one message a second per chat (Telegram).
After a claim, one edit within `interval` seconds shows every claim made until then; claims
that arrive while an edit is under way lead to exactly one more edit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


class LiveCounters:
    def __init__(self, show: Callable[[int], Awaitable[None]], interval: float = 2.0) -> None:
        """`show(drop_id)` edits the drop's announcements to its current count."""
        self._show = show
        self._interval = interval
        self._dirty: set[int] = set()
        self._tasks: dict[int, asyncio.Task[None]] = {}

    def touch(self, drop_id: int) -> None:
        """The drop's count changed: show it soon."""
        self._dirty.add(drop_id)
        if drop_id not in self._tasks:
            task = asyncio.get_running_loop().create_task(self._run(drop_id))
            self._tasks[drop_id] = task
            task.add_done_callback(lambda _: self._tasks.pop(drop_id, None))

    async def _run(self, drop_id: int) -> None:
        while drop_id in self._dirty:
            await asyncio.sleep(self._interval)
            self._dirty.discard(drop_id)
            try:
                await self._show(drop_id)
            except Exception:
                log.warning("updating the counter of drop %d failed", drop_id, exc_info=True)

    async def close(self) -> None:
        for task in list(self._tasks.values()):
            task.cancel()
        for task in list(self._tasks.values()):
            with contextlib.suppress(asyncio.CancelledError):
                await task
