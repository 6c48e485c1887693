"""The first stages of the mint pipeline: received -> stored -> queued.

A group of received requests at a time: their uploads are opened, their content prepared in
the worker processes (image checked, stored with its metadata), the recipient chosen, and each
arrow committed as one statement for the whole group. A request leaves preparation rejected
or failed with its reason when its own upload or recipient is at fault; the others go on.

Two groups are on their way at once (`Service.start` runs two preparing loops): while the
workers prepare one, the bot reads and opens the next, or records the last, so the workers
wait for neither. Requests are read as plain rows, not ORM objects: a group is a hundred.

Where several pipeline processes share the database, each claims its group (rows locked with
SKIP LOCKED, then marked claimed for CLAIM_S), so no two prepare the same requests; a claim
left by a process that died expires, and another process prepares the group. Every write is
guarded by the phase it leaves, so a group prepared twice after all is recorded once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import Row, Table, bindparam, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.community_collections.records import live_collections
from bot.content.images import UNPROCESSABLE
from bot.errors import RequestRejected
from bot.i18n import N_
from bot.i18n.said import Said
from bot.minting.batches import MAX_GROUP_ATTEMPTS, group_size
from bot.minting.content_workers import ContentJob, ContentWorkers, Prepared
from bot.minting.progress import Progress
from bot.minting.queries import ChainContext, request_key
from bot.minting.recipients import user_address
from bot.minting.uploads import UploadVault
from bot.webhooks.outbox import MINT_FAILED, mints_ended
from db.models import PREPARING, MintRequest, MintUpload, Phase, PlatformUser, utcnow

log = logging.getLogger(__name__)

# Requests prepared together; groups on their way at once; the most upload bytes they may
# hold in memory together.
PREPARE_GROUP = 100
PREPARE_IN_FLIGHT = 2
PREPARE_BYTES = 64 * 1024 * 1024
# How long a claimed group is left to its process: well past a group's preparation time (its
# jobs are bounded by IMAGE_CPU_SECONDS each, spread over the content workers).
CLAIM_S = 60
LOST_UPLOAD = N_("The uploaded image was lost before it could be stored; please send it again.")

# received -> stored -> queued, and out of preparation for good: one statement each, executed
# for a whole group at once (executemany), each guarded by the phase it leaves.
_REQUESTS: Table = MintRequest.__table__  # type: ignore[assignment]
_STORE = (
    update(_REQUESTS)
    .where(_REQUESTS.c.id == bindparam("b_id"), _REQUESTS.c.phase == Phase.RECEIVED)
    .values(phase=Phase.STORED, image_cid=bindparam("b_image_cid"))
)
_QUEUE = (
    update(_REQUESTS)
    .where(_REQUESTS.c.id == bindparam("b_id"), _REQUESTS.c.phase == Phase.STORED)
    .values(
        phase=Phase.QUEUED,
        metadata_cid=bindparam("b_metadata_cid"),
        token_id=bindparam("b_token_id"),
        recipient=bindparam("b_recipient"),
        custodial=bindparam("b_custodial"),
        contract=bindparam("b_contract"),
    )
)
_END = (
    update(_REQUESTS)
    # executemany takes no IN lists
    .where(
        _REQUESTS.c.id == bindparam("b_id"),
        or_(*(_REQUESTS.c.phase == phase for phase in sorted(PREPARING))),
    )
    .values(
        phase=bindparam("b_phase"),
        failure_reason=bindparam("b_reason"),
        failure_said=bindparam("b_said"),
    )
)


def _ending(request_id: int, phase: Phase, reason: Said) -> dict[str, Any]:
    """Parameters of `_END` for one request: its reason in English and untranslated."""
    return {
        "b_id": request_id,
        "b_phase": phase,
        "b_reason": str(reason),
        "b_said": reason.to_json(),
    }


# What preparation reads of a request.
_PREPARE_COLUMNS = (
    _REQUESTS.c.id,
    _REQUESTS.c.platform,
    _REQUESTS.c.chat_id,
    _REQUESTS.c.message_id,
    _REQUESTS.c.requester_id,
    _REQUESTS.c.requester_name,
    _REQUESTS.c.name,
    _REQUESTS.c.description,
    _REQUESTS.c.requested_recipient,
    _REQUESTS.c.community_id,
    _REQUESTS.c.attempts,
)
Preparing = Row[*tuple[Any, ...]]  # a row of _PREPARE_COLUMNS


def content_job(request: Preparing, upload: bytes) -> ContentJob:
    return ContentJob(
        request_id=request.id,
        upload=upload,
        name=request.name,
        description=request.description,
        platform=request.platform,
        chat_id=request.chat_id,
        message_id=request.message_id,
        requester_id=request.requester_id,
        requester_name=request.requester_name,
    )


class Preparer:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        chain: ChainContext,
        uploads: UploadVault,
        contents: ContentWorkers,
        progress: Progress,
        *,
        shared: bool = False,
    ) -> None:
        self.sessions = sessions
        self.chain = chain
        self.uploads = uploads
        self.contents = contents
        self.progress = progress
        # Requests of the groups on their way; a group is chosen under the lock.
        self._claimed: set[int] = set()
        self._choosing = asyncio.Lock()
        self._shared = shared  # other pipeline processes prepare from the same database

    async def prepare_group(self) -> bool:
        """Prepare up to PREPARE_GROUP requests; returns whether there may be more.

        A group whose preparation raised as a whole (no single job was blamed) counts an
        attempt against each member, and the next group starting with them is smaller, so a
        culprit ends up alone; alone past MAX_GROUP_ATTEMPTS it fails, and the rest go on.
        """
        async with self._choosing:
            more, group, uploads = await self._choose()
            self._claimed.update(r.id for r in group)
        if not group:
            await self.uploads.scrub()  # idle: a scrub left undone is tried again here
            return False
        try:
            await self._prepare(group, uploads)
        finally:
            self._claimed.difference_update(r.id for r in group)
            if self._shared:  # done with: a failed group's, or a request asked again, is free
                await self._unclaim([r.id for r in group])
        return more

    async def _unclaim(self, ids: list[int]) -> None:
        async with self.sessions.begin() as session:
            await session.execute(
                update(_REQUESTS).where(_REQUESTS.c.id.in_(ids)).values(prepare_claimed_until=None)
            )

    async def _choose(self) -> tuple[bool, list[Preparing], dict[int, bytes]]:
        """The next group not on its way already, its uploads opened, and whether more may
        be waiting behind it."""
        query = (
            select(*_PREPARE_COLUMNS, func.length(MintUpload.data))
            .outerjoin(MintUpload, MintUpload.request_id == _REQUESTS.c.id)
            .where(_REQUESTS.c.phase.in_(PREPARING))
            .order_by(_REQUESTS.c.id)
            .limit(PREPARE_GROUP)
        )
        if self._claimed:
            query = query.where(_REQUESTS.c.id.not_in(self._claimed))
        now = utcnow()
        if self._shared:
            query = query.where(
                or_(
                    _REQUESTS.c.prepare_claimed_until.is_(None),
                    _REQUESTS.c.prepare_claimed_until < now,
                )
            ).with_for_update(of=_REQUESTS, skip_locked=True)
        async with self.sessions() as session:
            rows = (await session.execute(query)).all()
            group: list[Preparing] = []
            budget = PREPARE_BYTES // PREPARE_IN_FLIGHT
            size = group_size(PREPARE_GROUP, rows[0].attempts if rows else 0)
            for row in rows[:size]:
                upload_size = row[-1] or 0
                if group and upload_size > budget:
                    break  # the rest waits for the next group: memory stays bounded
                group.append(row)
                budget -= upload_size
            if self._shared and group:  # claimed, and the rows' locks released
                await session.execute(
                    update(_REQUESTS)
                    .where(_REQUESTS.c.id.in_([r.id for r in group]))
                    .values(prepare_claimed_until=now + timedelta(seconds=CLAIM_S))
                )
                await session.commit()
            uploads = await self.uploads.open(
                session, {r.id: (r.platform, r.chat_id, r.message_id) for r in group}
            )
        return len(rows) == PREPARE_GROUP or len(group) < len(rows), group, uploads

    async def _prepare(self, group: list[Preparing], uploads: dict[int, bytes]) -> None:
        try:
            prepared = await self.contents.prepare(
                [content_job(r, uploads[r.id]) for r in group if r.id in uploads]
            )
        except Exception:
            await self._count_group_failure(group)
            raise
        ready = {i: p for i, p in prepared.items() if isinstance(p, Prepared)}
        recipients = await self._recipients([r for r in group if r.id in ready])
        ended = []
        for request in group:
            outcome, recipient = prepared.get(request.id), recipients.get(request.id)
            if outcome is None:
                ended.append(_ending(request.id, Phase.FAILED, Said(LOST_UPLOAD)))
            elif isinstance(outcome, Said):
                ended.append(_ending(request.id, Phase.REJECTED, outcome))
            elif isinstance(recipient, Said):
                ended.append(_ending(request.id, Phase.REJECTED, recipient))
        minted_to = {i: r for i, r in recipients.items() if not isinstance(r, Said)}
        queue = {i: p for i, p in ready.items() if i in minted_to}
        by_id = {r.id: r for r in group}
        async with self.sessions.begin() as session:
            if queue:
                rows_stored = [{"b_id": i, "b_image_cid": p.image_cid} for i, p in queue.items()]
                await session.execute(_STORE, rows_stored)
            if ended:
                await session.execute(_END, ended)
                failed = [e["b_id"] for e in ended if e["b_phase"] == Phase.FAILED]
                await mints_ended(session, failed, MINT_FAILED)
        async with self.sessions.begin() as session:
            if queue:
                # A community's own collection, once live, receives its mints; the contract
                # is fixed here, with the token ID, and never changes after.
                collections = await live_collections(
                    session, {(r.platform, r.community_id) for r in group if r.id in queue}
                )
                await session.execute(
                    _QUEUE,
                    [
                        {
                            "b_id": i,
                            "b_metadata_cid": p.metadata_cid,
                            "b_token_id": p.token_id,
                            "b_recipient": minted_to[i][0],
                            "b_custodial": minted_to[i][1],
                            "b_contract": collections.get(
                                (by_id[i].platform, by_id[i].community_id)
                            ),
                        }
                        for i, p in queue.items()
                    ],
                )
            # The bytes are kept until the request has left preparation, whichever way.
            await self.uploads.shred(session, [r.id for r in group])
        await self.uploads.scrub()
        self.progress.queued.set()
        self.progress.to_publish.set()
        if ended:
            self.progress.finalised.set()

    async def _count_group_failure(self, group: list[Preparing]) -> None:
        """Record that `group` failed as a whole; a request that failed alone too often ends
        failed, so no group is selected again forever."""
        ids = [r.id for r in group]
        log.error("preparing requests %s failed as a group", ids, exc_info=True)
        async with self.sessions.begin() as session:
            await session.execute(
                update(MintRequest)
                .where(MintRequest.id.in_(ids), MintRequest.phase.in_(PREPARING))
                .values(attempts=MintRequest.attempts + 1)
            )
            if len(group) == 1 and group[0].attempts + 1 >= MAX_GROUP_ATTEMPTS:
                await session.execute(_END, [_ending(ids[0], Phase.FAILED, Said(UNPROCESSABLE))])
                await mints_ended(session, ids[:1], MINT_FAILED)
                await self.uploads.shred(session, ids)
                self.progress.finalised.set()
        await self.uploads.scrub()

    async def _recipients(
        self, requests: Sequence[Preparing]
    ) -> dict[int, tuple[str, bool] | Said]:
        """For each request: an explicit address, else the requester's linked one, else
        custody (True); or why the explicit address cannot be minted to."""
        if not requests:
            return {}
        async with self.sessions() as session:
            users = {
                (u.platform, u.user_id): u
                for u in await session.scalars(
                    select(PlatformUser).where(
                        PlatformUser.user_id.in_({r.requester_id for r in requests})
                    )
                )
            }
        collection = self.chain.collection.address
        chosen: dict[int, tuple[str, bool] | Said] = {}
        for request in requests:
            user = users.get((request.platform, request.requester_id))
            try:
                if request.requested_recipient:
                    address = user_address(request.requested_recipient, collection=collection)
                    chosen[request.id] = (address, False)
                    continue
            except RequestRejected as err:
                chosen[request.id] = err.said
                continue
            try:
                linked = (
                    user_address(user.address, collection=collection)
                    if user is not None and user.address
                    else None
                )
            except RequestRejected:
                # A link made before the rules refused such addresses: keep the token safe.
                log.warning(
                    "%s's linked address cannot be minted to; using custody", request_key(request)
                )
                linked = None
            chosen[request.id] = (linked, False) if linked else (self.chain.custody_address, True)
        return chosen
