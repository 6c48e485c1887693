"""Recording submitted requests, many to a database transaction (group commit).

Every `submit` must commit its request row before it returns, and a burst of a thousand
messages should not cost a thousand commits (db/group_commit.py). The UNIQUE key decides
duplicates (promise 1): rows whose key exists are skipped by the insert and answered from the
row that holds the key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, insert, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.errors import RequestConflict
from bot.minting.requests import MintHandle
from db.engine import insert_unless_present
from db.group_commit import GroupCommit
from db.models import MintRequest, MintUpload, Phase

Key = tuple[str, str, str]

# Rows per transaction; a larger burst simply takes several.
GROUP_LIMIT = 500
_REQUESTS: Table = MintRequest.__table__  # type: ignore[assignment]
_UPLOADS: Table = MintUpload.__table__  # type: ignore[assignment]


@dataclass
class _Pending:
    row: dict[str, Any]
    upload: bytes | None

    @property
    def key(self) -> Key:
        return (self.row["platform"], self.row["chat_id"], self.row["message_id"])


class Intake:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions
        self._group = GroupCommit[_Pending, MintHandle](
            self._commit, limit=GROUP_LIMIT, name="record-requests"
        )

    async def record(self, row: dict[str, Any], upload: bytes | None) -> MintHandle:
        """Commit a `mint_request` row (column values) with its upload, or find the request
        that already holds its key. Raises `RequestConflict` if that one asked for something
        else (an edited message)."""
        return await self._group.submit(_Pending(row, upload))

    async def close(self) -> None:
        """Let the transaction in flight finish."""
        await self._group.close()

    async def _commit(self, group: list[_Pending]) -> list[MintHandle | Exception]:
        firsts: dict[Key, _Pending] = {}
        for pending in group:
            firsts.setdefault(pending.key, pending)
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
            uploads = [
                {"request_id": created[key], "data": pending.upload}
                for key, pending in firsts.items()
                if key in created and pending.upload is not None
            ]
            if uploads:
                await session.execute(insert(_UPLOADS), uploads)
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
