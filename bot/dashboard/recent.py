"""A community's requests by phase, counted at most once every few seconds.

Counting by phase reads every one of a community's requests (from the index alone, but all of
them: 15 ms for 100,000 on PostgreSQL here), and the counts change as the pipeline moves, not
as an admin clicks: so the overview shows counts at most PHASE_COUNTS_TTL_S old, and admins
asking while they are being counted share that one count.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable

PHASE_COUNTS_TTL_S = 5.0
Key = tuple[str, str]
Read = Callable[[str, str], Awaitable[dict[str, int]]]


class RecentCounts:
    """Counts by (platform, community), each kept `ttl` seconds, the `size` most recently
    used at most. A failed count is never kept: every asker of it gets the error."""

    def __init__(
        self,
        read: Read,
        *,
        ttl: float = PHASE_COUNTS_TTL_S,
        size: int = 256,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.read = read
        self.ttl = ttl
        self.size = size
        self.clock = clock
        self._kept: OrderedDict[Key, tuple[float, dict[str, int]]] = OrderedDict()
        self._reading: dict[Key, asyncio.Future[dict[str, int]]] = {}

    async def get(self, platform: str, community_id: str) -> dict[str, int]:
        key = (platform, community_id)
        kept = self._kept.get(key)
        if kept is not None and kept[0] > self.clock():
            self._kept.move_to_end(key)
            return dict(kept[1])
        reading = self._reading.get(key)
        if reading is None:
            reading = asyncio.ensure_future(self._read(key))
            self._reading[key] = reading
            reading.add_done_callback(lambda done: self._done(key, done))
        # Shielded: one asker going away does not cancel the count the others await.
        return dict(await asyncio.shield(reading))

    async def _read(self, key: Key) -> dict[str, int]:
        counts = await self.read(*key)
        self._kept[key] = (self.clock() + self.ttl, counts)
        self._kept.move_to_end(key)
        while len(self._kept) > self.size:
            self._kept.popitem(last=False)
        return counts

    def _done(self, key: Key, done: asyncio.Future[dict[str, int]]) -> None:
        self._reading.pop(key, None)
        if not done.cancelled():
            done.exception()  # an error reaches every asker; none is left unretrieved
