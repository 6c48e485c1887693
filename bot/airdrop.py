"""Airdrops: an admin gives a drop's editions to a list of addresses or chat members.

Each row is an edition claimed on the admin's behalf with the source "airdrop:<recipient>", so
running the same file again finds every row's edition already given and mints nothing new.
Bad rows (a wrong checksum, a member the bot never met) are reported with their line numbers
and do not stop the good ones.
"""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select, tuple_

import bot.registry  # noqa: F401  (fills PLATFORMS)
from bot.drops.service import Drops
from bot.errors import RequestRejected
from bot.minting.recipients import user_address
from bot.minting.service import MintService
from bot.ports import PLATFORMS
from db.models import PlatformUser

HEADERS = ("recipient", "address", "member", "user")
CONFIRM_TIMEOUT_S = 600


@dataclass(frozen=True)
class AirdropRow:
    line: int
    recipient: str  # as written
    address: str | None = None  # checksummed
    member: str | None = None  # "platform:user ID"


@dataclass
class RowOutcome:
    line: int
    recipient: str
    status: str  # "minted", "already given", "failed", "refused", "bad row"
    detail: str = ""
    edition: str = ""
    request_id: int | None = None

    @property
    def ok(self) -> bool:
        return self.status in ("minted", "already given")


def read_rows(
    text: str, *, collection: str | None = None
) -> tuple[list[AirdropRow], list[RowOutcome]]:
    """The file's recipients (first column: an address, or platform:user ID), and its bad rows.
    Blank lines, `#` comments and a header row are skipped; an address nothing may be minted
    to (see `user_address`; `collection` is the collection's own) is a bad row."""
    rows: list[AirdropRow] = []
    bad: list[RowOutcome] = []
    for line, cells in enumerate(csv.reader(io.StringIO(text)), 1):
        cell = cells[0].strip() if cells else ""
        if not cell or cell.startswith("#") or (line == 1 and cell.lower() in HEADERS):
            continue
        if cell.lower().startswith("0x"):
            try:
                address = user_address(cell, collection=collection)
            except RequestRejected as err:
                bad.append(RowOutcome(line, cell, "bad row", str(err)))
            else:
                rows.append(AirdropRow(line, cell, address=address))
            continue
        platform, _, user_id = cell.partition(":")
        # Any chat platform the bot knows of by name; a member it never met is a bad row.
        if platform.lower() in PLATFORMS and user_id.strip():
            rows.append(AirdropRow(line, cell, member=f"{platform.lower()}:{user_id.strip()}"))
        else:
            bad.append(RowOutcome(line, cell, "bad row", "neither an address nor platform:user ID"))
    return rows, bad


async def run_airdrop(
    drops: Drops,
    service: MintService,
    drop_id: int,
    rows: list[AirdropRow],
    progress: Callable[[RowOutcome], None] = lambda _: None,
) -> list[RowOutcome]:
    """Give each row an edition, then wait until each is minted; `progress` hears every row
    as it is decided and again once minted."""
    await drops.info(drop_id)  # DropNotFound before anything else
    members = {tuple(r.member.split(":", 1)) for r in rows if r.member}
    async with drops.sessions() as session:
        known = set(
            await session.execute(
                select(PlatformUser.platform, PlatformUser.user_id).where(
                    tuple_(PlatformUser.platform, PlatformUser.user_id).in_(members)
                )
            )
            if members
            else []
        )

    async def give(row: AirdropRow) -> RowOutcome:
        if row.member and tuple(row.member.split(":", 1)) not in known:
            return RowOutcome(
                row.line, row.recipient, "bad row", "unknown user: never seen by the bot"
            )
        key = (row.address or row.member or "").lower()
        try:
            claim = await drops.airdrop(
                drop_id, source=f"airdrop:{key}", address=row.address, member=row.member
            )
        except RequestRejected as err:
            return RowOutcome(row.line, row.recipient, "refused", str(err))
        status = "already given" if claim.duplicate else "queued"
        return RowOutcome(row.line, row.recipient, status, "", claim.edition_text, claim.request_id)

    async def decided(row: AirdropRow) -> RowOutcome:
        outcome = await give(row)
        progress(outcome)
        return outcome

    outcomes = list(await asyncio.gather(*(decided(row) for row in rows)))

    async def minted(outcome: RowOutcome) -> None:
        if outcome.request_id is None:
            return
        result = await service.wait_final(outcome.request_id, timeout=CONFIRM_TIMEOUT_S)
        if not result.minted:
            outcome.status, outcome.detail = "failed", result.failure_reason or ""
        elif outcome.status == "queued":
            outcome.status = "minted"
        if result.tx_hash:
            outcome.detail = result.tx_hash
        progress(outcome)

    await asyncio.gather(*(minted(o) for o in outcomes))
    return outcomes
