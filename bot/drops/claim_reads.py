"""What a group of claims reads before it decides them: each drop as read, with its gates; who
claims, with the address their editions go to; how many editions each may have, and how many
were claimed so far out of allowances that members share; and the claims their sources made
already."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass

from sqlalchemy import func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from bot.drops.editions import PendingClaim
from bot.drops.gates import claim_limit, first_refusal, load_gates, unlooked
from bot.drops.types import ClaimResult
from bot.ports import Allowance, Claimant, DropGate, GatedDrop
from db.models import Drop as DropRow
from db.models import DropClaim, MintRequest


@dataclass(frozen=True)
class ReadDrop:
    """A drop row as this group read it, with its gates."""

    row: DropRow
    gates: tuple[DropGate, ...]
    gated: GatedDrop
    contract: str | None  # where its claims mint (None: the shared collection)


def claimant_of(pending: PendingClaim, addresses: dict[tuple[str, str], str | None]) -> Claimant:
    """The claimant, with the address their editions go to (an airdrop's own, else the one they
    linked)."""
    claimer = pending.claimant
    linked = pending.granted_to or addresses.get((claimer.platform, claimer.user_id))
    return dataclasses.replace(claimer, linked_address=linked)


def allowance_of(
    pending: PendingClaim, read: ReadDrop, addresses: dict[tuple[str, str], str | None]
) -> Allowance:
    """How many editions the claim's claimant may have: the drop's per-member limit for an
    airdrop (past the gates on who may claim), else what the limiting gates allow."""
    limit = read.row.per_user_limit
    if pending.granted:
        return Allowance(limit)
    return claim_limit(read.gates, claimant_of(pending, addresses), read.gated, limit)


def shared_allowances(
    group: Iterable[PendingClaim],
    drops: dict[int, ReadDrop],
    addresses: dict[tuple[str, str], str | None],
) -> set[tuple[int, str]]:
    """The (drop, shared allowance) pairs the group's claims come out of. Only a claim its
    gates let through has an allowance: one whose gates are still to be looked up, or that
    they refuse, takes nothing (and an airdrop's is the drop's own)."""
    wanted = set()
    for pending in group:
        read = drops.get(pending.drop_id)
        if read is None or pending.granted:
            continue
        claimant = claimant_of(pending, addresses)
        if unlooked(read.gates, claimant) or first_refusal(read.gates, claimant, read.gated):
            continue
        if (shared := allowance_of(pending, read, addresses).shared) is not None:
            wanted.add((pending.drop_id, shared))
    return wanted


async def shared_counts(
    session: AsyncSession, wanted: AbstractSet[tuple[int, str]]
) -> dict[tuple[int, str], int]:
    """Claims made so far per (drop, shared allowance)."""
    if not wanted:
        return {}
    rows = await session.execute(
        select(DropClaim.drop_id, DropClaim.shared_key, func.count())
        .where(tuple_(DropClaim.drop_id, DropClaim.shared_key).in_(wanted))
        .group_by(DropClaim.drop_id, DropClaim.shared_key)
    )
    return {(drop_id, str(key)): int(count) for drop_id, key, count in rows}


def read_drop(row: DropRow, contract: str | None) -> ReadDrop:
    return ReadDrop(
        row,
        load_gates(row.gates),
        GatedDrop(row.id, row.name, row.platform, row.community_id),
        contract,
    )


async def claimed_before(
    session: AsyncSession, sources: AbstractSet[tuple[int, str, str | None]]
) -> dict[tuple[int, str, str | None], ClaimResult]:
    """The claims these sources made already."""
    rows = await session.execute(
        select(DropClaim, MintRequest, DropRow.supply)
        .join(MintRequest, MintRequest.id == DropClaim.request_id)
        .join(DropRow, DropRow.id == DropClaim.drop_id)
        .where(tuple_(DropClaim.drop_id, DropClaim.platform, DropClaim.source).in_(sources))
    )
    return {
        (claim.drop_id, claim.platform, claim.source): ClaimResult(
            drop_id=claim.drop_id,
            edition=claim.edition,
            supply=supply,
            n=claim.n,
            request_id=request.id,
            key=request.key,
            token_id=request.token_id_int or 0,
            recipient=request.recipient or "",
            custodial=request.custodial,
            duplicate=True,
        )
        for claim, request, supply in rows
    }
