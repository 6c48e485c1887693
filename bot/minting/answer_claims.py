"""Which process answers a decided request when several run against one PostgreSQL (several
chat processes, Discord shards in processes of their own): the one holding its claim.

A claim is a PostgreSQL session advisory lock on the request's ID, taken on a connection of
this process's own when its delivery picks the request, and given back once the answer is
recorded (the recording commits first, so a process that takes the claim next finds the request
answered). A process that dies drops its connection, and with it its claims: another answers,
so after a crash an answer may come twice, and always comes. On SQLite one process runs (the
database's lock file says so): every request is its own, and claiming does nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Collection

from sqlalchemy import bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY, INTEGER
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

log = logging.getLogger(__name__)

# The first half of each claim's two-part advisory key: "answers" (any constant of our own,
# apart from the one-part keys bot.process_locks uses).
CLAIM_CLASS = 0x616E73

_CLAIM = text(
    "SELECT id FROM unnest(:ids) AS id WHERE pg_try_advisory_lock(:class, id)"
).bindparams(bindparam("ids", type_=ARRAY(INTEGER)))
_RELEASE = text("SELECT pg_advisory_unlock(:class, id) FROM unnest(:ids) AS id").bindparams(
    bindparam("ids", type_=ARRAY(INTEGER))
)


class AnswerClaims:
    def __init__(self, db: AsyncEngine | None) -> None:
        self.db = db if db is not None and db.dialect.name == "postgresql" else None
        self._connection: AsyncConnection | None = None
        self._lock = asyncio.Lock()  # one statement at a time on the claims' connection

    @property
    def shared(self) -> bool:
        """Whether other processes may answer too (PostgreSQL)."""
        return self.db is not None

    async def claim(self, ids: Collection[int]) -> set[int]:
        """Those of `ids` this process now holds the claim of (all of them on SQLite)."""
        if self.db is None or not ids:
            return set(ids)
        async with self._lock:
            try:
                connection = await self._connect()
                rows = await connection.execute(_CLAIM, {"ids": list(ids), "class": CLAIM_CLASS})
                claimed = {int(row[0]) for row in rows}
                await connection.commit()  # the locks are the session's, not the transaction's
                return claimed
            except Exception:
                await self._drop()  # its claims went with it
                raise

    async def release(self, ids: Collection[int]) -> None:
        """Give the claims of `ids` back (their answers are recorded, or will be taken up
        again). A broken connection has given them back already."""
        if self.db is None or not ids:
            return
        async with self._lock:
            if self._connection is None:
                return
            try:
                await self._connection.execute(_RELEASE, {"ids": list(ids), "class": CLAIM_CLASS})
                await self._connection.commit()
            except Exception:
                log.warning("giving answer claims back failed; dropping them all", exc_info=True)
                await self._drop()

    async def close(self) -> None:
        async with self._lock:
            await self._drop()

    async def _connect(self) -> AsyncConnection:
        assert self.db is not None
        if self._connection is None:
            self._connection = await self.db.connect()
        return self._connection

    async def _drop(self) -> None:
        """Close the claims' connection for good (not back into the pool, where a session
        would keep its advisory locks): PostgreSQL gives every claim of it back."""
        if self._connection is not None:
            with contextlib.suppress(Exception):
                await self._connection.invalidate()
            with contextlib.suppress(Exception):
                await self._connection.close()
            self._connection = None
