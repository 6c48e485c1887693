"""Drop allowlists: an admin's uploaded file made a drop's list, at creation or later.

A file is read whole (`bot.drops.allowlist_csv`) and refused whole if any line is bad, with
every bad line named (`AllowlistRefused`): nothing is stored then. An accepted file becomes a
new list in one transaction, which also points the drop's allowlist gate at it (adding the
gate if the drop had none) and deletes the entries of the list it replaces. A claim is decided
on the list its drop's gate names when the claim is recorded (see `bot.drops.gates.allowlist`),
so it sees the old list or the new one, never a mix. Claims already made stay.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Table, delete, insert, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.drops.allowlist_csv import MAX_BYTES, ParsedAllowlist, parse_allowlist
from bot.drops.gates.allowlist import AllowlistGate
from bot.drops.types import DropInfo, known_id
from bot.errors import AllowlistRefused, DropNotFound
from bot.i18n import N_, _
from bot.ports import DropGate
from db.models import Allowlist, AllowlistEntry, Drop, storable, utcnow

if TYPE_CHECKING:
    from bot.drops.service import Drops

_ENTRIES: Table = AllowlistEntry.__table__  # type: ignore[assignment]


@dataclass(frozen=True)
class Uploaded:
    """An accepted allowlist file, now the drop's list."""

    drop_id: int
    parsed: ParsedAllowlist
    replaced: bool  # the drop had a list before, which this one replaced

    def report(self) -> str:
        """What the admin is told, in the current locale (theirs: they asked)."""
        if self.replaced:
            return _(
                "Drop #{id}'s allowlist is replaced: {summary} Claims already made stay."
            ).format(id=self.drop_id, summary=self.parsed.summary())
        return _("Drop #{id} is limited to its allowlist: {summary}").format(
            id=self.drop_id, summary=self.parsed.summary()
        )


def check_size(size: int | None) -> None:
    """Refuse a file announced as larger than an allowlist may be, before fetching it."""
    if size is not None and size > MAX_BYTES:
        raise AllowlistRefused(
            N_(
                "That file is {size} bytes; an allowlist may be at most {most}. "
                "Nothing was changed."
            ),
            size=f"{size:,}",
            most=f"{MAX_BYTES:,}",
        )


class Allowlists:
    """Stores uploaded allowlists and puts them on drops."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions

    async def read(self, data: bytes) -> ParsedAllowlist:
        """The file's entries; raises `AllowlistRefused` naming its bad lines (worded in the
        current locale, the uploading admin's: it is shown to them alone, from this task)."""
        parsed = await asyncio.to_thread(parse_allowlist, data)
        if not parsed.ok:
            raise AllowlistRefused(parsed.refusal())
        return parsed

    async def replace(self, drop_id: int, data: bytes, *, by: str) -> Uploaded:
        """Make the file drop `drop_id`'s allowlist, in place of any it had, even while it is
        open. Raises `AllowlistRefused` (nothing changes) or `DropNotFound`."""
        known_id(drop_id)
        parsed = await self.read(data)
        async with self.sessions.begin() as session:
            # Locked (on PostgreSQL) as the claim writer locks it: claims wait for the swap.
            drop = await session.get(Drop, drop_id, with_for_update=True)
            if drop is None:
                raise DropNotFound(N_("There is no drop #{id}."), id=drop_id)
            gate = await self._store(session, parsed, by, drop_id)
            gates, old = _swapped(drop.gates, gate)
            drop.gates = gates
            if old:
                await session.execute(delete(_ENTRIES).where(_ENTRIES.c.allowlist_id.in_(old)))
                await session.execute(
                    update(Allowlist).where(Allowlist.id.in_(old)).values(replaced_at=utcnow())
                )
        return Uploaded(drop_id, parsed, replaced=bool(old))

    async def create_drop(
        self,
        drops: Drops,
        *,
        allowlist: bytes | None,
        created_by: str,
        gates: Sequence[DropGate] = (),
        **fields: Any,
    ) -> tuple[DropInfo, Uploaded | None]:
        """`Drops.create_drop`, with the file (if any) as the drop's allowlist from its first
        moment: the list is stored first, then the drop is made with a gate naming it. Raises
        what `Drops.create_drop` raises, or `AllowlistRefused` (no drop is made then)."""
        if allowlist is None:
            return await drops.create_drop(created_by=created_by, gates=gates, **fields), None
        parsed = await self.read(allowlist)
        async with self.sessions.begin() as session:
            gate = await self._store(session, parsed, created_by, None)
        try:
            drop = await drops.create_drop(created_by=created_by, gates=[*gates, gate], **fields)
        except Exception:
            await self._discard(gate.allowlist)
            raise
        async with self.sessions.begin() as session:
            await session.execute(
                update(Allowlist).where(Allowlist.id == gate.allowlist).values(drop_id=drop.id)
            )
        return drop, Uploaded(drop.id, parsed, replaced=False)

    async def _store(
        self, session: AsyncSession, parsed: ParsedAllowlist, by: str, drop_id: int | None
    ) -> AllowlistGate:
        row = Allowlist(
            drop_id=drop_id,
            created_by=storable(by, 64),
            members=parsed.members,
            addresses=parsed.addresses,
        )
        session.add(row)
        await session.flush()
        await session.execute(
            insert(_ENTRIES),
            [
                {"allowlist_id": row.id, "entry": entry, "allowance": allowance}
                for entry, allowance in parsed.entries.items()
            ],
        )
        return AllowlistGate(row.id, parsed.members, parsed.addresses)

    async def _discard(self, allowlist: int) -> None:
        """A list stored for a drop that was not made."""
        async with self.sessions.begin() as session:
            await session.execute(delete(_ENTRIES).where(_ENTRIES.c.allowlist_id == allowlist))
            await session.execute(delete(Allowlist).where(Allowlist.id == allowlist))


def _swapped(stored: object, gate: AllowlistGate) -> tuple[list[dict[str, Any]], list[int]]:
    """The drop's stored gates with `gate` in place of its allowlist gates (or added), and the
    lists those named."""
    if not isinstance(stored, list):
        # Unreadable gates refuse every claim (`UnknownGate`); a list must not lift that.
        raise AllowlistRefused(
            N_("This drop's claim conditions cannot be read; nothing was changed.")
        )
    entry = {"kind": gate.kind, "params": gate.params()}
    gates: list[dict[str, Any]] = []
    old: list[int] = []
    for stored_gate in stored:
        if isinstance(stored_gate, dict) and stored_gate.get("kind") == gate.kind:
            params = stored_gate.get("params")
            if isinstance(params, dict) and isinstance(params.get("allowlist"), int):
                old.append(params["allowlist"])
            if entry not in gates:
                gates.append(entry)
        else:
            gates.append(stored_gate)
    if entry not in gates:
        gates.append(entry)
    return gates, old
