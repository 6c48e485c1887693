"""Acknowledge a burst of chat requests before working on any of them."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator


class AcknowledgeFirst:
    """Acknowledgements have a deadline (Discord allows 3 s; a chat user expects an answer
    at once); what follows them does not.

    Under a burst, the work after one request's acknowledgement (the database, the download)
    would share the event loop with the acknowledgements still to send, so it waits until none
    is pending, for at most `patience_s`.
    """

    def __init__(self, patience_s: float = 2.0, quiet_s: float = 0.05) -> None:
        self._pending = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._patience_s = patience_s
        self._quiet_s = quiet_s

    @contextlib.asynccontextmanager
    async def acknowledging(self) -> AsyncIterator[None]:
        self._pending += 1
        self._idle.clear()
        try:
            yield
        finally:
            self._pending -= 1
            if not self._pending:
                self._idle.set()

    async def settled(self) -> None:
        """Return once no acknowledgement has been pending for `quiet_s` (a burst arrives over
        several gateway reads), or once patience runs out."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self._patience_s):
                while True:
                    await self._idle.wait()
                    await asyncio.sleep(self._quiet_s)
                    if self._idle.is_set():
                        return
