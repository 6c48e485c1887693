"""The durable inbox's rows: what an entry is, and the statements that write and read them
(`bot.inbox` decides when)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Table, bindparam, func, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.engine import insert_unless_present
from db.models import InboxUpdate, aware_utc

INBOX: Table = InboxUpdate.__table__  # type: ignore[assignment]


@dataclass(frozen=True)
class InboxEntry:
    """An update as recorded: `fresh` is False if its (platform, update_id) was recorded
    before (a re-delivery: whoever recorded it first dispatches it)."""

    id: int
    platform: str
    update_id: str
    payload: dict[str, Any]
    fresh: bool
    attempts: int
    # What the member was shown for it in an earlier attempt (`DurableInbox.acknowledged`).
    acknowledgement: dict[str, Any] | None = None
    last_error: str | None = None
    received_at: datetime | None = None
    given_up_at: datetime | None = None


@dataclass(frozen=True)
class Record:
    platform: str
    update_id: str
    payload: dict[str, Any]

    @property
    def key(self) -> tuple[str, str]:
        return (self.platform, self.update_id)


ENTRY_COLUMNS = (
    InboxUpdate.id,
    InboxUpdate.platform,
    InboxUpdate.update_id,
    InboxUpdate.payload,
    InboxUpdate.attempts,
    InboxUpdate.acknowledgement,
    InboxUpdate.last_error,
    InboxUpdate.received_at,
    InboxUpdate.given_up_at,
)


def entry_of(row: Any, *, fresh: bool) -> InboxEntry:
    return InboxEntry(
        row.id,
        row.platform,
        row.update_id,
        orjson.loads(row.payload),
        fresh,
        row.attempts,
        acknowledgement=orjson.loads(row.acknowledgement) if row.acknowledgement else None,
        last_error=row.last_error,
        received_at=aware_utc(row.received_at),
        given_up_at=aware_utc(row.given_up_at) if row.given_up_at else None,
    )


async def insert_records(
    session: AsyncSession, group: list[Record], taken: dict[str, Any]
) -> list[InboxEntry | Exception]:
    """Insert each record not recorded before, taken in hand as `taken` says (taken_at,
    due_at, taken_by); one entry per record, in order, fresh for the first of each new key."""
    now = taken["taken_at"]
    firsts: dict[tuple[str, str], Record] = {}
    for record in group:
        firsts.setdefault(record.key, record)
    inserted = await session.execute(
        insert_unless_present(session, INBOX).returning(
            INBOX.c.id, INBOX.c.platform, INBOX.c.update_id
        ),
        [
            {
                "platform": r.platform,
                "update_id": r.update_id,
                "payload": orjson.dumps(r.payload).decode(),
                "received_at": now,
                "attempts": 0,
                **taken,
            }
            for r in firsts.values()
        ],
    )
    created = {(r.platform, r.update_id): r.id for r in inserted}
    before = [key for key in firsts if key not in created]
    existing: dict[tuple[str, str], Any] = {}
    if before:
        found = await session.execute(
            select(*ENTRY_COLUMNS).where(
                tuple_(InboxUpdate.platform, InboxUpdate.update_id).in_(before)
            )
        )
        existing = {(r.platform, r.update_id): r for r in found}
    entries: list[InboxEntry | Exception] = []
    for record in group:
        if record.key in created:
            fresh = firsts[record.key] is record
            entries.append(
                InboxEntry(
                    created[record.key],
                    record.platform,
                    record.update_id,
                    record.payload,
                    fresh,
                    0,
                    received_at=now,
                )
            )
        elif record.key in existing:
            entries.append(entry_of(existing[record.key], fresh=False))
        else:  # the insert skipped it, yet no row holds the key
            entries.append(RuntimeError(f"could not record update {record.key}"))
    return entries


async def write_acknowledgements(session: AsyncSession, shown: dict[int, dict[str, Any]]) -> None:
    await session.execute(
        update(INBOX)
        .where(INBOX.c.id == bindparam("entry_id"))
        .values(acknowledgement=bindparam("shown")),
        [
            {"entry_id": entry_id, "shown": orjson.dumps(said).decode()}
            for entry_id, said in shown.items()
        ],
    )


async def given_up_entries(
    sessions: async_sessionmaker[AsyncSession], platform: str | None, limit: int
) -> list[InboxEntry]:
    query = select(*ENTRY_COLUMNS).where(InboxUpdate.given_up_at.is_not(None))
    if platform is not None:
        query = query.where(InboxUpdate.platform == platform)
    async with sessions() as session:
        rows = await session.execute(
            query.order_by(InboxUpdate.given_up_at.desc(), InboxUpdate.id.desc()).limit(limit)
        )
        return [entry_of(row, fresh=False) for row in rows]


async def count_entries(sessions: async_sessionmaker[AsyncSession]) -> dict[str, int]:
    async with sessions() as session:
        waiting = await session.scalar(
            select(func.count()).where(
                InboxUpdate.processed_at.is_(None), InboxUpdate.given_up_at.is_(None)
            )
        )
        given_up = await session.scalar(
            select(func.count()).where(InboxUpdate.given_up_at.is_not(None))
        )
    return {"waiting": int(waiting or 0), "given_up": int(given_up or 0)}


async def withhold_typed(
    sessions: async_sessionmaker[AsyncSession],
    platform: str,
    update_id: str,
    typed: str,
    mark: str,
) -> None:
    """Replace `typed` (a secret a member sent: a code, a word) by `mark` in every string of
    the stored update, once it was acted on: the copy kept for a re-dispatch must not give
    it away. An update handled again after this finds `mark` in its place."""
    if not typed.strip():
        return
    async with sessions.begin() as session:
        row = (
            await session.execute(
                select(INBOX.c.id, INBOX.c.payload).where(
                    INBOX.c.platform == platform, INBOX.c.update_id == update_id
                )
            )
        ).first()
        if row is None:
            return
        payload = orjson.loads(row.payload)
        withheld = _replaced(payload, typed, mark)
        if withheld != payload:
            await session.execute(
                update(INBOX)
                .where(INBOX.c.id == row.id)
                .values(payload=orjson.dumps(withheld).decode())
            )


def _replaced(value: Any, typed: str, mark: str) -> Any:
    """`value` (a JSON document) with `typed` replaced by `mark` in every string."""
    if isinstance(value, str):
        return value.replace(typed, mark)
    if isinstance(value, list):
        return [_replaced(v, typed, mark) for v in value]
    if isinstance(value, dict):
        return {k: _replaced(v, typed, mark) for k, v in value.items()}
    return value
