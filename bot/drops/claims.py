"""The claim writer: decides claims of drops and records them, a group per transaction.

The database decides every claim. Pending claims are recorded a group per transaction (group
commit, through `db.group_commit.GroupCommit`, as the mint intake does): the drops are read
with SELECT ... FOR UPDATE (a row lock on PostgreSQL, so racing processes wait for each
other), the claimers' earlier claims are counted under that lock, each claim of the group is
decided in order, and one conditional UPDATE per drop takes the editions only if nobody took
any since the read and they fit the supply, the window and the closure. A CHECK constraint and
UNIQUE (drop, claimer, n) and (drop, edition) refuse anything beyond. Supply and per-member
limits therefore hold however many claims race, on SQLite and on PostgreSQL alike.

Each claim is a mint request of its own, keyed ("drop", drop ID, "platform:user:n"), with its
own metadata (the edition and the claimer), hence its own token ID. The artwork is stored
when the drop is created; a claim stores only its small metadata document, before the commit,
and is committed ready to mint (phase queued), so the mint pipeline takes it from there.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Table, func, insert, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.community_collections.records import failed_contracts, live_collections
from bot.content.store import ContentStore
from bot.drops.claim_reads import (
    ReadDrop,
    allowance_of,
    claimant_of,
    claimed_before,
    read_drop,
    shared_allowances,
    shared_counts,
)
from bot.drops.editions import Accepted, PendingClaim, edition_metadata
from bot.drops.gates import (
    LinkWallet,
    LookUpFirst,
    first_refusal,
    unlooked,
)
from bot.drops.types import DROP_ORIGIN, ClaimResult, DropKind, claim_key
from bot.errors import (
    DropClosed,
    DropLimitReached,
    DropNeedsWallet,
    DropNotFound,
    DropNotOpen,
    DropSoldOut,
    NotAllowed,
    RequestRejected,
)
from bot.i18n import N_
from bot.i18n.said import said
from bot.minting.service import MintService
from bot.ports import Refusal
from bot.webhooks.drop_ends import SOLD_OUT, report_end
from bot.webhooks.outbox import drop_claimed, record
from db.group_commit import GroupCommit
from db.models import Drop as DropRow
from db.models import DropClaim, MintRequest, PlatformUser, aware_utc, utcnow

_DROPS: Table = DropRow.__table__  # type: ignore[assignment]
_REQUESTS: Table = MintRequest.__table__  # type: ignore[assignment]
_CLAIMS: Table = DropClaim.__table__  # type: ignore[assignment]
# Claims decided and recorded per transaction; a larger burst takes several.
CLAIM_GROUP = 500
CLAIM_ATTEMPTS = 3


@dataclass(frozen=True)
class _SameAs:
    """A repeat of an earlier claim of the same group (same source): its outcome."""

    index: int


class _DropChanged(Exception):
    """Another transaction took editions of a drop between this group's read and its update
    (possible where nothing locks the row, as between SQLite processes): decide again."""


class ClaimWriter:
    """Decides and records claims, a group per transaction; each caller gets its own claim's
    edition or the reason it gets none."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        content: ContentStore,
        service: MintService,
    ) -> None:
        self.sessions = sessions
        self.content = content
        self.service = service
        self._claims = GroupCommit[PendingClaim, ClaimResult](
            self._commit_group, limit=CLAIM_GROUP, name="record-claims"
        )

    async def submit(self, pending: PendingClaim) -> ClaimResult:
        """The claim's edition once recorded; raises the reason it gets none."""
        return await self._claims.submit(pending)

    async def close(self) -> None:
        """Let the claims being recorded finish."""
        await self._claims.close()

    async def _commit_group(self, group: list[PendingClaim]) -> list[ClaimResult | Exception]:
        """Record pending claims a group per transaction: a burst of a thousand claims costs a
        few transactions, not a thousand."""
        outcomes: list[ClaimResult | Exception] = []
        for attempt in range(1, CLAIM_ATTEMPTS + 1):
            try:
                outcomes = await self._commit(group)
                break
            except _DropChanged as err:
                if attempt == CLAIM_ATTEMPTS:
                    outcomes = [RuntimeError(str(err))] * len(group)
        if any(isinstance(o, ClaimResult) for o in outcomes):
            self.service.batch_queued_by_others()
        return outcomes

    async def _commit(self, group: list[PendingClaim]) -> list[ClaimResult | Exception]:
        """Decide and record a group of claims in one transaction: per claim an edition, or
        the reason it gets none."""
        now = utcnow()
        drop_ids = sorted({c.drop_id for c in group})
        claimers = {(c.claimant.platform, c.claimant.user_id) for c in group}
        async with self.sessions.begin() as session:
            # On PostgreSQL this locks the drops until commit, so racing groups (of other
            # processes) wait rather than conflict; the conditional UPDATE below decides.
            drop_rows = list(
                await session.scalars(
                    select(DropRow)
                    .where(DropRow.id.in_(drop_ids))
                    .order_by(DropRow.id)
                    .with_for_update()
                )
            )
            # A numbered drop mints in its community's own collection once that is live.
            collections = await live_collections(
                session, {(r.platform, r.community_id) for r in drop_rows}
            )
            failed = await failed_contracts(session, {r.contract for r in drop_rows})
            drops = {
                row.id: read_drop(
                    row, row.contract or collections.get((row.platform, row.community_id))
                )
                for row in drop_rows
            }
            addresses = {
                (u.platform, u.user_id): u.address
                for u in await session.scalars(
                    select(PlatformUser).where(
                        tuple_(PlatformUser.platform, PlatformUser.user_id).in_(claimers)
                    )
                )
            }
            earlier = {
                (r.drop_id, r.platform, r.user_id): int(r.claims)
                for r in await session.execute(
                    select(
                        DropClaim.drop_id,
                        DropClaim.platform,
                        DropClaim.user_id,
                        func.count().label("claims"),
                    )
                    .where(
                        DropClaim.drop_id.in_(drop_ids),
                        tuple_(DropClaim.platform, DropClaim.user_id).in_(claimers),
                    )
                    .group_by(DropClaim.drop_id, DropClaim.platform, DropClaim.user_id)
                )
            }
            shared = await shared_counts(session, shared_allowances(group, drops, addresses))
            sources = {(c.drop_id, c.claimant.platform, c.source) for c in group if c.source}
            before = await claimed_before(session, sources) if sources else {}
            taken = dict.fromkeys(drops, 0)
            outcomes: list[Accepted | ClaimResult | _SameAs | Exception] = []
            firsts: dict[tuple[int, str, str | None], int] = {}
            for index, pending in enumerate(group):
                asked = (pending.drop_id, pending.claimant.platform, pending.source)
                if pending.source is not None and asked in before:
                    outcomes.append(before[asked])
                    continue
                if pending.source is not None and asked in firsts:
                    outcomes.append(_SameAs(firsts[asked]))
                    continue
                firsts[asked] = index
                try:
                    outcomes.append(
                        self._decide(
                            pending, drops, addresses, (earlier, shared), taken, now, failed
                        )
                    )
                except (RequestRejected, LookUpFirst) as err:
                    outcomes.append(err)
            accepted = [o for o in outcomes if isinstance(o, Accepted)]
            if not accepted:
                return _resolve(outcomes, {})
            for drop_id, count in taken.items():
                if count:
                    row = drops[drop_id].row
                    await _take_editions(session, row, count, now)
                    if row.supply is not None and row.claimed + count >= row.supply:
                        await report_end(session, drop_id, SOLD_OUT)
            # Stored before the commit: a queued request's metadata is always there to serve.
            # An ERC-1155 edition has its drop's, stored when the drop was made.
            blocks = {i: a.metadata for i, a in enumerate(accepted) if a.metadata is not None}
            stored = await asyncio.to_thread(self.content.put_files, list(blocks.values()))
            cids = dict(zip(blocks, stored, strict=True))
            rows = [a.request_row(cids.get(i, a.drop.metadata_cid)) for i, a in enumerate(accepted)]
            inserted = await session.execute(
                insert(_REQUESTS).returning(
                    _REQUESTS.c.id, _REQUESTS.c.chat_id, _REQUESTS.c.message_id
                ),
                rows,
            )
            request_ids = {(r.chat_id, r.message_id): r.id for r in inserted}
            claims = [
                {
                    "drop_id": a.drop.id,
                    "platform": a.pending.claimant.platform,
                    "user_id": a.pending.claimant.user_id,
                    "user_name": a.pending.user_name,
                    "n": a.n,
                    "edition": a.edition,
                    "request_id": request_ids[(str(a.drop.id), a.key)],
                    "source": a.pending.source,
                    "shared_key": a.shared_claim[0] if a.shared_claim else None,
                    "shared_n": a.shared_claim[1] if a.shared_claim else None,
                }
                for a in accepted
            ]
            await session.execute(insert(_CLAIMS), claims)
            await record(
                session,
                [
                    drop_claimed(a.drop.id, a.drop.platform, a.drop.community_id, claim)
                    for a, claim in zip(accepted, claims, strict=True)
                ],
            )
        return _resolve(outcomes, request_ids)

    def _decide(
        self,
        pending: PendingClaim,
        drops: dict[int, ReadDrop],
        addresses: dict[tuple[str, str], str | None],
        counts: tuple[dict[tuple[int, str, str], int], dict[tuple[int, str], int]],
        taken: dict[int, int],
        now: datetime,
        failed: AbstractSet[str],
    ) -> Accepted:
        """One claim of the group, given what the group took before it. `counts`: the claims
        made so far per member, and per shared allowance (an allowlisted address)."""
        earlier, shared = counts
        read = drops.get(pending.drop_id)
        if read is None:
            raise DropNotFound(N_("There is no drop #{id}."), id=pending.drop_id)
        drop, claimer = read.row, pending.claimant
        if drop.contract is not None and drop.contract in failed:
            raise DropClosed(
                N_(
                    "{drop} cannot be minted: its editions contract could not be created. "
                    "An admin can make the drop again."
                ),
                drop=drop.name,
            )
        claimant = claimant_of(pending, addresses)
        linked = claimant.linked_address
        if not pending.granted and unlooked(read.gates, claimant):
            raise LookUpFirst(read.gates, claimant, read.gated)
        # An airdrop is past the gates on who may claim, not the one on where editions go.
        refusal = first_refusal(
            read.gates, claimant, read.gated, only=LinkWallet if pending.granted else Refusal
        )
        if refusal is not None:
            raise (DropNeedsWallet if isinstance(refusal, LinkWallet) else NotAllowed)(
                refusal.reason
            )
        _check_open(drop, now, drop.claimed + taken[drop.id])
        if linked:
            recipient, custodial = linked, False
        else:
            recipient, custodial = self.service.chain.custody_address, True
        mine = (drop.id, claimer.platform, claimer.user_id)
        allowance = allowance_of(pending, read, addresses)
        limit, pool = allowance.editions, allowance.shared
        shared_claim = None
        if pool is not None:  # one count for every member who verified the listed address
            if (count := shared.get((drop.id, pool), 0)) >= limit:
                raise DropLimitReached(
                    N_(
                        "The address you verified has claimed {count} of {drop}; its allowlist "
                        "entry allows {limit}."
                    ),
                    count=count,
                    drop=drop.name,
                    limit=limit,
                )
            shared[(drop.id, pool)] = count + 1
            shared_claim = (pool, count + 1)
        elif earlier.get(mine, 0) >= limit:
            raise DropLimitReached(
                said(
                    N_("You have claimed {count} of {drop}; the limit is {limit} per member.")
                    if limit == drop.per_user_limit
                    else N_("You have claimed {count} of {drop}; you may claim {limit}."),
                    count=earlier.get(mine, 0),
                    drop=drop.name,
                    limit=limit,
                )
            )
        earlier[mine] = n = earlier.get(mine, 0) + 1
        taken[drop.id] += 1
        edition = drop.claimed + taken[drop.id]
        key = claim_key(claimer.platform, claimer.user_id, n)
        if drop.kind == DropKind.EDITION:
            assert drop.token_id is not None, f"edition drop #{drop.id} has no token ID"
            return Accepted(
                pending, drop, n, edition, key, recipient, custodial, None, drop.token_id,
                read.contract, shared_claim,
            )  # fmt: skip
        block = edition_metadata(drop, edition, key, claimer, pending.user_name)
        return Accepted(
            pending,
            drop,
            n,
            edition,
            key,
            recipient,
            custodial,
            block,
            "0x" + hashlib.sha256(block).hexdigest(),
            read.contract,
            shared_claim,
        )


async def _take_editions(session: AsyncSession, drop: DropRow, count: int, now: datetime) -> None:
    """The database's word on the group: `count` more editions, only if nobody took any
    since the group read the drop, and only within its supply, window and closure."""
    taken = await session.execute(
        update(_DROPS)
        .where(
            _DROPS.c.id == drop.id,
            _DROPS.c.claimed == drop.claimed,
            _DROPS.c.closed_at.is_(None),
            _DROPS.c.starts_at <= now,
            _DROPS.c.ends_at.is_(None) | (_DROPS.c.ends_at > now),
            _DROPS.c.supply.is_(None) | (_DROPS.c.claimed + count <= _DROPS.c.supply),
        )
        .values(claimed=_DROPS.c.claimed + count)
    )
    if taken.rowcount != 1:  # type: ignore[attr-defined]
        raise _DropChanged(f"drop #{drop.id} changed while its claims were decided")


def _resolve(
    outcomes: list[Accepted | ClaimResult | _SameAs | Exception],
    request_ids: dict[tuple[str, str], int],
) -> list[ClaimResult | Exception]:
    """Each claim's answer: its new edition, the earlier claim of its source, or the reason."""
    resolved: list[ClaimResult | Exception] = []
    for outcome in outcomes:
        if isinstance(outcome, Accepted):
            drop = outcome.drop
            resolved.append(
                ClaimResult(
                    drop_id=drop.id,
                    edition=outcome.edition,
                    supply=drop.supply,
                    n=outcome.n,
                    request_id=request_ids[(str(drop.id), outcome.key)],
                    key=f"{DROP_ORIGIN}:{drop.id}:{outcome.key}",
                    token_id=int(outcome.token_id, 16),
                    recipient=outcome.recipient,
                    custodial=outcome.custodial,
                )
            )
        elif isinstance(outcome, _SameAs):
            first = resolved[outcome.index]
            resolved.append(
                first
                if isinstance(first, Exception)
                else dataclasses.replace(first, duplicate=True)
            )
        else:
            resolved.append(outcome)
    return resolved


def _check_open(drop: DropRow, now: datetime, claimed: int) -> None:
    """Raise the reason a claim cannot get an edition now (`claimed` taken so), if any: with
    its message untranslated (`N_`), since a group commit may run in another member's task;
    the claimant's own task translates it (`err.text()`)."""
    if drop.closed_at is not None:
        raise DropClosed(
            N_("{drop} was closed by an admin; no more editions can be claimed."), drop=drop.name
        )
    if now < aware_utc(drop.starts_at):
        raise DropNotOpen(
            N_("{drop} opens at {when}; claim it then."), drop=drop.name, when=_when(drop.starts_at)
        )
    if drop.ends_at is not None and now >= aware_utc(drop.ends_at):
        raise DropClosed(N_("{drop} ended at {when}."), drop=drop.name, when=_when(drop.ends_at))
    if drop.supply is not None and claimed >= drop.supply:
        raise DropSoldOut(
            N_("Sold out: all {supply} editions of {drop} are claimed."),
            supply=drop.supply,
            drop=drop.name,
        )


def _when(moment: datetime) -> str:
    return aware_utc(moment).strftime("%Y-%m-%d %H:%M UTC")
