"""Whether a burst of updates is still being fetched from Telegram.

A new status message shows its chat's requests of the pages read so far. While more pages of a
burst wait at Telegram, it holds back a moment, so that it shows them all at once instead of an
edit for the rest later, which would cost the chat another of its messages a minute.
"""

from __future__ import annotations

import asyncio
import contextlib

# A new message waits at most this long for a burst being fetched to be in, then this long more
# for the handlers of its last page to add their lines.
BACKLOG_WAIT_S = 1.0
BACKLOG_SETTLE_S = 0.05


class Backlog:
    """Whether more updates are known to wait at Telegram: the last page of getUpdates was
    full. Each message sent then would show only its chat's requests of the pages read so far,
    and the rest of the burst would cost that chat an edit out of the same overall limit."""

    def __init__(self) -> None:
        self._drained = asyncio.Event()
        self._drained.set()

    @property
    def waiting(self) -> bool:
        return not self._drained.is_set()

    def page(self, *, full: bool) -> None:
        """A page of updates was taken; `full`: more are likely waiting."""
        if full:
            self._drained.clear()
        else:
            self._drained.set()

    async def drained(self) -> None:
        """Return at once unless a burst is being fetched; else once it is in (or after
        BACKLOG_WAIT_S) and its last handlers have had a moment to add their lines."""
        if self._drained.is_set():
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(BACKLOG_WAIT_S):
                await self._drained.wait()
        await asyncio.sleep(BACKLOG_SETTLE_S)
