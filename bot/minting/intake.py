"""Recording submitted requests, many to a database transaction (group commit).

Every `submit` must commit its request row before it returns, and a burst of a thousand
messages should not cost a thousand commits. Whoever submits while a transaction is in flight
joins the next one: a lone request still costs one transaction, a burst costs a handful.
The UNIQUE key decides duplicates (promise 1): rows whose key exists are skipped by the insert
and answered from the row that holds the key.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.errors import RequestConflict
from bot.minting.requests import MintHandle
from bot.minting.uploads import UploadVault, seal
from db.engine import insert_unless_present
from db.models import MintRequest, Phase

Key = tuple[str, str, str]

# Rows per transaction; a larger burst simply takes several.
GROUP_LIMIT = 500
_REQUESTS: Table = MintRequest.__table__  # type: ignore[assignment]


@dataclass
class _Pending:
    row: dict[str, Any]
    upload: bytes | None
    answer: asyncio.Future[MintHandle]

    @property
    def key(self) -> Key:
        return (self.row["platform"], self.row["chat_id"], self.row["message_id"])


class Intake:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], uploads: UploadVault) -> None:
        self.sessions = sessions
        self.uploads = uploads
        self._pending: list[_Pending] = []
        self._writer: asyncio.Task[None] | None = None

    async def record(self, row: dict[str, Any], upload: bytes | None) -> MintHandle:
        """Commit a `mint_request` row (column values) with its upload, or find the request
        that already holds its key. Raises `RequestConflict` if that one asked for something
        else (an edited message)."""
        answer: asyncio.Future[MintHandle] = asyncio.get_running_loop().create_future()
        self._pending.append(_Pending(row, upload, answer))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write(), name="record-requests")
        return await answer

    async def close(self) -> None:
        """Let the transaction in flight finish."""
        if self._writer is not None:
            with contextlib.suppress(Exception):
                await self._writer

    async def _write(self) -> None:
        while self._pending:
            group, self._pending = self._pending[:GROUP_LIMIT], self._pending[GROUP_LIMIT:]
            try:
                answers = await self._commit(group)
            except Exception as err:
                answers = [err] * len(group)
            for pending, answer in zip(group, answers, strict=True):
                if pending.answer.done():  # the caller gave up waiting
                    continue
                if isinstance(answer, Exception):
                    pending.answer.set_exception(answer)
                else:
                    pending.answer.set_result(answer)

    async def _commit(self, group: list[_Pending]) -> list[MintHandle | Exception]:
        firsts: dict[Key, _Pending] = {}
        for pending in group:
            firsts.setdefault(pending.key, pending)
        # Sealed before the transaction: the database connection waits for no cipher.
        sealed = {
            key: seal(key, pending.upload)
            for key, pending in firsts.items()
            if pending.upload is not None
        }
        async with self.sessions.begin() as session:
            inserted = await session.execute(
                insert_unless_present(session, _REQUESTS).returning(
                    _REQUESTS.c.id,
                    _REQUESTS.c.platform,
                    _REQUESTS.c.chat_id,
                    _REQUESTS.c.message_id,
                ),
                [pending.row for pending in firsts.values()],
            )
            created = {(r.platform, r.chat_id, r.message_id): r.id for r in inserted}
            await self.uploads.store(
                session, {created[key]: s for key, s in sealed.items() if key in created}
            )
            taken = [key for key in firsts if key not in created]
            existing = {}
            if taken:
                found = await session.execute(
                    select(
                        _REQUESTS.c.id,
                        _REQUESTS.c.platform,
                        _REQUESTS.c.chat_id,
                        _REQUESTS.c.message_id,
                        _REQUESTS.c.fingerprint,
                        _REQUESTS.c.phase,
                    ).where(
                        tuple_(
                            _REQUESTS.c.platform, _REQUESTS.c.chat_id, _REQUESTS.c.message_id
                        ).in_(taken)
                    )
                )
                existing = {(r.platform, r.chat_id, r.message_id): r for r in found}
        return [self._answer(pending, firsts, created, existing) for pending in group]

    @staticmethod
    def _answer(
        pending: _Pending,
        firsts: dict[Key, _Pending],
        created: dict[Key, int],
        existing: dict[Key, Any],
    ) -> MintHandle | Exception:
        key = pending.key
        text_key = ":".join(key)
        if key in created:
            first = firsts[key]
            if first is pending:
                return MintHandle(
                    created[key], text_key, duplicate=False, phase=Phase(first.row["phase"])
                )
            request_id, fingerprint, phase = (
                created[key],
                first.row["fingerprint"],
                first.row["phase"],
            )
        elif key in existing:
            row = existing[key]
            request_id, fingerprint, phase = row.id, row.fingerprint, row.phase
        else:  # the insert skipped it, yet no row holds the key
            return RuntimeError(f"could not record request {text_key}")
        if fingerprint != pending.row["fingerprint"]:
            return RequestConflict(
                "This message changed after it was sent for minting. The original request "
                "stands; nothing new was minted."
            )
        return MintHandle(request_id, text_key, duplicate=True, phase=Phase(phase))
