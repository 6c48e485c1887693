"""MintService: the single entry point for Discord, Telegram, the CLI and the console.

`submit` commits the request row and returns; background tasks carry it through
received -> stored -> queued -> signed -> sent -> confirmed -> replied, one committed database
transaction per arrow. At start, every unfinished request resumes from its last committed
phase. Results reach adapters through notifiers registered per platform.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Table, and_, bindparam, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.chain.contract import Collection
from bot.chain.engine import (
    AuditInfo,
    SpendCapReached,
    TxEngine,
    TxEvents,
    WalletNeedsFunds,
    crash_point,
    is_transient,
    retry_transient,
)
from bot.chain.explorer import Explorer, marketplace_url
from bot.chain.fees import current_fees
from bot.communities import Asker, Communities
from bot.config import Settings
from bot.content.images import NOT_AN_IMAGE, UNPROCESSABLE
from bot.content.metadata import clean_description, clean_name
from bot.content.store import ContentStore
from bot.errors import (
    FeeCapExceeded,
    ImageRejected,
    RequestRejected,
)
from bot.minting.batches import without_culprits
from bot.minting.contents import ContentJob, ContentWorkers, ImageLimits, Prepared
from bot.minting.intake import Intake, RateLimits
from bot.minting.recipients import user_address
from bot.minting.types import PHASE_TEXT, MintHandle, MintResult, MintSubmission, Upload
from bot.minting.uploads import PREPARING, UploadVault
from bot.ports import Answerer
from db.models import (
    ChainTx,
    DropClaim,
    MintRequest,
    MintUpload,
    Phase,
    PlatformUser,
    aware_utc,
    storable,
    utcnow,
)

log = logging.getLogger(__name__)

Notifier = Callable[[MintResult], Awaitable[None]]
# Posts a confirmed mint in a community's announcement channel or chat (its ID).
Announcer = Callable[[MintResult, str], Awaitable[None]]

# Gas limit of a batch: measured worst case (new holders, bench/gas.py) plus a quarter.
BATCH_BASE_GAS = 60_000
BATCH_GAS_PER_TOKEN = 62_000
# Requests prepared together, and the most upload bytes one group may hold in memory.
PREPARE_GROUP = 100
PREPARE_BYTES = 64 * 1024 * 1024
DELIVERY_GROUP = 200
# Seconds before a failed answer is tried again, doubling up to the most.
ANSWER_RETRY_FIRST = 1.0
ANSWER_RETRY_MAX = 600.0
T = TypeVar("T")
IN_FLIGHT = (Phase.RECEIVED, Phase.STORED, Phase.QUEUED, Phase.SIGNED, Phase.SENT)
UNANSWERED = (Phase.CONFIRMED, Phase.REJECTED, Phase.FAILED)
REPEAT_WINDOW = timedelta(hours=24)
LOST_UPLOAD = "The uploaded image was lost before it could be stored; please send it again."
# Group-level failures a request may take part in (see MintRequest.attempts). The group it
# joins halves with each, so by the last it is alone: 100 -> 50 -> ... -> 1 in 7 steps.
MAX_GROUP_ATTEMPTS = 9


def group_size(largest: int, attempts: int) -> int:
    """How many requests go in a group that starts with a request with `attempts` failures."""
    return max(1, largest >> attempts)


def content_job(request: MintRequest, upload: bytes) -> ContentJob:
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


# received -> stored -> queued, and out of preparation for good: one statement each, executed
# for a whole group at once (executemany), each guarded by the phase it leaves.
_PREPARING = PREPARING
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
    )
)
_END = (
    update(_REQUESTS)
    # executemany takes no IN lists
    .where(
        _REQUESTS.c.id == bindparam("b_id"),
        or_(*(_REQUESTS.c.phase == phase for phase in _PREPARING)),
    )
    .values(phase=bindparam("b_phase"), failure_reason=bindparam("b_reason"))
)


# A failed answer: its tries, when the next is due, why, and whether it is given up.
_ANSWER_FAILED = (
    update(_REQUESTS)
    .where(_REQUESTS.c.id == bindparam("b_id"), _REQUESTS.c.answered_at.is_(None))
    .values(
        answer_attempts=bindparam("b_attempts"),
        answer_due_at=bindparam("b_due"),
        answer_error=bindparam("b_error"),
        undeliverable_at=bindparam("b_given_up"),
        # Kept as it was: it tells when the outcome was decided, which bounds the retries.
        updated_at=_REQUESTS.c.updated_at,
    )
)


def refused_mint(reason: str) -> str:
    return f"The collection contract refused to mint this token ({reason}). You may ask again."


def _ending(request_id: int, phase: Phase, reason: str) -> dict[str, Any]:
    """Parameters of `_END` for one request."""
    return {"b_id": request_id, "b_phase": phase, "b_reason": reason}


def requested_by(platform: str, user_id: str) -> ColumnElement[bool]:
    """The user's own requests: those they made in chat and their drop claims (which are
    filed under the "drop" platform, keyed by the drop)."""
    claims = select(DropClaim.request_id).where(
        DropClaim.platform == platform, DropClaim.user_id == user_id
    )
    return or_(
        and_(MintRequest.platform == platform, MintRequest.requester_id == user_id),
        MintRequest.id.in_(claims),
    )


@dataclass
class ChainContext:
    """What the service needs of the chain (built by the composition root)."""

    chain_id: int
    collection: Collection
    explorer: Explorer | None
    custody_address: str


class MintService:
    def __init__(
        self,
        *,
        settings: Settings,
        sessions: async_sessionmaker[AsyncSession],
        communities: Communities,
        engine: TxEngine,
        chain: ChainContext,
        content: ContentStore,
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.communities = communities
        self.engine = engine
        engine.own("mint_batch", self.tx_events())
        self.chain = chain
        self.content = content
        self._uploads = UploadVault(sessions)
        self._intake = Intake(
            sessions, RateLimits(communities.user_limit, communities.community_limit)
        )
        self._contents = ContentWorkers(
            content.directory,
            ImageLimits(
                settings.max_image_bytes,
                settings.max_image_pixels,
                settings.max_image_frames,
                settings.image_cpu_seconds,
            ),
            settings.content_workers,
        )
        self._notifiers: dict[str, Notifier] = {}
        self._announcers: dict[str, Announcer] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._received = asyncio.Event()
        self._queued = asyncio.Event()
        self._finalised = asyncio.Event()
        self.waiting_reason: str | None = None
        self._wake_after_commit = False
        self.paused_by_admin = False
        self._poll = settings.poll_interval

    # ----- adapters' side ------------------------------------------------------------------

    def add_notifier(self, platform: str, notifier: Notifier) -> None:
        """Deliver final results of `platform`'s requests through `notifier`. The request is
        marked answered once it returns; if it raises, delivery is retried."""
        self._notifiers[platform] = notifier
        self._finalised.set()

    def answer_through(self, origin: str, answerer: Answerer) -> None:
        """Deliver final results of `origin`'s requests through `answerer`."""
        self.add_notifier(origin, answerer.deliver)

    def add_announcer(self, platform: str, announcer: Announcer) -> None:
        """Announce `platform`'s confirmed mints through `announcer` in communities that set an
        announcement channel, once each, after the requester's answer."""
        self._announcers[platform] = announcer

    async def submit(self, submission: MintSubmission) -> MintHandle:
        """Record the request (or find it) and return at once; the rest runs in the background.

        Same key and same content: the existing request's handle (`duplicate=True`).
        Same key, different content (an edited message): `RequestConflict`, nothing minted.
        Text and size problems are recorded as a rejected request, answered like any other.
        """
        problem = self._quick_check(submission)
        row = {
            "platform": submission.platform,
            "chat_id": submission.chat_id,
            "message_id": submission.message_id,
            "fingerprint": submission.fingerprint(),
            "requester_id": submission.requester_id,
            "requester_name": storable(submission.requester_name, 256),
            "community_id": submission.community_id,
            "reply_to": json.dumps(submission.reply_to) if submission.reply_to else None,
            "name": storable(submission.name, 10_000),
            "description": storable(submission.description, 10_000),
            "upload_digest": hashlib.sha256(submission.image).hexdigest(),
            "requested_recipient": (submission.recipient or None) if problem is None else None,
            "phase": Phase.RECEIVED if problem is None else Phase.REJECTED,
            "failure_reason": problem,
        }
        handle = await self._intake.record(row, submission.image if problem is None else None)
        crash_point("after_submit", self.settings.crash_at)
        if handle.reopened:
            (self._queued if handle.phase == Phase.QUEUED else self._received).set()
        elif not handle.duplicate:
            (self._received if problem is None else self._finalised).set()
        return handle

    def queued_elsewhere(self) -> None:
        """Requests were committed ready to mint (phase queued) by another part of the core,
        such as a drop claim: batch them now rather than at the next idle check."""
        self._queued.set()

    def check_size(self, size: int) -> None:
        """Refuse an upload by its size alone, before anyone downloads it."""
        if size > self.settings.max_image_bytes:
            raise self.too_big(size)

    def too_big(self, size: int | None) -> ImageRejected:
        """The refusal of an upload over the size cap; `size` is None when a download was
        stopped at the cap before its end."""
        limit = self.settings.max_image_bytes / 1e6
        if size is None:
            return ImageRejected(f"That file is over the limit of {limit:g} MB.")
        return ImageRejected(f"That file is {size / 1e6:.1f} MB; the limit is {limit:g} MB.")

    def check_text(self, name: str, description: str, recipient: str | None) -> None:
        """Refuse what a request says (its name, description and recipient address) before
        anything is downloaded or stored."""
        clean_name(name)
        clean_description(description)
        if recipient:
            user_address(recipient, collection=self.chain.collection.address)

    def _quick_check(self, submission: MintSubmission) -> str | None:
        """Checks that need no decoding, done before anything is stored."""
        try:
            self.check_text(submission.name, submission.description, submission.recipient)
            self.check_size(len(submission.image))
            if not submission.image:
                raise ImageRejected("That file is empty.")
        except RequestRejected as err:
            return str(err)
        return None

    async def result(self, request_id: int) -> MintResult:
        async with self.sessions() as session:
            request = await session.get(MintRequest, request_id)
            if request is None:
                raise KeyError(request_id)
            tx = await session.get(ChainTx, request.tx_id) if request.tx_id else None
            return self._render(request, tx)

    async def find(self, platform: str, chat_id: str, message_id: str) -> MintResult | None:
        request_id = await self._request_id(platform, chat_id, message_id)
        return None if request_id is None else await self.result(request_id)

    async def _request_id(self, platform: str, chat_id: str, message_id: str) -> int | None:
        async with self.sessions() as session:
            return await session.scalar(
                select(MintRequest.id).where(
                    MintRequest.platform == platform,
                    MintRequest.chat_id == chat_id,
                    MintRequest.message_id == message_id,
                )
            )

    # ----- what chat commands ask of the core ----------------------------------------------

    async def precheck(
        self,
        submission_key: tuple[str, str, str],
        community_id: str,
        asker: Asker,
        *,
        author_id: str,
        upload: Upload | None,
        name: str,
        description: str = "",
        recipient: str | None = None,
    ) -> None:
        """Before a chat request is acknowledged: every check that needs no database, so a
        refusal is answered at once and privately, with nothing shown to anyone else.

        The upload as the platform describes it (None: there is none), what the request
        says, and who may mint here by the community's settings (a read a few seconds old at
        most). Raises `RequestRejected` (or a subclass) with the reason. `admit` decides the
        rest (duplicates, rate limits) once acknowledged; the image's bytes decide at last.
        """
        if upload is None:
            raise ImageRejected("That message has no image to mint.")
        if upload.looks_like_image is False:
            raise ImageRejected(NOT_AN_IMAGE)
        if upload.size is not None:
            self.check_size(upload.size)
        self.check_text(name, description, recipient)
        platform, chat_id, _ = submission_key
        await self.communities.check_may_mint(
            platform, community_id, chat_id, asker, author_id=author_id
        )

    async def admit(
        self,
        submission_key: tuple[str, str, str],
        community_id: str,
        asker: Asker,
        *,
        author_id: str,
    ) -> bool:
        """Before a chat request is fetched and submitted (after `precheck` and the platform's
        acknowledgement): may `asker` mint here and now?

        Returns False if the key is already recorded (a replayed or double-clicked message:
        its answer is on its way, and nothing else should happen), unless its request failed
        for good: asking again retries it. Raises `NotAllowed`, `MintingPaused` or
        `RateLimited` with the reason (the rate limit is decided again, atomically, when the
        request is recorded).
        """
        platform, chat_id, message_id = submission_key
        async with self.sessions() as session:
            phase = await session.scalar(
                select(MintRequest.phase).where(
                    MintRequest.platform == platform,
                    MintRequest.chat_id == chat_id,
                    MintRequest.message_id == message_id,
                )
            )
        if phase is not None and phase != Phase.FAILED:
            return False
        await self.communities.check_mint(
            platform, community_id, chat_id, asker, author_id=author_id
        )
        return True

    async def recent_same_image(
        self, platform: str, requester_id: str, image: bytes, within: timedelta = REPEAT_WINDOW
    ) -> MintResult | None:
        """The requester's latest request for the same image bytes within `within`, if any:
        adapters ask before minting it again."""
        digest = hashlib.sha256(image).hexdigest()
        async with self.sessions() as session:
            request_id = await session.scalar(
                select(MintRequest.id)
                .where(
                    MintRequest.platform == platform,
                    MintRequest.requester_id == requester_id,
                    MintRequest.upload_digest == digest,
                    MintRequest.created_at > utcnow() - within,
                    MintRequest.phase.not_in((Phase.REJECTED, Phase.FAILED)),
                )
                .order_by(MintRequest.id.desc())
                .limit(1)
            )
        return None if request_id is None else await self.result(request_id)

    async def requests_of(
        self,
        platform: str,
        requester_id: str,
        *,
        minted_only: bool,
        offset: int = 0,
        limit: int = 10,
    ) -> tuple[list[MintResult], int]:
        """A page of the user's requests, newest first, and how many there are in all."""
        where = [requested_by(platform, requester_id)]
        if minted_only:
            where.append(MintRequest.phase.in_((Phase.CONFIRMED, Phase.REPLIED)))
        async with self.sessions() as session:
            total = int(
                await session.scalar(select(func.count()).select_from(MintRequest).where(*where))
                or 0
            )
            rows = list(
                await session.scalars(
                    select(MintRequest)
                    .where(*where)
                    .order_by(MintRequest.id.desc())
                    .offset(offset)
                    .limit(limit)
                )
            )
            txs = {
                tx.id: tx
                for tx in await session.scalars(
                    select(ChainTx).where(ChainTx.id.in_({r.tx_id for r in rows if r.tx_id}))
                )
            }
        return [self._render(r, txs.get(r.tx_id) if r.tx_id else None) for r in rows], total

    async def community_stats(self, platform: str, community_id: str) -> dict[str, int]:
        """Requests from this community by phase, plus distinct requesters, and how many
        answers were given up as undeliverable (if any)."""
        async with self.sessions() as session:
            by_phase = {
                str(phase): int(count)
                for phase, count in await session.execute(
                    select(MintRequest.phase, func.count())
                    .where(
                        MintRequest.platform == platform,
                        MintRequest.community_id == community_id,
                    )
                    .group_by(MintRequest.phase)
                )
            }
            creators, undeliverable = (
                await session.execute(
                    select(
                        func.count(func.distinct(MintRequest.requester_id)),
                        func.count(MintRequest.undeliverable_at),
                    ).where(
                        MintRequest.platform == platform, MintRequest.community_id == community_id
                    )
                )
            ).one()
        if undeliverable:
            by_phase["answer undeliverable"] = int(undeliverable)
        return {**by_phase, "creators": int(creators or 0)}

    async def hot_wallet(self) -> tuple[str, int, int]:
        """The hot wallet's address, balance and fees committed today (wei)."""
        balance = await self.engine.w3.eth.get_balance(self.engine.wallet.address)  # type: ignore[arg-type]
        async with self.sessions() as session:
            spent = await self.engine.spent_today(session)
        return self.engine.wallet.address, int(balance), spent

    async def wait_final(self, request_id: int, timeout: float | None = None) -> MintResult:
        """Wait until the request's outcome is decided (by this process or another)."""
        async with asyncio.timeout(timeout):
            while True:
                current = await self.result(request_id)
                if current.is_final:
                    return current
                await asyncio.sleep(self._poll)

    def _render(self, request: MintRequest, tx: ChainTx | None) -> MintResult:
        phase = Phase(request.phase)
        explorer = self.chain.explorer
        token_id = request.token_id_int
        minted = phase in (Phase.CONFIRMED, Phase.REPLIED)
        tx_hash = tx.mined_hash if tx is not None else None
        contract = self.chain.collection.address
        return MintResult(
            request_id=request.id,
            key=request.key,
            platform=request.platform,
            chat_id=request.chat_id,
            message_id=request.message_id,
            requester_id=request.requester_id,
            requester_name=request.requester_name,
            community_id=request.community_id,
            reply_to=json.loads(request.reply_to) if request.reply_to else None,
            name=request.name,
            phase=phase,
            status_text=PHASE_TEXT[phase],
            recipient=request.recipient,
            custodial=request.custodial,
            token_id=token_id,
            image_cid=request.image_cid,
            metadata_cid=request.metadata_cid,
            tx_hash=tx_hash,
            tx_url=explorer.tx_url(tx_hash) if explorer and tx_hash else None,
            token_url=(
                explorer.token_url(contract, token_id)
                if explorer and minted and token_id is not None
                else None
            ),
            marketplace_url=(
                marketplace_url(self.chain.chain_id, contract, token_id)
                if minted and token_id is not None
                else None
            ),
            failure_reason=request.failure_reason,
            answered=request.answered_at is not None,
            answer_error=request.answer_error,
            waiting_reason=self.waiting_reason if phase == Phase.QUEUED else None,
        )

    # ----- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        """Reconcile nonces and resume every unfinished request from its committed phase."""
        await retry_transient(self.engine.reconcile, what="nonce reconciliation")
        await self._contents.start()
        await self._uploads.scrub()
        # received -> stored -> queued, a group at a time: each arrow is still one committed
        # transaction, shared by the group.
        self._spawn(self._run_steps(self._received, self._prepare_group, "preparing", 5))
        batch_idle = max(self.settings.batch_max_wait, self._poll)
        self._spawn(self._run_steps(self._queued, self._send_one_batch, "batching", batch_idle))
        self._spawn(self._watch_loop())
        self._spawn(self._delivery_loop())
        self._received.set()  # requests being prepared at the last stop resume here
        self._queued.set()
        self._finalised.set()

    async def stop(self, grace: float = 5.0) -> None:
        """Stop the background work. Answers already being delivered get `grace` seconds to
        be recorded, so a user who was answered is not answered again after a restart."""
        await self._intake.close()
        deliveries = [t for t in self._tasks if t.get_name() == "deliver-answers"]
        if deliveries:
            await asyncio.wait(deliveries, timeout=grace)
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._contents.close()

    def _spawn(self, coro: Coroutine[Any, Any, T], name: str | None = None) -> asyncio.Task[T]:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background task failed", exc_info=task.exception())

    # ----- received -> stored -> queued ----------------------------------------------------

    async def _run_steps(
        self, wake: asyncio.Event, step: Callable[[], Awaitable[bool]], what: str, idle: float
    ) -> None:
        """Run `step` while it says more may be due, then sleep until `wake` is set or `idle`
        seconds pass. A failed step is logged and tried again a second later."""
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(idle):
                    await wake.wait()
            wake.clear()
            try:
                while await step():
                    pass
            except Exception as err:
                if is_transient(err):
                    log.warning("%s: transient fault (%s)", what, type(err).__name__)
                else:
                    log.exception("%s failed; retrying", what)
                await asyncio.sleep(1)

    async def _prepare_group(self) -> bool:
        """Prepare up to PREPARE_GROUP requests; returns whether there may be more.

        A group whose preparation raised as a whole (no single job was blamed) counts an
        attempt against each member, and the next group starting with them is smaller, so a
        culprit ends up alone; alone past MAX_GROUP_ATTEMPTS it fails, and the rest go on.
        """
        async with self.sessions() as session:
            rows = (
                await session.execute(
                    select(MintRequest, func.length(MintUpload.data))
                    .outerjoin(MintUpload, MintUpload.request_id == MintRequest.id)
                    .where(MintRequest.phase.in_(_PREPARING))
                    .order_by(MintRequest.id)
                    .limit(PREPARE_GROUP)
                )
            ).all()
            group: list[MintRequest] = []
            budget = PREPARE_BYTES
            size = group_size(PREPARE_GROUP, rows[0][0].attempts if rows else 0)
            for request, upload_size in rows[:size]:
                if group and (upload_size or 0) > budget:
                    break  # the rest waits for the next group: memory stays bounded
                group.append(request)
                budget -= upload_size or 0
            uploads = await self._uploads.open(session, group)
        if not group:
            return False
        try:
            prepared = await self._contents.prepare(
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
                ended.append(_ending(request.id, Phase.FAILED, LOST_UPLOAD))
            elif isinstance(outcome, str):
                ended.append(_ending(request.id, Phase.REJECTED, outcome))
            elif isinstance(recipient, str):
                ended.append(_ending(request.id, Phase.REJECTED, recipient))
        queue = {i: p for i, p in ready.items() if not isinstance(recipients[i], str)}
        async with self.sessions.begin() as session:
            if queue:
                rows_stored = [{"b_id": i, "b_image_cid": p.image_cid} for i, p in queue.items()]
                await session.execute(_STORE, rows_stored)
            if ended:
                await session.execute(_END, ended)
        async with self.sessions.begin() as session:
            if queue:
                await session.execute(
                    _QUEUE,
                    [
                        {
                            "b_id": i,
                            "b_metadata_cid": p.metadata_cid,
                            "b_token_id": p.token_id,
                            "b_recipient": recipients[i][0],
                            "b_custodial": recipients[i][1],
                        }
                        for i, p in queue.items()
                    ],
                )
            # The bytes are kept until the request has left preparation, whichever way.
            await self._uploads.shred(session, [r.id for r in group])
        await self._uploads.scrub()
        self._queued.set()
        if ended:
            self._finalised.set()
        return len(rows) == PREPARE_GROUP or len(group) < len(rows)

    async def _count_group_failure(self, group: list[MintRequest]) -> None:
        """Record that `group` failed as a whole; a request that failed alone too often ends
        failed, so no group is selected again forever."""
        ids = [r.id for r in group]
        log.error("preparing requests %s failed as a group", ids, exc_info=True)
        async with self.sessions.begin() as session:
            await session.execute(
                update(MintRequest)
                .where(MintRequest.id.in_(ids), MintRequest.phase.in_(_PREPARING))
                .values(attempts=MintRequest.attempts + 1)
            )
            if len(group) == 1 and group[0].attempts + 1 >= MAX_GROUP_ATTEMPTS:
                await session.execute(_END, [_ending(ids[0], Phase.FAILED, UNPROCESSABLE)])
                await self._uploads.shred(session, ids)
                self._finalised.set()
        await self._uploads.scrub()

    async def _recipients(self, requests: list[MintRequest]) -> dict[int, tuple[str, bool] | str]:
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
        chosen: dict[int, tuple[str, bool] | str] = {}
        for request in requests:
            user = users.get((request.platform, request.requester_id))
            try:
                if request.requested_recipient:
                    address = user_address(request.requested_recipient, collection=collection)
                    chosen[request.id] = (address, False)
                    continue
            except RequestRejected as err:
                chosen[request.id] = str(err)
                continue
            try:
                linked = (
                    user_address(user.address, collection=collection)
                    if user is not None and user.address
                    else None
                )
            except RequestRejected:
                # A link made before the rules refused such addresses: keep the token safe.
                log.warning("%s's linked address cannot be minted to; using custody", request.key)
                linked = None
            chosen[request.id] = (linked, False) if linked else (self.chain.custody_address, True)
        return chosen

    # ----- queued -> signed -> sent ----------------------------------------------------------

    async def _send_one_batch(self) -> bool:
        """Sign and send one batch if one is due. Returns whether another may be due."""
        if self.paused_by_admin:
            self.waiting_reason = "minting is paused by an admin"
            return False
        if self.engine.needs_funds:
            return False  # the watcher retries the unfunded transaction first
        async with self.sessions() as session:
            queued = list(
                await session.scalars(
                    select(MintRequest)
                    .where(MintRequest.phase == Phase.QUEUED, MintRequest.tx_id.is_(None))
                    .order_by(MintRequest.id)
                    .limit(self.settings.batch_max_size)
                )
            )
        if not queued:
            self.waiting_reason = None
            return False
        # After a batch reverted on chain its requests go out in smaller batches.
        retrying = queued[0].attempts > 0
        queued = queued[: group_size(self.settings.batch_max_size, queued[0].attempts)]
        oldest = min(aware_utc(r.updated_at) for r in queued)
        wait = timedelta(seconds=self.settings.batch_max_wait) - (utcnow() - oldest)
        full = len(queued) >= self.settings.batch_max_size
        if not (full or retrying) and wait.total_seconds() > 0:
            await asyncio.sleep(wait.total_seconds())
            return True
        try:
            fees = await current_fees(
                self.engine.w3, self.settings.priority_fee_wei, self.settings.max_fee_per_gas_wei
            )
        except FeeCapExceeded as err:
            self.waiting_reason = str(err)
            log.warning("minting waits: %s", err)
            return False
        sendable = await self._simulated(queued)
        if not sendable:
            return True
        try:
            tx_id = await self._sign_batch([r.id for r in sendable], fees)
        except SpendCapReached as err:
            self.waiting_reason = f"minting waits: {err}"
            log.warning("%s", self.waiting_reason)
            return False
        if tx_id is None:
            return False
        crash_point("after_sign", self.settings.crash_at)
        try:
            await self.engine.send(tx_id)
        except WalletNeedsFunds:
            self.waiting_reason = f"the hot wallet {self.engine.wallet.address} needs funds for gas"
            log.warning("minting waits: %s", self.waiting_reason)
            return False
        except Exception as err:
            if not is_transient(err):
                raise
            log.warning(
                "sending batch: transient fault (%s); the watcher retries", type(err).__name__
            )
            return False
        self.waiting_reason = None
        await self._mark_sent(tx_id)
        return True

    def _mint_call(self, requests: Sequence[MintRequest]) -> tuple[bytes, int]:
        """A batch's calldata and gas limit."""
        recipients = [r.recipient or self.chain.custody_address for r in requests]
        ids = [int(r.token_id or "0x0", 16) for r in requests]
        gas_limit = BATCH_BASE_GAS + BATCH_GAS_PER_TOKEN * len(requests)
        return self.chain.collection.encode_mint_batch(recipients, ids), gas_limit

    async def _simulated(self, queued: list[MintRequest]) -> list[MintRequest]:
        """Simulate the batch before it is signed; requests that would make it revert fail
        (with the contract's reason) and the others are returned to be sent."""

        async def revert_reason(group: Sequence[MintRequest]) -> str | None:
            data, gas_limit = self._mint_call(group)
            sender = self.engine.wallet.address
            return await self.chain.collection.revert_reason(sender, data, gas_limit)

        decided = await without_culprits(queued, revert_reason)
        if decided.culprits:
            async with self.sessions.begin() as session:
                for request, reason in decided.culprits:
                    log.warning(
                        "%s would revert the batch (%s); it fails alone", request.key, reason
                    )
                    await session.execute(
                        update(MintRequest)
                        .where(MintRequest.id == request.id, MintRequest.phase == Phase.QUEUED)
                        .values(phase=Phase.FAILED, failure_reason=refused_mint(reason))
                    )
            self._finalised.set()
        return decided.send

    async def _sign_batch(self, request_ids: list[int], fees: Any) -> int | None:
        async with self.sessions.begin() as session:
            # Claim the rows: on PostgreSQL another process may be batching the same queue.
            claimed = list(
                await session.scalars(
                    select(MintRequest)
                    .where(
                        MintRequest.id.in_(request_ids),
                        MintRequest.phase == Phase.QUEUED,
                        MintRequest.tx_id.is_(None),
                    )
                    .order_by(MintRequest.id)
                    .with_for_update(skip_locked=True)
                )
            )
            if not claimed:
                return None
            data, gas_limit = self._mint_call(claimed)
            tx = await self.engine.create(
                session,
                kind="mint_batch",
                to=self.chain.collection.address,
                data=data,
                gas_limit=gas_limit,
                fees=fees,
                audit=AuditInfo(
                    "mint",
                    [r.key for r in claimed],
                    [f"{r.platform}:{r.requester_id}" for r in claimed],
                ),
            )
            for request in claimed:
                request.phase = Phase.SIGNED
                request.tx_id = tx.id
            log.info("signed a batch of %d mint(s) at nonce %d", len(claimed), tx.nonce)
            return tx.id

    async def _mark_sent(self, tx_id: int) -> None:
        async with self.sessions.begin() as session:
            await session.execute(
                update(MintRequest)
                .where(MintRequest.tx_id == tx_id, MintRequest.phase == Phase.SIGNED)
                .values(phase=Phase.SENT)
            )

    # ----- sent -> confirmed (engine events) ----------------------------------------------------

    def tx_events(self) -> TxEvents:
        return TxEvents(confirmed=self._confirmed, dropped=self._dropped, reverted=self._reverted)

    async def _confirmed(self, session: AsyncSession, tx: ChainTx, minted: set[int]) -> None:
        requests = list(
            await session.scalars(select(MintRequest).where(MintRequest.tx_id == tx.id))
        )
        for request in requests:
            token_id = request.token_id_int
            assert token_id is not None
            # mintBatch skips IDs that exist, so a token missing from this transaction's
            # Transfer events may come from an earlier transaction of the same request.
            if token_id in minted or await self.chain.collection.exists(token_id):
                request.phase = Phase.CONFIRMED
            else:
                request.phase, request.tx_id = Phase.QUEUED, None
        self._wake_after_commit = True

    async def _dropped(self, session: AsyncSession, tx: ChainTx) -> None:
        await session.execute(
            update(MintRequest)
            .where(MintRequest.tx_id == tx.id, MintRequest.phase.in_(IN_FLIGHT))
            .values(phase=Phase.QUEUED, tx_id=None)
        )
        self._wake_after_commit = True

    async def _reverted(self, session: AsyncSession, tx: ChainTx) -> None:
        """The batch reverted on chain although its simulation passed: its requests are
        queued again, in smaller batches, until the culprit is alone; one that reverted too
        often fails, the others go on."""
        in_tx = and_(MintRequest.tx_id == tx.id, MintRequest.phase.in_(IN_FLIGHT))
        await session.execute(
            update(MintRequest)
            .where(in_tx, MintRequest.attempts + 1 >= MAX_GROUP_ATTEMPTS)
            .values(
                phase=Phase.FAILED,
                attempts=MintRequest.attempts + 1,
                failure_reason=refused_mint("the transaction reverted"),
            )
        )
        await session.execute(
            update(MintRequest)
            .where(in_tx)
            .values(phase=Phase.QUEUED, tx_id=None, attempts=MintRequest.attempts + 1)
        )
        self._wake_after_commit = True

    async def _watch_loop(self) -> None:
        while True:
            try:
                for tx_id in await self.engine.open_transactions():
                    try:
                        await self.engine.check(tx_id)
                    except WalletNeedsFunds:
                        self.waiting_reason = (
                            f"the hot wallet {self.engine.wallet.address} needs funds for gas"
                        )
                    except Exception as err:
                        if not is_transient(err):
                            log.exception("checking transaction %d failed", tx_id)
                        else:
                            log.warning(
                                "checking transaction %d: transient fault (%s)",
                                tx_id,
                                type(err).__name__,
                            )
                        break
                    else:
                        await self._sync_sent(tx_id)
                    finally:
                        self._wake_if_changed()
                if (
                    not self.engine.needs_funds
                    and self.waiting_reason
                    and "needs funds" in (self.waiting_reason)
                ):
                    self.waiting_reason = None
                    self._queued.set()
            except Exception as err:
                log.warning("watching transactions: %s", type(err).__name__)
            await asyncio.sleep(self._poll)

    def _wake_if_changed(self) -> None:
        """Engine events run inside the engine's transaction; the loops that act on their
        outcome are woken only once it has committed, or they would look too early."""
        if self._wake_after_commit:
            self._wake_after_commit = False
            self._queued.set()
            self._finalised.set()

    async def _sync_sent(self, tx_id: int) -> None:
        async with self.sessions() as session:
            tx = await session.get(ChainTx, tx_id)
            sent = tx is not None and tx.status != "signed"
        if sent:
            await self._mark_sent(tx_id)

    # ----- confirmed -> replied ------------------------------------------------------------------

    async def _delivery_loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(5):
                    await self._finalised.wait()
            self._finalised.clear()
            try:
                # A named task, so that `stop` lets an answer being given finish recording.
                more = await self._spawn(self._deliver_due(), name="deliver-answers")
            except Exception as err:
                log.warning("answering: %s; retrying", type(err).__name__)
                await asyncio.sleep(1)
                more = True
            if more:
                self._finalised.set()

    async def _deliver_due(self) -> bool:
        """Answer decided requests through their platform's notifier and record that they were
        answered, one transaction for the group. Returns whether more may be due.

        An answer that fails waits its turn apart (its back-off is in the database, so it
        never holds up the others and survives a restart); one that keeps failing is given
        up, recorded as undeliverable with its last error."""
        async with self.sessions() as session:
            due = list(
                await session.scalars(
                    select(MintRequest)
                    .where(
                        MintRequest.phase.in_(UNANSWERED),
                        MintRequest.answered_at.is_(None),
                        MintRequest.undeliverable_at.is_(None),
                        MintRequest.platform.in_(list(self._notifiers)),
                        or_(
                            MintRequest.answer_due_at.is_(None),
                            MintRequest.answer_due_at <= utcnow(),
                        ),
                    )
                    .order_by(MintRequest.id)
                    .limit(DELIVERY_GROUP)
                )
            )
            tx_ids = {r.tx_id for r in due if r.tx_id is not None}
            txs = {
                tx.id: tx
                for tx in await session.scalars(select(ChainTx).where(ChainTx.id.in_(tx_ids)))
            }
        if not due:
            return False
        results = [self._render(r, txs.get(r.tx_id) if r.tx_id else None) for r in due]
        if any(r.phase == Phase.CONFIRMED for r in results):
            crash_point("after_confirm", self.settings.crash_at)
        outcomes = await asyncio.gather(
            *(self._notifiers[r.platform](r) for r in results), return_exceptions=True
        )
        answered = []
        retries = []
        for request, outcome in zip(due, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                retries.append(self._answer_failed(request, outcome))
            else:
                answered.append(request.id)
        async with self.sessions.begin() as session:
            await session.execute(
                update(MintRequest)
                .where(MintRequest.id.in_(answered), MintRequest.phase == Phase.CONFIRMED)
                .values(phase=Phase.REPLIED)
            )
            await session.execute(
                update(MintRequest)
                .where(MintRequest.id.in_(answered), MintRequest.answered_at.is_(None))
                .values(answered_at=utcnow())
            )
            if retries:
                await session.execute(_ANSWER_FAILED, retries)
        done = set(answered)
        await self._announce([r for r in results if r.minted and r.request_id in done])
        return True

    def _answer_failed(self, request: MintRequest, error: BaseException) -> dict[str, Any]:
        """Parameters of `_ANSWER_FAILED`: when to try again, or that it is given up."""
        tries = request.answer_attempts + 1
        delay = min(ANSWER_RETRY_FIRST * 2 ** (tries - 1), ANSWER_RETRY_MAX)
        now = utcnow()
        decided = aware_utc(request.updated_at)
        give_up = (
            tries >= self.settings.answer_max_attempts
            or now - decided >= self.settings.answer_give_up_after
        )
        text = f"{type(error).__name__}: {error}"[:500]
        if give_up:
            log.error("answering %s failed %d times; giving up: %s", request.key, tries, text)
        else:
            log.warning("answering %s failed (%s); retrying in %.0f s", request.key, text, delay)
        return {
            "b_id": request.id,
            "b_attempts": tries,
            "b_due": now + timedelta(seconds=delay),
            "b_error": text,
            "b_given_up": now if give_up else None,
        }

    async def undeliverable(self, limit: int = 20) -> tuple[int, list[MintResult]]:
        """Requests whose answer was given up: how many, and the latest `limit`."""
        async with self.sessions() as session:
            total = await session.scalar(
                select(func.count())
                .select_from(MintRequest)
                .where(MintRequest.undeliverable_at.is_not(None))
            )
            ids = list(
                await session.scalars(
                    select(MintRequest.id)
                    .where(MintRequest.undeliverable_at.is_not(None))
                    .order_by(MintRequest.undeliverable_at.desc())
                    .limit(limit)
                )
            )
        return int(total or 0), [await self.result(i) for i in ids]

    async def _announce(self, results: list[MintResult]) -> None:
        """Post newly answered mints where their community wants them. Best effort: a failed
        announcement is logged and not retried, so it never repeats the requester's answer."""
        posts = []
        targets: dict[tuple[str, str], str | None] = {}
        for result in results:
            announcer = self._announcers.get(result.platform)
            if announcer is None or result.community_id is None:
                continue
            community = (result.platform, result.community_id)
            if community not in targets:
                targets[community] = (await self.communities.config(*community)).announce_channel_id
            target = targets[community]
            if target:
                posts.append((result, announcer(result, target)))
        outcomes = await asyncio.gather(*(post for _, post in posts), return_exceptions=True)
        for (result, _), outcome in zip(posts, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                log.warning("announcing %s failed: %s", result.key, outcome)
