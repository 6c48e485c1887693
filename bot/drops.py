"""Community drops: one artwork, stored once, claimed by members as numbered editions.

The database decides every claim. Pending claims are recorded a group per transaction (group
commit, as the mint intake does): the drops are read with SELECT ... FOR UPDATE (a row lock on
PostgreSQL, so racing processes wait for each other), the claimers' earlier claims are counted
under that lock, each claim of the group is decided in order, and one conditional UPDATE per
drop takes the editions only if nobody took any since the read and they fit the supply, the
window and the closure. A CHECK constraint and UNIQUE (drop, claimer, n) and (drop, edition)
refuse anything beyond. Supply and per-member limits therefore hold however many claims race,
on SQLite and on PostgreSQL alike.

Each claim is a mint request of its own, keyed ("drop", drop ID, "platform:user:n"), with its
own metadata (the edition and the claimer), hence its own token ID. The artwork is stored
when the drop is created; a claim stores only its small metadata document, before the commit,
and is committed ready to mint (phase queued), so the mint pipeline takes it from there.
"""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import hashlib
import io
import json
from collections.abc import Awaitable, Callable, Iterable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Table, func, insert, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.content.images import check_image
from bot.content.metadata import NAME_MAX, build_metadata, clean_description, clean_name
from bot.content.store import ContentStore
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
from bot.minting.service import MintService
from bot.minting.types import MintResult
from db.group_commit import GroupCommit
from db.models import (
    MINTED,
    ChainTx,
    Drop,
    DropAnnouncement,
    DropClaim,
    MintRequest,
    Phase,
    PlatformUser,
    aware_utc,
    storable,
    utcnow,
)

# The platform of every claim's mint request; its chat is the drop's ID.
DROP_PLATFORM = "drop"
# The most editions a drop may have, and a member may claim: far beyond any community's need,
# and within every database's integer columns.
MAX_SUPPLY = 1_000_000
# Drop IDs are INTEGER columns: 32-bit signed on PostgreSQL.
MAX_DROP_ID = 2**31 - 1


def known_id(drop_id: int) -> None:
    """Refuse a drop number no drop can have (a forged button or a typo) before it reaches
    the database, which would fail on it rather than find nothing."""
    if not 1 <= drop_id <= MAX_DROP_ID:
        raise DropNotFound(f"There is no drop #{drop_id}.")


# The answer address of an airdropped edition: nobody asked in a chat, so once decided it
# counts as answered without a message (the airdrop command reports it).
NOBODY_TO_TELL: dict[str, object] = {"nobody": True}
# Room after the drop's name for " #12345 of 12345".
DROP_NAME_MAX = NAME_MAX - 20
CSV_COLUMNS = (
    "edition",
    "claimer_platform",
    "claimer_id",
    "claimer_name",
    "nth_claim",
    "claimed_at",
    "status",
    "recipient",
    "custodial",
    "token_id",
    "tx_hash",
)
_DROPS: Table = Drop.__table__  # type: ignore[assignment]
_REQUESTS: Table = MintRequest.__table__  # type: ignore[assignment]
_CLAIMS: Table = DropClaim.__table__  # type: ignore[assignment]
# Claims decided and recorded per transaction; a larger burst takes several.
CLAIM_GROUP = 500
CLAIM_ATTEMPTS = 3

Notifier = Callable[[MintResult], Awaitable[None]]


@dataclass(frozen=True)
class DropInfo:
    """A drop as an admin or a claimer is shown it."""

    id: int
    platform: str
    community_id: str
    name: str
    description: str
    image_cid: str
    supply: int | None
    claimed: int
    per_user_limit: int
    starts_at: datetime
    ends_at: datetime | None
    gate_roles: tuple[str, ...]
    gate_chat_member: bool
    require_linked_address: bool
    closed_at: datetime | None

    @property
    def sold_out(self) -> bool:
        return self.supply is not None and self.claimed >= self.supply

    def is_over(self, now: datetime) -> bool:
        """No edition can be claimed any more (closed, sold out or ended)."""
        return self.status(now) in ("closed", "sold out", "ended")

    def status(self, now: datetime) -> str:
        """One of: open, not open yet, sold out, ended, closed."""
        if self.closed_at is not None:
            return "closed"
        if self.sold_out:
            return "sold out"
        if now < self.starts_at:
            return "not open yet"
        if self.ends_at is not None and now >= self.ends_at:
            return "ended"
        return "open"


@dataclass(frozen=True)
class ClaimResult:
    """A claim that got an edition; the token is minted in the background."""

    drop_id: int
    edition: int
    supply: int | None
    n: int  # the claimer's own claim number, 1..per_user_limit
    request_id: int
    key: str  # the mint request's key, as MintService results carry it
    token_id: int
    recipient: str
    custodial: bool
    duplicate: bool = False  # the same source claimed before: this is that claim

    @property
    def edition_text(self) -> str:
        return edition_label(self.edition, self.supply)


@dataclass
class _PendingClaim:
    drop_id: int
    platform: str
    user_id: str
    user_name: str
    roles: frozenset[str]
    is_member: bool
    reply_to: dict[str, object] | None
    source: str | None
    # An admin's airdrop: no gates, and straight to this address if one is given.
    granted_to: str | None = None
    granted: bool = False


@dataclass
class _Accepted:
    pending: _PendingClaim
    drop: Drop
    n: int
    edition: int
    key: str
    recipient: str
    custodial: bool
    metadata: bytes
    token_id: str


@dataclass(frozen=True)
class _SameAs:
    """A repeat of an earlier claim of the same group (same source): its outcome."""

    index: int


class _DropChanged(Exception):
    """Another transaction took editions of a drop between this group's read and its update
    (possible where nothing locks the row, as between SQLite processes): decide again."""


def claim_key(platform: str, user_id: str, n: int) -> str:
    """The message part of a claim's mint request key: "platform:user:n", with an over-long
    user ID replaced by its digest so the key fits its 64-character column."""
    key = f"{platform}:{user_id}:{n}"
    if len(key) <= 64:
        return key
    return f"{platform}:{hashlib.sha256(user_id.encode()).hexdigest()[:32]}:{n}"


def edition_label(edition: int, supply: int | None) -> str:
    """The edition as people write it: #12 of 500, or #12 for an open edition."""
    return f"#{edition} of {supply}" if supply is not None else f"#{edition}"


class Drops:
    """Creating, claiming, closing and exporting drops. Adapters pass what only the chat
    platform knows (the claimer's role IDs, whether they are a member of the chat); every
    decision is made here and by the database."""

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        content: ContentStore,
        service: MintService,
        max_image_bytes: int,
        max_image_pixels: int,
        max_image_frames: int,
    ) -> None:
        self.sessions = sessions
        self.content = content
        self.service = service
        self.max_image_bytes = max_image_bytes
        self.max_image_pixels = max_image_pixels
        self.max_image_frames = max_image_frames
        self._notifiers: dict[str, Notifier] = {}
        self._claims = GroupCommit[_PendingClaim, ClaimResult](
            self._commit_group, limit=CLAIM_GROUP, name="record-claims"
        )

    # ----- admins ------------------------------------------------------------------------

    async def create_drop(
        self,
        *,
        platform: str,
        community_id: str,
        created_by: str,
        name: str,
        image: bytes,
        description: str = "",
        supply: int | None = None,
        per_user_limit: int = 1,
        starts_at: datetime | None = None,
        ends_at: datetime | None = None,
        gate_roles: Iterable[str] = (),
        gate_chat_member: bool = False,
        require_linked_address: bool = False,
    ) -> DropInfo:
        """Check and store the artwork once, and record the drop. `supply` None is an open
        edition; `starts_at` None opens it now, `ends_at` None leaves it open until closed.
        Raises `RequestRejected` (or a subclass) saying what is wrong with the request."""
        name = clean_name(name, max_length=DROP_NAME_MAX)
        description = clean_description(description)
        if supply is not None and not 1 <= supply <= MAX_SUPPLY:
            raise RequestRejected(
                f"The supply must be at least 1 and at most {MAX_SUPPLY:,} "
                "(or none, for an open edition)."
            )
        if not 1 <= per_user_limit <= MAX_SUPPLY:
            raise RequestRejected(
                f"The per-member limit must be at least 1 and at most {MAX_SUPPLY:,}."
            )
        starts = aware_utc(starts_at) if starts_at is not None else utcnow()
        ends = aware_utc(ends_at) if ends_at is not None else None
        if ends is not None and ends <= starts:
            raise RequestRejected("The drop must end after it starts.")
        checked = await asyncio.to_thread(
            check_image,
            image,
            max_bytes=self.max_image_bytes,
            max_pixels=self.max_image_pixels,
            max_frames=self.max_image_frames,
        )
        image_cid = await asyncio.to_thread(self.content.put_file, checked.data)
        drop = Drop(
            platform=platform,
            community_id=community_id,
            created_by=created_by,
            name=name,
            description=description,
            image_cid=image_cid,
            image_digest=hashlib.sha256(image).hexdigest(),
            image_mime=checked.mime,
            image_width=checked.width,
            image_height=checked.height,
            supply=supply,
            per_user_limit=per_user_limit,
            starts_at=starts,
            ends_at=ends,
            gate_roles=json.dumps(sorted(set(gate_roles))),
            gate_chat_member=gate_chat_member,
            require_linked_address=require_linked_address,
            claimed=0,
        )
        async with self.sessions.begin() as session:
            session.add(drop)
        return _info(drop)

    async def close(self, drop_id: int) -> DropInfo:
        """Close the drop early: claims committed before this are minted, later ones are
        refused. Closing a closed drop changes nothing."""
        known_id(drop_id)
        async with self.sessions.begin() as session:
            await session.execute(
                update(Drop)
                .where(Drop.id == drop_id, Drop.closed_at.is_(None))
                .values(closed_at=utcnow())
            )
        return await self.info(drop_id)

    async def info(self, drop_id: int) -> DropInfo:
        """The drop with its current count of claimed editions. Raises `DropNotFound`."""
        known_id(drop_id)
        async with self.sessions() as session:
            drop = await session.get(Drop, drop_id)
        if drop is None:
            raise DropNotFound(f"There is no drop #{drop_id}.")
        return _info(drop)

    async def community_drop(self, drop_id: int, platform: str, community_id: str) -> DropInfo:
        """The drop, if it belongs to this community (drop IDs are global; a community sees
        only its own). Raises `DropNotFound`."""
        drop = await self.info(drop_id)
        if drop.platform != platform or drop.community_id != community_id:
            raise DropNotFound(f"There is no drop #{drop_id} here.")
        return drop

    async def list_drops(self, platform: str, community_id: str) -> list[DropInfo]:
        """The community's drops, newest first."""
        async with self.sessions() as session:
            drops = await session.scalars(
                select(Drop)
                .where(Drop.platform == platform, Drop.community_id == community_id)
                .order_by(Drop.id.desc())
            )
            return [_info(drop) for drop in drops]

    async def export_csv(self, drop_id: int) -> str:
        """Every claim of the drop as CSV, by edition: who claimed it, and its mint's state."""
        await self.info(drop_id)  # DropNotFound
        async with self.sessions() as session:
            rows = (
                await session.execute(
                    select(DropClaim, MintRequest, ChainTx)
                    .join(MintRequest, MintRequest.id == DropClaim.request_id)
                    .outerjoin(ChainTx, ChainTx.id == MintRequest.tx_id)
                    .where(DropClaim.drop_id == drop_id)
                    .order_by(DropClaim.edition)
                )
            ).all()
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
        writer.writeheader()
        for claim, request, tx in rows:
            writer.writerow(
                {
                    "edition": claim.edition,
                    "claimer_platform": claim.platform,
                    "claimer_id": _cell(claim.user_id),
                    "claimer_name": _cell(claim.user_name),
                    "nth_claim": claim.n,
                    "claimed_at": aware_utc(claim.created_at).isoformat(),
                    "status": "minted" if request.phase in MINTED else request.phase,
                    "recipient": request.recipient or "",
                    "custodial": "yes" if request.custodial else "no",
                    "token_id": request.token_id_int if request.token_id else "",
                    "tx_hash": (tx.mined_hash or "") if tx is not None else "",
                }
            )
        return out.getvalue()

    # ----- claimers ----------------------------------------------------------------------

    async def claim(
        self,
        drop_id: int,
        platform: str,
        user_id: str,
        user_name: str,
        *,
        roles: Iterable[str] = (),
        is_member: bool = False,
        reply_to: dict[str, object] | None = None,
        source: str | None = None,
    ) -> ClaimResult:
        """Claim the next edition of a drop for a chat user and queue its mint.

        `roles` are the claimer's role IDs and `is_member` whether they belong to the drop's
        chat, as the adapter sees them; `reply_to` is the adapter's own data for answering when
        the token is minted. `source` is the ID of the message or interaction that asked, if
        the platform may deliver it again: a source claims once, and a repeat gets that claim
        back (`duplicate=True`). Raises `DropNotFound`, `NotAllowed` (a gate), `DropNeedsWallet`,
        `DropNotOpen`, `DropClosed`, `DropSoldOut` or `DropLimitReached`.
        """
        known_id(drop_id)
        return await self._queue(
            _PendingClaim(
                drop_id,
                platform,
                user_id,
                storable(user_name, 256),
                frozenset(roles),
                is_member,
                reply_to,
                source,
            )
        )

    async def airdrop(
        self, drop_id: int, *, source: str, address: str | None = None, member: str | None = None
    ) -> ClaimResult:
        """An admin gives an edition to an `address`, or to a chat `member` ("platform:user ID",
        minted where they linked, else to custody). Gates do not apply; supply, window, closure
        and the per-recipient limit do. `source` makes it idempotent: the same source gets the
        same edition back (`duplicate=True`)."""
        if (address is None) == (member is None):
            raise ValueError("an airdrop goes to an address or to a member")
        platform, user_id = ("address", address) if address else str(member).split(":", 1)
        return await self._queue(
            _PendingClaim(
                drop_id,
                platform,
                str(user_id),
                str(user_id),
                frozenset(),
                False,
                NOBODY_TO_TELL,
                source,
                granted_to=address,
                granted=True,
            )
        )

    async def _queue(self, pending: _PendingClaim) -> ClaimResult:
        return await self._claims.submit(pending)

    async def close_writer(self) -> None:
        """Let the claims being recorded finish."""
        await self._claims.close()

    async def _commit_group(self, group: list[_PendingClaim]) -> list[ClaimResult | Exception]:
        """Record pending claims a group per transaction (group commit, as the mint intake
        does): a burst of a thousand claims costs a few transactions, not a thousand."""
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

    async def _commit(self, group: list[_PendingClaim]) -> list[ClaimResult | Exception]:
        """Decide and record a group of claims in one transaction: per claim an edition, or
        the reason it gets none."""
        now = utcnow()
        drop_ids = sorted({c.drop_id for c in group})
        claimers = {(c.platform, c.user_id) for c in group}
        async with self.sessions.begin() as session:
            # On PostgreSQL this locks the drops until commit, so racing groups (of other
            # processes) wait rather than conflict; the conditional UPDATE below decides.
            drops = {
                d.id: d
                for d in await session.scalars(
                    select(Drop).where(Drop.id.in_(drop_ids)).order_by(Drop.id).with_for_update()
                )
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
            sources = {(c.drop_id, c.platform, c.source) for c in group if c.source}
            before = await self._claimed_before(session, sources) if sources else {}
            taken = dict.fromkeys(drops, 0)
            outcomes: list[_Accepted | ClaimResult | _SameAs | Exception] = []
            firsts: dict[tuple[int, str, str | None], int] = {}
            for index, pending in enumerate(group):
                asked = (pending.drop_id, pending.platform, pending.source)
                if pending.source is not None and asked in before:
                    outcomes.append(before[asked])
                    continue
                if pending.source is not None and asked in firsts:
                    outcomes.append(_SameAs(firsts[asked]))
                    continue
                firsts[asked] = index
                try:
                    outcomes.append(self._decide(pending, drops, addresses, earlier, taken, now))
                except RequestRejected as err:
                    outcomes.append(err)
            accepted = [o for o in outcomes if isinstance(o, _Accepted)]
            if not accepted:
                return _resolve(outcomes, {})
            for drop_id, count in taken.items():
                if count:
                    await self._take_editions(session, drops[drop_id], count, now)
            blocks = [a.metadata for a in accepted]
            # Stored before the commit: a queued request's metadata is always there to serve.
            metadata_cids = await asyncio.to_thread(self.content.put_files, blocks)
            rows = [
                self._request_row(a, cid) for a, cid in zip(accepted, metadata_cids, strict=True)
            ]
            inserted = await session.execute(
                insert(_REQUESTS).returning(
                    _REQUESTS.c.id, _REQUESTS.c.chat_id, _REQUESTS.c.message_id
                ),
                rows,
            )
            request_ids = {(r.chat_id, r.message_id): r.id for r in inserted}
            await session.execute(
                insert(_CLAIMS),
                [
                    {
                        "drop_id": a.drop.id,
                        "platform": a.pending.platform,
                        "user_id": a.pending.user_id,
                        "user_name": a.pending.user_name,
                        "n": a.n,
                        "edition": a.edition,
                        "request_id": request_ids[(str(a.drop.id), a.key)],
                        "source": a.pending.source,
                    }
                    for a in accepted
                ],
            )
        return _resolve(outcomes, request_ids)

    @staticmethod
    async def _claimed_before(
        session: AsyncSession, sources: AbstractSet[tuple[int, str, str | None]]
    ) -> dict[tuple[int, str, str | None], ClaimResult]:
        """The claims these sources made already."""
        rows = await session.execute(
            select(DropClaim, MintRequest, Drop.supply)
            .join(MintRequest, MintRequest.id == DropClaim.request_id)
            .join(Drop, Drop.id == DropClaim.drop_id)
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

    def _decide(
        self,
        pending: _PendingClaim,
        drops: dict[int, Drop],
        addresses: dict[tuple[str, str], str | None],
        earlier: dict[tuple[int, str, str], int],
        taken: dict[int, int],
        now: datetime,
    ) -> _Accepted:
        """One claim of the group, given what the group took before it."""
        drop = drops.get(pending.drop_id)
        if drop is None:
            raise DropNotFound(f"There is no drop #{pending.drop_id}.")
        if not pending.granted:
            _check_gates(drop, pending.platform, pending.roles, pending.is_member)
        _check_open(drop, now, drop.claimed + taken[drop.id])
        recipient, custodial = self._recipient(
            drop, pending.granted_to or addresses.get((pending.platform, pending.user_id))
        )
        mine = (drop.id, pending.platform, pending.user_id)
        if earlier.get(mine, 0) >= drop.per_user_limit:
            raise DropLimitReached(
                f"You have claimed {earlier[mine]} of {drop.name}; "
                f"the limit is {drop.per_user_limit} per member."
            )
        earlier[mine] = n = earlier.get(mine, 0) + 1
        taken[drop.id] += 1
        edition = drop.claimed + taken[drop.id]
        key = claim_key(pending.platform, pending.user_id, n)
        block = self._metadata(
            drop, edition, key, pending.platform, pending.user_id, pending.user_name
        )
        return _Accepted(
            pending,
            drop,
            n,
            edition,
            key,
            recipient,
            custodial,
            block,
            "0x" + hashlib.sha256(block).hexdigest(),
        )

    @staticmethod
    async def _take_editions(session: AsyncSession, drop: Drop, count: int, now: datetime) -> None:
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

    def _request_row(self, accepted: _Accepted, metadata_cid: str) -> dict[str, object]:
        drop, pending = accepted.drop, accepted.pending
        return {
            "platform": DROP_PLATFORM,
            "chat_id": str(drop.id),
            "message_id": accepted.key,
            "fingerprint": accepted.token_id[2:],
            "requester_id": pending.user_id,
            "requester_name": pending.user_name,
            "community_id": drop.community_id,
            "reply_to": json.dumps(pending.reply_to) if pending.reply_to else None,
            "name": _token_name(drop, accepted.edition),
            "description": drop.description,
            "upload_digest": drop.image_digest,
            "requested_recipient": None,
            "recipient": accepted.recipient,
            "custodial": accepted.custodial,
            "phase": Phase.QUEUED,
            "image_cid": drop.image_cid,
            "metadata_cid": metadata_cid,
            "token_id": accepted.token_id,
        }

    async def announced(self, drop_id: int, platform: str, chat_id: str, message_id: str) -> None:
        """Remember a message announcing the drop, so its counter can be kept current (also
        after a restart)."""
        async with self.sessions.begin() as session:
            session.add(
                DropAnnouncement(
                    drop_id=drop_id, platform=platform, chat_id=chat_id, message_id=message_id
                )
            )

    async def announcements(self, drop_id: int, platform: str) -> list[tuple[str, str]]:
        """The (chat, message) pairs announcing the drop on `platform`."""
        async with self.sessions() as session:
            rows = await session.execute(
                select(DropAnnouncement.chat_id, DropAnnouncement.message_id).where(
                    DropAnnouncement.drop_id == drop_id, DropAnnouncement.platform == platform
                )
            )
            return [(chat_id, message_id) for chat_id, message_id in rows]

    def add_notifier(self, platform: str, notifier: Notifier) -> None:
        """Deliver the final results of claims made on `platform` through `notifier` (the mint
        service's contract: the claim counts as answered once it returns)."""
        self._notifiers[platform] = notifier
        self.service.answer_through(DROP_PLATFORM, self)

    async def deliver(self, result: MintResult) -> None:
        if result.reply_to == NOBODY_TO_TELL:
            return  # an airdrop: nobody asked in a chat; the outcome is recorded, not told
        platform = result.message_id.split(":", 1)[0]
        notifier = self._notifiers.get(platform)
        if notifier is None:
            raise LookupError(f"no notifier for drop claims made on {platform!r}")
        await notifier(result)

    # ----- inside ------------------------------------------------------------------------

    def _recipient(self, drop: Drop, linked: str | None) -> tuple[str, bool]:
        """The claimer's linked address, else custody unless the drop refuses that."""
        if linked:
            return linked, False
        if drop.require_linked_address:
            raise DropNeedsWallet(
                f"{drop.name} is minted only to members' own wallets: link yours first, "
                "then claim again."
            )
        return self.service.chain.custody_address, True

    def _metadata(
        self, drop: Drop, edition: int, key: str, platform: str, user_id: str, user_name: str
    ) -> bytes:
        """This edition's metadata: the drop's artwork and text, the edition, the claimer.
        The source (the claim's key) makes each block, hence each token ID, unique."""
        attributes: list[dict[str, str | int]] = [
            {"trait_type": "Drop", "value": drop.name},
            {"trait_type": "Edition", "value": edition},
        ]
        if drop.supply is not None:
            attributes.append({"trait_type": "Supply", "value": drop.supply})
        attributes.append({"trait_type": "Claimer", "value": user_name or user_id})
        return build_metadata(
            name=_token_name(drop, edition),
            description=drop.description,
            image_cid=drop.image_cid,
            creator={"platform": drop.platform, "user_id": drop.created_by},
            source={"platform": DROP_PLATFORM, "chat_id": str(drop.id), "message_id": key},
            attributes=attributes,
            mime=drop.image_mime,
            width=drop.image_width,
            height=drop.image_height,
            extra_properties={
                "drop": {"id": drop.id, "edition": edition, "supply": drop.supply},
                "claimer": {"platform": platform, "user_id": user_id, "name": user_name},
            },
        )


def _resolve(
    outcomes: list[_Accepted | ClaimResult | _SameAs | Exception],
    request_ids: dict[tuple[str, str], int],
) -> list[ClaimResult | Exception]:
    """Each claim's answer: its new edition, the earlier claim of its source, or the reason."""
    resolved: list[ClaimResult | Exception] = []
    for outcome in outcomes:
        if isinstance(outcome, _Accepted):
            drop = outcome.drop
            resolved.append(
                ClaimResult(
                    drop_id=drop.id,
                    edition=outcome.edition,
                    supply=drop.supply,
                    n=outcome.n,
                    request_id=request_ids[(str(drop.id), outcome.key)],
                    key=f"{DROP_PLATFORM}:{drop.id}:{outcome.key}",
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


def _token_name(drop: Drop, edition: int) -> str:
    return f"{drop.name} {edition_label(edition, drop.supply)}"


def _check_gates(drop: Drop, platform: str, roles: AbstractSet[str], is_member: bool) -> None:
    gate_roles = set(json.loads(drop.gate_roles))
    if (gate_roles or drop.gate_chat_member) and platform != drop.platform:
        raise NotAllowed(f"{drop.name} can be claimed only from its own {drop.platform} community.")
    if gate_roles and not gate_roles & roles:
        raise NotAllowed(f"{drop.name} is for members with a role it names; you have none of them.")
    if drop.gate_chat_member and not is_member:
        raise NotAllowed(f"{drop.name} is for members of the chat it was made in.")


def _check_open(drop: Drop, now: datetime, claimed: int) -> None:
    """Raise the reason a claim cannot get an edition now (`claimed` taken so), if any."""
    if drop.closed_at is not None:
        raise DropClosed(f"{drop.name} was closed by an admin; no more editions can be claimed.")
    if now < aware_utc(drop.starts_at):
        raise DropNotOpen(f"{drop.name} opens at {_when(drop.starts_at)}; claim it then.")
    if drop.ends_at is not None and now >= aware_utc(drop.ends_at):
        raise DropClosed(f"{drop.name} ended at {_when(drop.ends_at)}.")
    if drop.supply is not None and claimed >= drop.supply:
        raise DropSoldOut(f"Sold out: all {drop.supply} editions of {drop.name} are claimed.")


def _when(moment: datetime) -> str:
    return aware_utc(moment).strftime("%Y-%m-%d %H:%M UTC")


def _cell(text: str) -> str:
    """A CSV cell a spreadsheet will not run as a formula."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _info(drop: Drop) -> DropInfo:
    return DropInfo(
        id=drop.id,
        platform=drop.platform,
        community_id=drop.community_id,
        name=drop.name,
        description=drop.description,
        image_cid=drop.image_cid,
        supply=drop.supply,
        claimed=drop.claimed,
        per_user_limit=drop.per_user_limit,
        starts_at=aware_utc(drop.starts_at),
        ends_at=aware_utc(drop.ends_at) if drop.ends_at is not None else None,
        gate_roles=tuple(json.loads(drop.gate_roles)),
        gate_chat_member=drop.gate_chat_member,
        require_linked_address=drop.require_linked_address,
        closed_at=aware_utc(drop.closed_at) if drop.closed_at is not None else None,
    )
