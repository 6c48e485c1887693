"""Which process answers a decided request when several run against one PostgreSQL (several
chat processes, Discord shards in processes of their own): the one holding its claim.

A claim is a PostgreSQL session advisory lock on the request's ID, taken on a connection of
this process's own when its delivery picks the request, and given back once the answer is
recorded (the recording commits first, so a process that takes the claim next finds the request
answered). A process that dies drops its connection, and with it its claims: another answers,
so after a crash an answer may come twice, and always comes. On SQLite one process runs (the
database's lock file says so): every request is its own, and claiming does nothing.

A request answered in a message that several requests share (a Telegram chat's status
message, `answered_in`) is answered only by the process that holds the message: each process
that has such a message in memory holds a claim on it (`hold_message`), from sending or
rebuilding it until every line in it is final, and delivery claims the message besides the
request. The holder's session takes its own lock again, so it passes; another process does
not, and leaves the request to it. Two processes never edit one message from two copies of it
(the later edit would undo the earlier one's answers). A holder that dies drops its claims,
and the next process to answer rebuilds the message from the database and holds it.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Collection

from sqlalchemy import bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY, INTEGER
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

log = logging.getLogger(__name__)

# The first half of each claim's two-part advisory key: "answers" (any constant of our own,
# apart from the one-part keys bot.process_locks uses).
CLAIM_CLASS = 0x616E73
# The same for messages shared by several requests' answers ("msg"); the second half is a
# digest of the message's chat and ID (two messages sharing one only take turns).
MESSAGE_CLASS = 0x6D7367

_CLAIM = text(
    "SELECT id FROM unnest(:ids) AS id WHERE pg_try_advisory_lock(:class, id)"
).bindparams(bindparam("ids", type_=ARRAY(INTEGER)))
# Each key once, however often it is listed: taken again by a session that holds it, a lock
# counts once more, and is given back as often.
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

    async def claim(self, ids: Collection[int], of: int = CLAIM_CLASS) -> set[int]:
        """Those of `ids` this process now holds the claim of (all of them on SQLite); `of`:
        requests, or messages (`message_key`)."""
        if self.db is None or not ids:
            return set(ids)
        async with self._lock:
            try:
                connection = await self._connect()
                rows = await connection.execute(_CLAIM, {"ids": list(set(ids)), "class": of})
                claimed = {int(row[0]) for row in rows}
                await connection.commit()  # the locks are the session's, not the transaction's
                return claimed
            except Exception:
                await self._drop()  # its claims went with it
                raise

    async def release(self, ids: Collection[int], of: int = CLAIM_CLASS) -> None:
        """Give the claims of `ids` back (their answers are recorded, or will be taken up
        again). A broken connection has given them back already."""
        if self.db is None or not ids:
            return
        async with self._lock:
            if self._connection is None:
                return
            try:
                await self._connection.execute(_RELEASE, {"ids": list(set(ids)), "class": of})
                await self._connection.commit()
            except Exception:
                log.warning("giving answer claims back failed; dropping them all", exc_info=True)
                await self._drop()

    async def hold_message(self, chat_id: object, message_id: object) -> None:
        """Hold the message this process now has in memory, until `let_go_message`. Best
        effort: the message is shown already, so a database that cannot take the claim is
        logged, not raised (until it can, another process might edit the message too)."""
        if self.db is None:
            return
        try:
            held = await self.claim([message_key(chat_id, message_id)], MESSAGE_CLASS)
        except Exception as err:
            log.warning("could not hold message %s of chat %s: %s", message_id, chat_id, err)
            return
        if not held:
            log.warning("message %s of chat %s is held by another process", message_id, chat_id)

    async def let_go_message(self, chat_id: object, message_id: object) -> None:
        await self.release([message_key(chat_id, message_id)], MESSAGE_CLASS)

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


def message_key(chat_id: object, message_id: object) -> int:
    """The second half of a message's claim: 31 bits of a digest of its chat and ID."""
    digest = hashlib.blake2b(f"{chat_id}:{message_id}".encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big") & 0x7FFFFFFF
