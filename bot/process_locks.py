"""What only one process may do at a time, and how the database side decides it.

- SQLite is one process's database: `run` holds an exclusive lock on a file next to it
  (`<database>.lock`, fcntl) for the process's life, so a second `run` on the same file refuses
  to start. The kernel drops the lock when the process ends, however it ends.
- Telegram long polling is one process's job (two `getUpdates` loops would take each other's
  updates): on PostgreSQL the polling process holds a session advisory lock on a connection of
  its own for as long as it polls; PostgreSQL drops it when that connection ends.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import secrets
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.errors import ConfigError


def process_identity() -> str:
    """This process among all that share the database, as the leases it holds name it: host,
    pid and a random part (a pid is reused after a restart; the lease it held must not be)."""
    return f"{socket.gethostname()[:48]}:{os.getpid()}:{secrets.token_hex(4)}"


def sqlite_lock_path(database_url: str) -> Path | None:
    """The lock file of a SQLite database file (None: not SQLite, or in memory)."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return Path(f"{url.database}.lock").resolve()


@contextlib.contextmanager
def only_process_on(database_url: str) -> Iterator[None]:
    """Hold the SQLite database's lock file while the block runs; raise `ConfigError` at once
    if another process holds it. Does nothing for PostgreSQL, where any number may run."""
    path = sqlite_lock_path(database_url)
    if path is None:
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    # Opened without truncating: the holder's PID stays readable until we hold the lock.
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            raise ConfigError(
                "DATABASE_URL",
                f"another bot process (PID {holder}) is running on this SQLite database "
                f"(lock {path}); SQLite allows one process: stop that one first, or use "
                "PostgreSQL to run several",
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the lock


def advisory_key(name: str) -> int:
    """A PostgreSQL advisory lock key (a signed 64-bit integer) for `name`."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


class HeldElsewhere(Exception):
    """Another process holds the advisory lock asked for."""


@contextlib.asynccontextmanager
async def advisory_lock(db: AsyncEngine, name: str) -> AsyncIterator[None]:
    """Hold PostgreSQL's session advisory lock `name` on a connection of this block's own, for
    as long as the block runs; raise `HeldElsewhere` at once if another session holds it. On
    SQLite it does nothing: one process runs on it (`only_process_on`)."""
    if db.dialect.name != "postgresql":
        yield
        return
    key = advisory_key(name)
    async with db.connect() as connection:
        taken = await connection.scalar(text("SELECT pg_try_advisory_lock(:key)"), {"key": key})
        await connection.commit()  # the lock is the session's: it outlives the transaction
        if not taken:
            raise HeldElsewhere(name)
        try:
            yield
        finally:
            with contextlib.suppress(Exception):  # a broken connection has dropped it already
                await connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
                await connection.commit()


@contextlib.asynccontextmanager
async def sole_telegram_poller(db: AsyncEngine, bot_id: str) -> AsyncIterator[None]:
    """Be the one process polling Telegram for bot `bot_id` while the block runs, or raise
    `ConfigError` at once saying another process polls."""
    try:
        async with advisory_lock(db, f"mintbot telegram long polling {bot_id}"):
            yield
    except HeldElsewhere:
        raise ConfigError(
            "TELEGRAM_WEBHOOK_URL",
            "another bot process is already polling Telegram for this bot's updates; long "
            "polling runs in one process only: stop that one, or set TELEGRAM_WEBHOOK_URL "
            "so that any number of chat processes can take updates",
        ) from None
