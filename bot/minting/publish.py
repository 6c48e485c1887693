"""Published before minted: a queued request's image and metadata are pinned on every backend
PINNING names, and read back, before the batcher may sign its mint.

Each (CID, backend) is a `pin` row: pending, then pinned (or refused, for good). A publisher
step takes the due pending rows of one backend (a lease, so several processes never publish
the same rows at once; a publisher that starts takes over leases left by one that died),
writes the DAGs below them into one CAR from the content store, hands it to the backend, then
reads every block back (from IPFS_GATEWAY_URL when set, else from the backend) and checks it
against its CID. Only then are the rows pinned.

A transient fault (unreachable, 429, a block not readable yet) counts an attempt and backs the
rows off: requests wait, with the reason, and never fail for it. A CAR the backend refuses
outright, or one the store cannot give whole (a block missing or damaged on disk), is split
root by root, so one member's content that fails alone fails only the requests minting it,
with the reason.
"""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import ColumnElement, ScalarSelect, Table, and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.content.car import walk_dag, write_car
from bot.content.cid import CODEC_RAW, decode_file_node, parse_cid
from bot.content.pinning.gateway import checked
from bot.content.store import ContentStore
from bot.errors import MintbotError
from bot.i18n import N_
from bot.i18n.said import said
from bot.minting.progress import Progress
from bot.minting.types import failure
from bot.ports import PinningBackend, PinRefused
from bot.redact import redact_urls
from bot.webhooks.outbox import MINT_FAILED, mints_ended
from db.engine import insert_unless_present
from db.models import PIN_PENDING, PIN_PINNED, PIN_REFUSED, MintRequest, Phase, Pin, utcnow

log = logging.getLogger(__name__)

_PINS: Table = Pin.__table__  # type: ignore[assignment]
_REQUESTS: Table = MintRequest.__table__  # type: ignore[assignment]
# Roots in one CAR: a prepared group's images and metadata (100 requests, two roots each);
# groups published at once.
PUBLISH_GROUP = 200
PUBLISH_IN_FLIGHT = 3
# How long a publisher holds the rows it took before another may take them over: longer than
# any upload and read-back of one group.
LEASE = timedelta(minutes=10)
# The back-off after a failed try: the first, doubled each time (or the backend's Retry-After
# if longer), at most the last.
RETRY_FIRST = timedelta(seconds=2)
RETRY_MAX = timedelta(minutes=5)
READ_BACK_AT_ONCE = 32  # blocks read back concurrently
ERROR_CHARS = 500
REFUSED = N_("This content could not be published on IPFS ({reason}); it was not minted.")

BlockReader = Callable[[str], Awaitable[bytes]]


def _request_pins(backends: Sequence[str], *where: ColumnElement[bool]) -> ScalarSelect[int]:
    """How many pin rows a mint request's image and metadata have on `backends` (each CID
    has at most one per backend), of those matching `where`."""
    return (
        select(func.count())
        .select_from(_PINS)
        .where(
            or_(_PINS.c.cid == _REQUESTS.c.image_cid, _PINS.c.cid == _REQUESTS.c.metadata_cid),
            _PINS.c.backend.in_(backends),
            *where,
        )
        .scalar_subquery()
    )


def published(backends: Sequence[str]) -> ColumnElement[bool]:
    """The condition on a mint request: its image and metadata are pinned on every backend."""
    return _request_pins(backends, _PINS.c.state == PIN_PINNED) == 2 * len(backends)


def car_of(store: ContentStore, roots: Sequence[str]) -> bytes:
    """One CAR holding the DAGs below `roots`, with them as its roots (each block read from
    the store, checked there)."""
    out = io.BytesIO()
    write_car(out, roots, (block for root in roots for block in walk_dag(root, store.get_block)))
    return out.getvalue()


async def read_back(root: str, fetch: BlockReader, limit: asyncio.Semaphore | None = None) -> int:
    """Read every block of the file rooted at `root` through `fetch`, each checked against its
    CID (`BlockMismatch` otherwise); returns how many distinct blocks. The tree is read level by
    level, a block that repeats (equal chunks) once; at most READ_BACK_AT_ONCE blocks at a time
    (or as `limit`, shared with other reads, allows)."""
    limit = limit or asyncio.Semaphore(READ_BACK_AT_ONCE)

    async def one(cid: str) -> bytes:
        async with limit:
            return checked(cid, await fetch(cid))

    level, seen = [root], {root}
    while level:
        blocks = await asyncio.gather(*(one(cid) for cid in level))
        children = [
            child
            for cid, data in zip(level, blocks, strict=True)
            if parse_cid(cid).codec != CODEC_RAW
            for child in decode_file_node(data).links
        ]
        level = [child for child in dict.fromkeys(children) if child not in seen]
        seen.update(level)
    return len(seen)


@dataclass(frozen=True)
class _Due:
    id: int
    cid: str
    attempts: int


class Publisher:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        store: ContentStore,
        backends: Sequence[PinningBackend],
        progress: Progress,
        reader: BlockReader | None = None,
    ) -> None:
        self.sessions = sessions
        self.store = store
        self.backends = list(backends)
        self.progress = progress
        self.reader = reader  # IPFS_GATEWAY_URL's, or each backend reads back its own
        # Rows taken before this moment were taken by an earlier life of the process (or by
        # another process): their lease is not waited out.
        self.opened_at = utcnow()
        self.verified = 0  # roots read back and checked, since start
        self._next = 0  # the backend whose turn it is

    @property
    def names(self) -> list[str]:
        return [b.name for b in self.backends]

    async def publish_group(self) -> bool:
        """Publish one group of due pins on one backend (each backend in turn); returns
        whether more may be due."""
        if not self.backends:
            return False
        await self.adopt_queued()
        more = False
        for _ in range(len(self.backends)):
            backend = self.backends[self._next % len(self.backends)]
            self._next += 1
            due = await self._take(backend.name)
            if due:
                await self._publish(backend, due)
                more = True
                break
        return more

    async def adopt_queued(self, limit: int = 1000) -> int:
        """Pending pins for the CIDs of queued requests that have none yet on some backend
        (queued before PINNING named it, or by a path that did not add them). Returns how
        many rows were added."""
        names = self.names
        async with self.sessions() as session:
            rows = (
                await session.execute(
                    select(_REQUESTS.c.image_cid, _REQUESTS.c.metadata_cid)
                    .where(
                        _REQUESTS.c.phase == Phase.QUEUED,
                        _REQUESTS.c.tx_id.is_(None),
                        _REQUESTS.c.metadata_cid.is_not(None),
                        _request_pins(names) < 2 * len(names),
                    )
                    .limit(limit)
                )
            ).all()
        cids = {cid for row in rows for cid in row}
        return await self.want(sorted(cids)) if cids else 0

    async def want(self, cids: Sequence[str]) -> int:
        """Pending pins for `cids` on every backend, where there is no row yet."""
        now = utcnow()
        rows = [
            {
                "cid": cid,
                "backend": name,
                "state": PIN_PENDING,
                "attempts": 0,
                "due_at": now,
                "created_at": now,
            }
            for cid in cids
            for name in self.names
        ]
        if not rows:
            return 0
        async with self.sessions.begin() as session:
            result = await session.execute(insert_unless_present(session, _PINS), rows)
        return max(int(getattr(result, "rowcount", 0) or 0), 0)

    async def _take(self, backend: str) -> list[_Due]:
        now = utcnow()
        free = and_(
            _PINS.c.backend == backend,
            _PINS.c.state == PIN_PENDING,
            or_(_PINS.c.due_at <= now, _PINS.c.taken_at < self.opened_at),
        )
        wanted = select(_PINS.c.id).where(free).order_by(_PINS.c.id).limit(PUBLISH_GROUP)
        async with self.sessions.begin() as session:
            # The condition again in the UPDATE: a row another publisher took meanwhile has its
            # due_at moved past now and its taken_at past our opening, so it is not taken twice.
            rows = (
                await session.execute(
                    update(_PINS)
                    .where(_PINS.c.id.in_(wanted.scalar_subquery()), free)
                    .values(due_at=now + LEASE, taken_at=now)
                    .returning(_PINS.c.id, _PINS.c.cid, _PINS.c.attempts)
                )
            ).all()
        return sorted((_Due(r.id, r.cid, r.attempts) for r in rows), key=lambda d: d.id)

    async def _publish(self, backend: PinningBackend, due: list[_Due]) -> None:
        roots = [d.cid for d in due]
        try:
            try:
                car = await asyncio.to_thread(car_of, self.store, roots)
            except MintbotError as err:  # a block missing or damaged in the store: for good
                raise PinRefused(f"the stored content cannot be read: {err}") from err
            await backend.pin_car(car, roots)
            fetch, limit = self.reader or backend.fetch_block, asyncio.Semaphore(READ_BACK_AT_ONCE)
            await asyncio.gather(*(read_back(root, fetch, limit) for root in roots))
        except PinRefused as err:
            if len(due) > 1:  # find whose content it was: each root on its own
                for one in due:
                    await self._publish(backend, [one])
                return
            await self._refused(backend.name, due[0], str(err))
            return
        except Exception as err:
            if isinstance(err, asyncio.CancelledError):
                raise
            await self._failed(backend.name, due, err)
            return
        async with self.sessions.begin() as session:
            await session.execute(
                update(_PINS)
                .where(_PINS.c.id.in_([d.id for d in due]))
                .values(state=PIN_PINNED, pinned_at=utcnow(), last_error=None)
            )
        self.verified += len(roots)
        self.progress.publishing_reason = None
        self.progress.queued.set()

    async def _failed(self, backend: str, due: list[_Due], err: Exception) -> None:
        # Kept in the database and shown with waiting requests: never a credential in a URL.
        error = redact_urls(f"{type(err).__name__}: {err}")[:ERROR_CHARS]
        attempts = max(d.attempts for d in due) + 1
        wait = RETRY_FIRST * 2 ** min(attempts - 1, 20)
        # A backend that said when to come back (Retry-After on a 429) is not asked sooner.
        asked = getattr(err, "retry_after", None)
        if isinstance(asked, int | float) and asked > 0:
            wait = max(wait, timedelta(seconds=asked))
        wait = min(wait, RETRY_MAX)
        log.warning(
            "publishing %d CIDs on %s failed (try %d), again in %ds: %s",
            len(due),
            backend,
            attempts,
            wait.total_seconds(),
            error,
        )
        async with self.sessions.begin() as session:
            await session.execute(
                update(_PINS)
                .where(_PINS.c.id.in_([d.id for d in due]))
                .values(attempts=_PINS.c.attempts + 1, last_error=error, due_at=utcnow() + wait)
            )
        self.progress.publishing_reason = said(
            N_("waiting to be published on IPFS ({backend}: {error}; tried {attempts}×)"),
            backend=backend,
            error=error,
            attempts=attempts,
        )

    async def _refused(self, backend: str, pin: _Due, reason: str) -> None:
        """The backend will never take this content: its requests fail, with the reason."""
        reason = redact_urls(reason)  # stored, and told to the member
        log.error("%s refused %s for good: %s", backend, pin.cid, reason)
        async with self.sessions.begin() as session:
            await session.execute(
                update(_PINS)
                .where(_PINS.c.id == pin.id)
                .values(state=PIN_REFUSED, attempts=_PINS.c.attempts + 1, last_error=reason)
            )
            ending = await session.execute(
                update(_REQUESTS)
                .where(
                    _REQUESTS.c.phase == Phase.QUEUED,
                    _REQUESTS.c.tx_id.is_(None),
                    or_(_REQUESTS.c.image_cid == pin.cid, _REQUESTS.c.metadata_cid == pin.cid),
                )
                .values(
                    phase=Phase.FAILED,
                    **failure(said(REFUSED, reason=reason[:ERROR_CHARS])),
                )
                .returning(_REQUESTS.c.id)
            )
            await mints_ended(session, ending.scalars().all(), MINT_FAILED)
        self.progress.finalised.set()
