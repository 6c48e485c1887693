"""The messages this bot sent Telegram in the last minute, kept across restarts.

Telegram counts a bot's messages per bot, not per process: a bot restarted seconds after a
burst must not start as if its chats had heard nothing for a minute. When a message starts, a
line (wall-clock time, chat) is appended to a file in the data directory; at start, the last
minute of it fills the windows again. A line is written at the start, not the end, because a
process killed while a message was under way may well have delivered it: Telegram counts it,
though no answer came back. The next start cannot know when such a message arrived, only that
it was before the process died and at most CALL_S after it started, so every message counts
as ended CALL_S after its start (or now, if sooner). A killed process loses nothing the kernel
was given.
"""

from __future__ import annotations

import contextlib
import logging
import time
from pathlib import Path
from typing import IO

from bot.atomic_files import write_atomically

log = logging.getLogger(__name__)

# Telegram's longest window (a group's minute); older lines are dropped when the file is
# rewritten, every this many lines.
KEEP_S = 60.0
REWRITE_EVERY = 2000
# The longest a message call lasts: the Bot API client's pool, connect, write and read
# timeouts, 5 s each (bot/telegram/transport.py).
CALL_S = 20.0


class SentJournal:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: IO[str] | None = None
        self._written = 0

    def open(self) -> list[tuple[float, str]]:
        """Start appending; returns the messages that may have ended in the last minute as
        (seconds since they may have ended, chat), oldest first."""
        recent = self._recent()
        self._rewrite(recent)
        self._file = self.path.open("a", encoding="utf-8", buffering=1)
        return [(max(started - CALL_S, 0.0), chat) for started, chat, _ in recent]

    def record(self, chat_id: int | str) -> None:
        if self._file is None:
            return
        with contextlib.suppress(OSError):  # a full disk must not stop the answers
            self._file.write(f"{time.time():.3f} {chat_id}\n")
            self._written += 1
            if self._written >= REWRITE_EVERY:
                self._file.close()
                self._rewrite(self._recent())
                self._file = self.path.open("a", encoding="utf-8", buffering=1)
                self._written = 0

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def _recent(self) -> list[tuple[float, str, str]]:
        """(seconds since it started, chat, line) of each message that may have ended in the
        last minute; torn or foreign lines are skipped."""
        try:
            text = self.path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return []
        now = time.time()
        recent = []
        for line in text.splitlines():
            at, _, chat = line.partition(" ")
            try:
                ago = now - float(at)
            except ValueError:
                continue
            # A line a little "in the future" (its time was rounded up, or the clock stepped
            # back) counts as just sent: dropping it would let the next start overshoot.
            if -KEEP_S < ago < KEEP_S + CALL_S and chat:
                recent.append((max(ago, 0.0), chat, line))
        recent.sort(key=lambda entry: -entry[0])
        return recent

    def _rewrite(self, recent: list[tuple[float, str, str]]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        body = "".join(f"{line}\n" for _, _, line in recent).encode()
        try:
            write_atomically(self.path, lambda out: out.write(body))
        except OSError as err:
            log.warning("telegram: could not rewrite %s: %s", self.path.name, err)
