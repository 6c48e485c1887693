"""Original uploads at rest: sealed while their request is prepared, then shredded.

An upload is the member's original file, GPS position and all. It waits in the database only
until its request has left preparation, but a deleted row is not gone: SQLite keeps it in free
pages and in its write-ahead log, PostgreSQL in dead tuples (a plain VACUUM leaves the bytes
in the page), and both in backups. So each upload is sealed with AES-256-GCM under a random
key of its own, kept in a row of its own (`upload_key`), with the request's message key as
associated data: a sealed upload opens only as the request it was sent with. Once the request
is prepared (or refused) the key row is deleted and the small key table is scrubbed, so that
no copy of a key survives on disk; the ciphertext, wherever a copy lingers, is then noise.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Table, delete, func, insert, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker

from db.models import PREPARING, MintRequest, MintUpload, UploadKey

log = logging.getLogger(__name__)

NONCE_BYTES = 12
# How long a scrub waits for a lock or for readers before leaving the work to the next one:
# while it waits for its lock on PostgreSQL, new uploads wait behind it.
SCRUB_WAIT_MS = 250

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
        self._scrub_due = True

    async def scrub(self) -> None:
        """Leave no copy of a deleted key on disk. SQLite (with secure_delete, which zeroes
        deleted rows in the database file) copies its write-ahead log into the database and
        truncates it; PostgreSQL rewrites the key table into a new file, as VACUUM FULL does,
        and drops the old one. Either may find the database busy: what it could not do is done
        by the next scrub, and the log says so."""
        if not self._scrub_due:
            return
        try:
            async with self.sessions() as session:
                connection = await session.connection(
                    execution_options={"isolation_level": "AUTOCOMMIT"}
                )
                if connection.dialect.name == "postgresql":
                    problem = await _rewrite_key_table(connection)
                else:
                    problem = await _truncate_log(connection)
        except (DBAPIError, OSError) as err:
            problem = f"the database failed ({type(err).__name__})"
        self._scrub_due = problem is not None
        if problem is not None:
            log.warning("shredded upload keys stay on disk until the next scrub: %s", problem)


async def _truncate_log(connection: AsyncConnection) -> str | None:
    busy_timeout = (await connection.exec_driver_sql("PRAGMA busy_timeout")).scalar_one()
    await connection.exec_driver_sql(f"PRAGMA busy_timeout = {SCRUB_WAIT_MS}")
    try:
        checkpoint = await connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        busy = checkpoint.one()[0]  # (busy, frames in the log, frames copied)
    finally:
        await connection.exec_driver_sql(f"PRAGMA busy_timeout = {int(busy_timeout)}")
    return "another connection is reading the database" if busy else None


async def _rewrite_key_table(connection: AsyncConnection) -> str | None:
    filenode = select(func.pg_relation_filenode(_KEYS.name))
    before = await connection.scalar(filenode)
    await connection.exec_driver_sql(f"SET lock_timeout = {SCRUB_WAIT_MS}")
    try:
        await connection.exec_driver_sql(f"VACUUM FULL {_KEYS.name}")
    except DBAPIError as err:  # such as a lock it could not get in time
        return f"VACUUM FULL {_KEYS.name} failed ({type(err.orig).__name__})"
    finally:
        await connection.exec_driver_sql("RESET lock_timeout")
    if await connection.scalar(filenode) == before:
        # VACUUM skips, with a mere notice, a table the connecting role does not own.
        return f"VACUUM FULL {_KEYS.name} did not rewrite it: the bot's role must own it"
    return None
