"""Recording submitted requests, many to a database transaction (group commit).

Every `submit` must commit its request row before it returns, and a burst of a thousand
messages should not cost a thousand commits (db/group_commit.py; if a group's transaction
fails, each request is tried once more in one of its own, so a row the database refuses fails
its own request only). The UNIQUE key decides duplicates, so a chat message makes one request
however often it arrives: rows whose key exists are skipped by the insert and answered from
the row that holds the key. Rate limits are decided in
the same transaction, with each member's and community's `rate_scope` row locked while it
counts, so concurrent requests (from any process) can never record more than the limit. A key
whose request failed for good is opened again when asked again with the same content: its token
ID is derived from the key, so a retry can never make a second token.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, func, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.errors import RateLimited, RequestConflict
from bot.i18n import N_
from bot.minting.types import MintHandle
from bot.minting.uploads import UploadVault, seal
from db.engine import insert_unless_present, upsert_touch
from db.group_commit import GroupCommit
from db.models import MintRequest, Phase, RateScope, aware_utc, utcnow

Key = tuple[str, str, str]

# Rows per transaction; a larger burst simply takes several. A preparation group's worth
# (PREPARE_GROUP): the first of a burst go on to be prepared while the rest are recorded.
GROUP_LIMIT = 100
RATE_WINDOW = timedelta(minutes=1)
_REQUESTS: Table = MintRequest.__table__  # type: ignore[assignment]
_SCOPES: Table = RateScope.__table__  # type: ignore[assignment]


# What each rate-limited scope counts requests by.
_SCOPE_COLUMNS = {"member": _REQUESTS.c.requester_id, "community": _REQUESTS.c.community_id}
Scope = tuple[str, str, str]  # (platform, "member" | "community", its ID)


@dataclass(frozen=True)
class RateLimits:
    """New chat requests a member, and a community, may make per minute (0: no limit).
    Requests with no community (the CLI, the console) are not limited."""

    member_per_minute: int = 0
    community_per_minute: int = 0

    def scopes(self, row: dict[str, Any]) -> list[tuple[Scope, int]]:
        """The scopes a request row counts against, each with its limit."""
        if row.get("community_id") is None:
            return []
        platform = row["platform"]
        scopes = [
            ((platform, "member", row["requester_id"]), self.member_per_minute),
            ((platform, "community", row["community_id"]), self.community_per_minute),
        ]
        return [(scope, limit) for scope, limit in scopes if limit > 0]


@dataclass
class _Pending:
    row: dict[str, Any]
    upload: bytes | None

    @property
    def key(self) -> Key:
        return (self.row["platform"], self.row["chat_id"], self.row["message_id"])


class Intake:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], limits: RateLimits | None = None
    ) -> None:
        self.sessions = sessions
        self.limits = limits or RateLimits()
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
        # Sealed before the transaction: the database connection waits for no cipher.
        sealed = {
            key: seal(key, pending.upload)
            for key, pending in firsts.items()
            if pending.upload is not None
        }
        async with self.sessions.begin() as session:
            existing = await self._existing(session, list(firsts))
            reopened = await self._reopen_failed(session, firsts, existing)
            fresh = {key: p for key, p in firsts.items() if key not in existing}
            refused = await self._over_limit(session, fresh)
            created: dict[Key, int] = {}
            rows = [p.row for key, p in fresh.items() if key not in refused]
            if rows:
                inserted = await session.execute(
                    insert_unless_present(session, _REQUESTS).returning(
                        _REQUESTS.c.id,
                        _REQUESTS.c.platform,
                        _REQUESTS.c.chat_id,
                        _REQUESTS.c.message_id,
                    ),
                    rows,
                )
                created = {(r.platform, r.chat_id, r.message_id): r.id for r in inserted}
            uploads = {created[key]: upload for key, upload in sealed.items() if key in created} | {
                existing[key].id: sealed[key]
                for key in reopened
                if existing[key].phase == Phase.FAILED and existing[key].token_id is None
            }
            await UploadVault.store(session, uploads)
            # Another process recorded these keys between our look and our insert.
            raced = [key for key in fresh if key not in created and key not in refused]
            if raced:
                existing.update(await self._existing(session, raced))
        return [
            self._answer(pending, firsts, created, existing, refused, reopened) for pending in group
        ]

    @staticmethod
    async def _existing(session: AsyncSession, keys: list[Key]) -> dict[Key, Any]:
        """The requests already holding any of `keys`."""
        found = await session.execute(
            select(
                _REQUESTS.c.id,
                _REQUESTS.c.platform,
                _REQUESTS.c.chat_id,
                _REQUESTS.c.message_id,
                _REQUESTS.c.fingerprint,
                _REQUESTS.c.phase,
                _REQUESTS.c.token_id,
            ).where(
                tuple_(_REQUESTS.c.platform, _REQUESTS.c.chat_id, _REQUESTS.c.message_id).in_(keys)
            )
        )
        return {(r.platform, r.chat_id, r.message_id): r for r in found}

    @staticmethod
    async def _reopen_failed(
        session: AsyncSession, firsts: dict[Key, _Pending], existing: dict[Key, Any]
    ) -> set[Key]:
        """Asked again with the same content after failing for good (a revert, a cap, a lost
        upload): the request goes back into the pipeline where it left it. Prepared content is
        kept (queued again); without it, the new upload is prepared (received again)."""
        reopened = set()
        for key, row in existing.items():
            pending = firsts[key]
            if row.phase != Phase.FAILED or row.fingerprint != pending.row["fingerprint"]:
                continue
            if row.token_id is None and pending.upload is None:
                continue
            await session.execute(
                update(_REQUESTS)
                .where(_REQUESTS.c.id == row.id, _REQUESTS.c.phase == Phase.FAILED)
                .values(
                    phase=Phase.QUEUED if row.token_id is not None else Phase.RECEIVED,
                    tx_id=None,
                    failure_reason=None,
                    failure_said=None,
                    attempts=0,
                    reply_to=pending.row["reply_to"],
                    answered_in=pending.row.get("answered_in"),
                    answered_at=None,
                    answer_attempts=0,
                    answer_due_at=None,
                    answer_error=None,
                    undeliverable_at=None,
                )
            )
            reopened.add(key)
        return reopened

    async def _over_limit(
        self, session: AsyncSession, fresh: dict[Key, _Pending]
    ) -> dict[Key, RateLimited]:
        """Decide the rate limits of the new requests, in order, against what is recorded.
        Each scope's row is written first, which holds it locked until this transaction
        ends: a concurrent recorder of the same scope waits, then counts our rows too."""
        scoped = {key: self.limits.scopes(p.row) for key, p in fresh.items()}
        wanted = sorted({scope for scopes in scoped.values() for scope, _ in scopes})
        if not wanted:
            return {}
        now = utcnow()
        await session.execute(
            upsert_touch(session, _SCOPES, {"touched_at": now}),
            [{"platform": p, "scope": s, "scope_id": i, "touched_at": now} for p, s, i in wanted],
        )
        used: Counter[Scope] = Counter()
        oldest: dict[Scope, datetime] = {}
        for scope in wanted:
            platform, kind, scope_id = scope
            count, first = (
                await session.execute(
                    select(func.count(), func.min(_REQUESTS.c.created_at)).where(
                        _REQUESTS.c.platform == platform,
                        _SCOPE_COLUMNS[kind] == scope_id,
                        _REQUESTS.c.created_at > now - RATE_WINDOW,
                    )
                )
            ).one()
            used[scope] = int(count)
            oldest[scope] = aware_utc(first) if first else now
        refused: dict[Key, RateLimited] = {}
        for key, scopes in scoped.items():
            over = [scope for scope, limit in scopes if used[scope] >= limit]
            if over:
                # Never more than the limit is recorded, so the oldest leaving frees a place.
                wait = min(max(oldest[scope] + RATE_WINDOW - now for scope in over), RATE_WINDOW)
                refused[key] = RateLimited(wait.total_seconds())
                continue
            used.update(scope for scope, _ in scopes)
        return refused

    @staticmethod
    def _answer(
        pending: _Pending,
        firsts: dict[Key, _Pending],
        created: dict[Key, int],
        existing: dict[Key, Any],
        refused: dict[Key, RateLimited],
        reopened: set[Key],
    ) -> MintHandle | Exception:
        key = pending.key
        text_key = ":".join(key)
        if key in refused:
            return refused[key]
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
            if key in reopened and firsts[key] is pending:
                phase = Phase.QUEUED if row.token_id is not None else Phase.RECEIVED
                return MintHandle(row.id, text_key, duplicate=False, phase=phase, reopened=True)
            request_id, fingerprint, phase = row.id, row.fingerprint, row.phase
        else:  # the insert skipped it, yet no row holds the key
            return RuntimeError(f"could not record request {text_key}")
        if fingerprint != pending.row["fingerprint"]:
            return RequestConflict(
                N_(
                    "This message changed after it was sent for minting. The original request "
                    "stands; nothing new was minted."
                )
            )
        return MintHandle(request_id, text_key, duplicate=True, phase=Phase(phase))
