"""The messages this bot sent Telegram in the last minute, kept across restarts.

Telegram counts a bot's messages per bot, not per process: a bot restarted seconds after a
burst must not start as if its chats had heard nothing for a minute. When a message starts, a
line (wall-clock time, chat) is appended to a file in the journal's directory; at start, the
last minute of the files of processes that died fills the windows again. A line is written at
the start, not the end, because a process killed while a message was under way may well have
delivered it: Telegram counts it, though no answer came back. The next start cannot know when
such a message arrived, only that it was before the process died and at most CALL_S after it
started, so every message counts as ended CALL_S after its start (or now, if sooner). A killed
process loses nothing the kernel was given.

Several chat processes may share the directory (one data volume), each keeping to its share of
the limits. Each life of a process writes files of its own, `<life>.<n>.log`, and holds an
exclusive lock on `<life>.lock` while it runs; the kernel lets go of the lock when the process
dies, however it dies. So a starting process counts the lines of every life whose lock is free
(its own earlier life among them) and leaves those of the living to them: they keep to their
own share. A life's files are deleted once nothing in them is recent.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import secrets
import time
from pathlib import Path
from typing import IO

log = logging.getLogger(__name__)

# Telegram's longest window (a group's minute).
KEEP_S = 60.0
# The longest a message call lasts: the Bot API client's pool, connect, write and read
# timeouts, 5 s each (bot/telegram/transport.py).
CALL_S = 20.0
# A life starts a new file this often and deletes the one before the last: the last two
# always hold every line that may still count.
ROTATE_S = KEEP_S + CALL_S


class SentJournal:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._life = f"{int(time.time())}-{os.getpid()}-{secrets.token_hex(4)}"
        self._lock: IO[bytes] | None = None
        self._file: IO[str] | None = None
        self._part = 0
        self._part_started = 0.0

    def open(self) -> list[tuple[float, str]]:
        """Start a life of this journal; returns the messages of lives that ended that may
        have ended in the last minute, as (seconds since they may have ended, chat), oldest
        first."""
        self.directory.mkdir(parents=True, exist_ok=True)
        # The one file of versions before per-life files: an ended life's, read once.
        legacy = self.directory.with_suffix(".log")
        recent = _recent(legacy)
        self._remove(legacy)
        for lock_path in sorted(self.directory.glob("*.lock")):
            recent += self._ended_life(lock_path)
        recent.sort(key=lambda entry: -entry[0])
        # Locked before it is seen under its name: a lock file anyone finds free is an ended
        # life's.
        hidden = self.directory / f".{self._life}.starting"
        self._lock = hidden.open("wb")
        fcntl.flock(self._lock, fcntl.LOCK_EX)  # a name of its own: never waits
        hidden.rename(self.directory / f"{self._life}.lock")
        self._start_part()
        return [(max(started - CALL_S, 0.0), chat) for started, chat in recent]

    def record(self, chat_id: int | str) -> None:
        if self._file is None:
            return
        now = time.time()
        with contextlib.suppress(OSError):  # a full disk must not stop the answers
            if now - self._part_started >= ROTATE_S:
                self._file.close()
                self._remove(self._log_path(self._life, self._part - 1))
                self._start_part()
            self._file.write(f"{now:.3f} {chat_id}\n")

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        if self._lock is not None:
            self._lock.close()  # the lock goes with it: the next start counts this life
            self._lock = None

    # ----- files ---------------------------------------------------------------------------

    def _start_part(self) -> None:
        self._part += 1
        self._part_started = time.time()
        self._file = self._log_path(self._life, self._part).open("a", encoding="utf-8", buffering=1)

    def _log_path(self, life: str, part: int) -> Path:
        return self.directory / f"{life}.{part}.log"

    def _ended_life(self, lock_path: Path) -> list[tuple[float, str]]:
        """The recent lines of the life whose lock this is, if it ended; none if it runs. A
        life with nothing recent left is deleted."""
        try:
            lock = lock_path.open("rb")
        except OSError:  # deleted meanwhile by another starting process
            return []
        with lock:
            try:  # shared: processes starting together may all read an ended life
                fcntl.flock(lock, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return []  # it runs, and keeps to its own share
            logs = sorted(self.directory.glob(f"{lock_path.stem}.*.log"))
            recent = [entry for path in logs for entry in _recent(path)]
            if not recent:
                with contextlib.suppress(BlockingIOError):
                    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    for path in [*logs, lock_path]:
                        self._remove(path)
            return recent

    @staticmethod
    def _remove(path: Path) -> None:
        try:
            path.unlink(missing_ok=True)
        except OSError as err:
            log.warning("telegram: could not delete %s: %s", path.name, err)


def _recent(path: Path) -> list[tuple[float, str]]:
    """(seconds since it started, chat) of each message in the file that may have ended in
    the last minute; torn or foreign lines are skipped."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
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
            recent.append((max(ago, 0.0), chat))
    return recent
