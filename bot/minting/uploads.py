"""Original uploads at rest: sealed while their request is prepared, then shredded.

An upload is the member's original file, GPS position and all. It waits in the database only
until its request has left preparation, but a deleted row is not gone: SQLite keeps it in free
pages and in its write-ahead log, PostgreSQL in dead tuples (a plain VACUUM leaves the bytes
in the page), and both in backups. So each upload is sealed with AES-256-GCM under a random
key of its own, kept in a row of its own (`upload_key`), with the request's message key as
associated data: a sealed upload opens only as the request it was sent with. Once the request
is prepared (or refused) the key row is deleted and the small key table is scrubbed, so that
no copy of a key survives on disk; the ciphertext, wherever a copy lingers, is then noise.

A scrub can find the database in its way: a SQLite reader pins the write-ahead log, and on
PostgreSQL any transaction whose snapshot is older than the deleting one can still see the
deleted rows, so VACUUM FULL has to copy them into the new file. Such a scrub is not counted as
done: it is tried again after the next group, and when the pipeline is idle, a bounded number
of times, and the log says so each time.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Table, delete, func, insert, select, text
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker

from db.models import PREPARING, MintRequest, MintUpload, UploadKey

log = logging.getLogger(__name__)

NONCE_BYTES = 12
# How long a scrub waits for a lock or for readers before leaving the work to the next one:
# while it waits for its lock on PostgreSQL, new uploads wait behind it.
SCRUB_WAIT_MS = 250
# A scrub left undone is tried again when the pipeline is idle: first after SCRUB_RETRY_S, then
# twice as long each time up to SCRUB_RETRY_MAX_S. After SCRUB_TRIES failed tries (about an
# hour) it is given up, with an error in the log, until the next shred or start.
SCRUB_RETRY_S = 5.0
SCRUB_RETRY_MAX_S = 300.0
SCRUB_TRIES = 16

RequestKey = tuple[str, str, str]  # (platform, chat, message)
_UPLOADS: Table = MintUpload.__table__  # type: ignore[assignment]
_KEYS: Table = UploadKey.__table__  # type: ignore[assignment]


@dataclass(frozen=True)
class SealedUpload:
    """An upload as stored: nonce + ciphertext + tag, and the key that opens it."""

    data: bytes = field(repr=False)
    key: bytes = field(repr=False)


def associated_data(request: RequestKey) -> bytes:
    """What binds a sealed upload to its request: authenticated, not encrypted."""
    return json.dumps(["mint_upload", 1, *request]).encode()


def seal(request: RequestKey, upload: bytes) -> SealedUpload:
    """Encrypt `upload` for the request with this message key, under a fresh key."""
    key = AESGCM.generate_key(bit_length=256)
    nonce = os.urandom(NONCE_BYTES)
    data = nonce + AESGCM(key).encrypt(nonce, upload, associated_data(request))
    return SealedUpload(data, key)


def unseal(request: RequestKey, sealed: SealedUpload) -> bytes:
    """The original upload; raises `InvalidTag` if the key or the request does not match."""
    nonce, ciphertext = sealed.data[:NONCE_BYTES], sealed.data[NONCE_BYTES:]
    return AESGCM(sealed.key).decrypt(nonce, ciphertext, associated_data(request))


class UploadVault:
    """Where uploads wait for preparation: `store` them sealed with their request, `open` them
    to prepare it, `shred` them once it is prepared, and `scrub` after that transaction."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions
        self._scrub_due = True  # whatever a previous run left behind
        # PostgreSQL: the rows to scrub were deleted by transactions with IDs below this one
        # (IDs only grow); None until the first shred, or the first scrub of what a previous
        # run left behind.
        self._deleted_before: int | None = None
        self._failed_scrubs = 0
        self._retry_at = 0.0  # time.monotonic() before which an idle retry does nothing
        self._shreds = 0  # a scrub settles only the shreds made before it started
        # A scrub that reports success is done once more, SCRUB_RETRY_S later: a snapshot the
        # check before it could not see (another role's, on PostgreSQL) makes VACUUM FULL keep
        # the deleted rows without a word, and by then that snapshot is mostly gone.
        self._confirmed = False
        self._scrubbing = asyncio.Lock()  # one scrub at a time

    @staticmethod
    async def store(session: AsyncSession, sealed: dict[int, SealedUpload]) -> None:
        """Insert sealed uploads by request ID, in the caller's transaction."""
        if not sealed:
            return
        await session.execute(
            insert(_UPLOADS), [{"request_id": i, "data": s.data} for i, s in sealed.items()]
        )
        await session.execute(
            insert(_KEYS), [{"request_id": i, "key": s.key} for i, s in sealed.items()]
        )

    async def open(
        self, session: AsyncSession, requests: Mapping[int, RequestKey]
    ) -> dict[int, bytes]:
        """The original uploads of these requests (their message keys by request ID), by
        request ID. One whose key is gone, or that does not open as its own request, is left
        out: the caller asks for it again."""
        rows = await session.execute(
            select(MintUpload.request_id, MintUpload.data, UploadKey.key)
            .join(UploadKey, UploadKey.request_id == MintUpload.request_id)
            .where(MintUpload.request_id.in_(requests))
        )
        opened: dict[int, bytes] = {}
        for request_id, data, key in rows:
            request = requests[request_id]
            try:
                opened[request_id] = unseal(request, SealedUpload(data, key))
            except InvalidTag:
                log.warning("the upload of request %s does not open; it is lost", ":".join(request))
        return opened

    async def shred(self, session: AsyncSession, request_ids: list[int]) -> None:
        """Delete the keys and uploads of those requests that have left preparation, in the
        caller's transaction. Call `scrub` once it has committed."""
        prepared = select(MintRequest.id).where(
            MintRequest.id.in_(request_ids), MintRequest.phase.not_in(PREPARING)
        )
        await session.execute(delete(UploadKey).where(UploadKey.request_id.in_(prepared)))
        await session.execute(delete(MintUpload).where(MintUpload.request_id.in_(prepared)))
        if session.get_bind().dialect.name == "postgresql":
            deleter = (await session.execute(select(func.pg_current_xact_id()))).scalar_one()
            self._deleted_before = max(deleter + 1, self._deleted_before or 0)
        self._shreds += 1
        self._scrub_due, self._failed_scrubs, self._retry_at = True, 0, 0.0
        self._confirmed = False

    async def scrub(self) -> None:
        """Leave no copy of a deleted key on disk. SQLite (with secure_delete, which zeroes
        deleted rows in the database file) copies its write-ahead log into the database and
        truncates it; PostgreSQL rewrites the key table into a new file, as VACUUM FULL does,
        and drops the old one, once no transaction can see the deleted rows any more. Either
        may find the database busy: what it could not do stays due and the log says so. The
        call after the next shred does it, and so does any call once the wait after a failure
        (SCRUB_RETRY_S, doubling) has passed; an earlier one returns at once. A scrub that
        succeeds is done once more, a call SCRUB_RETRY_S later."""
        async with self._scrubbing:
            if not self._scrub_due or time.monotonic() < self._retry_at:
                return
            shreds = self._shreds
            problem = await self._scrub_once()
            if self._shreds != shreds:
                return  # what was shredded since is scrubbed by the call after that shred
            if problem is None:
                self._failed_scrubs = 0
                if self._confirmed:
                    self._scrub_due = False
                else:
                    self._confirmed = True
                    self._retry_at = time.monotonic() + SCRUB_RETRY_S
                return
            self._failed_scrubs += 1
            if self._failed_scrubs >= SCRUB_TRIES:
                self._scrub_due = False
                log.error(
                    "shredded upload keys stay on disk until the next mint or start, after %d "
                    "tries: %s",
                    self._failed_scrubs,
                    problem,
                )
                return
            wait = min(SCRUB_RETRY_S * 2 ** (self._failed_scrubs - 1), SCRUB_RETRY_MAX_S)
            self._retry_at = time.monotonic() + wait
            log.warning("shredded upload keys stay on disk until a later scrub: %s", problem)

    async def _scrub_once(self) -> str | None:
        """Scrub now; what was in the way, if anything."""
        try:
            async with self.sessions() as session:
                connection = await session.connection(
                    execution_options={"isolation_level": "AUTOCOMMIT"}
                )
                if connection.dialect.name != "postgresql":
                    return await _truncate_log(connection)
                if self._deleted_before is None:
                    self._deleted_before = (await connection.execute(_NEXT_XID)).scalar_one()
                return await _rewrite_key_table(connection, int(self._deleted_before))
        except (DBAPIError, OSError) as err:
            return f"the database failed ({type(err).__name__})"


@contextlib.asynccontextmanager
async def _setting(connection: AsyncConnection, change: str, restore: str) -> AsyncIterator[None]:
    """Run the body with a connection setting changed (`change`), then `restore` it. If the
    body was cut short (a stop cancels it mid-statement) the connection may be broken and the
    restore fail: the connection is then invalidated, so no later work gets it with the
    setting still changed, and the body's own exception (the cancellation) goes on."""
    await connection.exec_driver_sql(change)
    try:
        yield
    finally:
        try:
            await connection.exec_driver_sql(restore)
        except SQLAlchemyError:
            await connection.invalidate()


async def _truncate_log(connection: AsyncConnection) -> str | None:
    busy_timeout = (await connection.exec_driver_sql("PRAGMA busy_timeout")).scalar_one()
    async with _setting(
        connection,
        f"PRAGMA busy_timeout = {SCRUB_WAIT_MS}",
        f"PRAGMA busy_timeout = {int(busy_timeout)}",
    ):
        checkpoint = await connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        busy = checkpoint.one()[0]  # (busy, frames in the log, frames copied)
    return "another connection is reading the database" if busy else None


# The ID the next transaction will get: every transaction that deleted anything so far is below.
_NEXT_XID = select(func.pg_snapshot_xmax(func.pg_current_snapshot()))

# Whatever keeps rows deleted by transactions below :before from being removed, as VACUUM
# (FULL too) decides it: a session of this database (or of none, as a standby's feedback)
# whose snapshot or own transaction is older, a prepared transaction, a replication slot.
# Transaction IDs wrap around, so they are compared by age; the oldest holder comes first.
_HOLDERS = text(
    """
    SELECT 'a transaction of session ' || pid AS holder, xact_start AS since
      FROM pg_stat_activity
     WHERE (datname = current_database() OR datid IS NULL) AND pid <> pg_backend_pid()
       AND (age(backend_xmin) > age(xid(CAST(:before AS xid8)))
            OR age(backend_xid) > age(xid(CAST(:before AS xid8))))
    UNION ALL
    SELECT 'the prepared transaction ' || quote_literal(gid), prepared
      FROM pg_prepared_xacts
     WHERE database = current_database() AND age(transaction) > age(xid(CAST(:before AS xid8)))
    UNION ALL
    SELECT 'the replication slot ' || quote_literal(slot_name), NULL
      FROM pg_replication_slots
     WHERE age(xmin) > age(xid(CAST(:before AS xid8)))
    ORDER BY since NULLS FIRST
    LIMIT 1
    """
)


async def _rewrite_key_table(connection: AsyncConnection, deleted_before: int) -> str | None:
    # VACUUM FULL keeps (copies into the new file) every deleted row some snapshot may still
    # see, and says so only in a notice: so it waits until none may.
    holder = (await connection.execute(_HOLDERS, {"before": deleted_before})).first()
    if holder is not None:
        since = f" (open since {holder.since:%Y-%m-%d %H:%M:%S %Z})" if holder.since else ""
        return f"{holder.holder}{since} may still read them"
    filenode = select(func.pg_relation_filenode(_KEYS.name))
    before = await connection.scalar(filenode)
    async with _setting(connection, f"SET lock_timeout = {SCRUB_WAIT_MS}", "RESET lock_timeout"):
        try:
            await connection.exec_driver_sql(f"VACUUM FULL {_KEYS.name}")
        except DBAPIError as err:  # such as a lock it could not get in time
            return f"VACUUM FULL {_KEYS.name} failed ({type(err.orig).__name__})"
    if await connection.scalar(filenode) == before:
        # VACUUM skips, with a mere notice, a table the connecting role does not own.
        return f"VACUUM FULL {_KEYS.name} did not rewrite it: the bot's role must own it"
    return None
