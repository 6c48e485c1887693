"""Live "claimed N / supply" counters under drop announcements, debounced.

A burst of claims must not become a burst of message edits: chat APIs allow a handful of edits
per channel every few seconds (Discord) or about one message a second per chat (Telegram).
After a claim, one edit within `interval` seconds shows every claim made until then; claims
that arrive while an edit is under way lead to exactly one more edit. With `turn`, processes
that claim for the same drop take turns too: an edit waits until no process edited its
announcements within `interval` (the database decides, `bot.shared_turns`), and each process
edits after its own last claim, so the last count is always shown.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from bot.i18n import detached

log = logging.getLogger(__name__)


class LiveCounters:
    def __init__(
        self,
        show: Callable[[int], Awaitable[None]],
        interval: float = 2.0,
        turn: Callable[[int, float], Awaitable[float]] | None = None,
    ) -> None:
        """`show(drop_id)` edits the drop's announcements to its current count; `turn(drop_id,
        interval)` takes the drop's turn across processes (0, or the seconds to wait)."""
        self._show = show
        self._interval = interval
        self._turn = turn
        self._dirty: set[int] = set()
        self._tasks: dict[int, asyncio.Task[None]] = {}

    def touch(self, drop_id: int) -> None:
        """The drop's count changed: show it soon."""
        self._dirty.add(drop_id)
        if drop_id not in self._tasks:
            # A member's claim starts the task; the count it shows is everybody's.
            task = asyncio.get_running_loop().create_task(self._run(drop_id), context=detached())
            self._tasks[drop_id] = task
            task.add_done_callback(lambda _: self._tasks.pop(drop_id, None))

    async def _run(self, drop_id: int) -> None:
        wait = self._interval
        while drop_id in self._dirty:
            await asyncio.sleep(wait)
            wait = self._interval
            try:
                later = await self._turn(drop_id, wait) if self._turn is not None else 0.0
            except Exception:  # the database is away: edit as if this process were alone
                log.warning("no turn for the counter of drop %d", drop_id, exc_info=True)
                later = 0.0
            if later:
                wait = later  # another process edited just now: ours comes after it
                continue
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
