"""Who and where the console is: one member, the admin of their own community ("local"),
and the screen the console's commands print on."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any, TextIO

from bot.communities import Asker

PLATFORM = "console"
# The console is one community with one channel and one member, who administers it.
COMMUNITY = "local"
CHANNEL = "local"
USER_ID = "local"
USER_NAME = "console"
ASKER = Asker(user_id=USER_ID, is_admin=True, member_of=COMMUNITY)

# A command's handler: the rest of the line in, the answer to print out (None: nothing).
Handler = Callable[[str], Awaitable[str | None]]


def fresh_id() -> str:
    """A new message ID: every line typed is a message of its own."""
    return str(time.time_ns())


def read_file(path: str) -> bytes:
    """The file a command names (an image), read from disk; raises `OSError`."""
    return Path(path).expanduser().read_bytes()


class Screen:
    """Where the console prints, and the work it finishes later (a withdrawal's outcome),
    cancelled when the console stops."""

    def __init__(self, output: TextIO) -> None:
        self.output = output
        self._later: set[asyncio.Task[None]] = set()

    def say(self, text: str) -> None:
        print(text, file=self.output, flush=True)

    def later(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(work)
        self._later.add(task)
        task.add_done_callback(self._later.discard)

    async def close(self) -> None:
        for task in list(self._later):
            task.cancel()
        await asyncio.gather(*self._later, return_exceptions=True)
