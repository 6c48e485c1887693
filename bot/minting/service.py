"""MintService: the single entry point for the chat platforms, drops, the CLI and the console.

`submit` commits the request row and returns; background stages carry it through
received -> stored -> queued (`prepare`), -> signed -> sent -> confirmed (`batcher`, with the
chain's transaction watcher), -> replied (`delivery`), one committed database transaction per
arrow. At start, every unfinished request resumes from its last committed phase. This module
is the facade: what adapters ask, answered here or by the stage that knows.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any, TypeVar

from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.chain.faults import crash_point, is_transient, retry_transient
from bot.chain.lanes import Lanes
from bot.communities import Asker, Communities
from bot.config import Settings
from bot.content.images import EMPTY, NOT_AN_IMAGE, too_big
from bot.content.metadata import clean_description, clean_name
from bot.content.store import ContentStore
from bot.errors import ImageRejected, RequestRejected
from bot.i18n import N_
from bot.i18n.said import Said
from bot.metrics import PipelineMetrics
from bot.minting.answer_claims import AnswerClaims
from bot.minting.batcher import Batcher
from bot.minting.content_workers import ContentWorkers, ImageLimits
from bot.minting.delivery import Delivery
from bot.minting.intake import Intake, RateLimits
from bot.minting.prepare import PREPARE_IN_FLIGHT, Preparer
from bot.minting.progress import Progress
from bot.minting.publish import PUBLISH_IN_FLIGHT, BlockReader, Publisher
from bot.minting.queries import ChainContext, MintQueries
from bot.minting.recipients import user_address
from bot.minting.types import MintHandle, MintSubmission, Upload
from bot.minting.uploads import UploadVault
from bot.ports import Answerer, PinningBackend, RunningPlatforms
from db.models import Phase, storable

log = logging.getLogger(__name__)

T = TypeVar("T")


class MintService(MintQueries):
    """The mint pipeline as adapters see it: submit a request and learn its outcome. The
    read-only questions come from `MintQueries`; the stages run in the background."""

    def __init__(
        self,
        *,
        settings: Settings,
        sessions: async_sessionmaker[AsyncSession],
        communities: Communities,
        lanes: Lanes,
        chain: ChainContext,
        content: ContentStore,
        platforms: RunningPlatforms,
        pinning: Sequence[PinningBackend] = (),
        read_back: BlockReader | None = None,
        metrics: PipelineMetrics | None = None,
    ) -> None:
        self._progress = Progress()
        # A registry of its own unless the composition root gives the runtime's.
        self.metrics = metrics or PipelineMetrics(CollectorRegistry())
        super().__init__(
            sessions, chain.links(settings.public_base_url), self._progress, settings.poll_interval
        )
        self.chain = chain
        self.settings = settings
        self.communities = communities
        self.lanes = lanes
        self.txs = lanes.primary
        self.content = content
        self._poll = settings.poll_interval
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
        self._preparer = Preparer(
            sessions, chain, self._uploads, self._contents, self._progress, shared=lanes.shared
        )
        self.publisher = Publisher(sessions, content, pinning, self._progress, read_back)
        self._batcher = Batcher(settings, sessions, lanes, chain, self._progress, self.metrics)
        for watcher in lanes.watchers:
            watcher.follow(self._batcher)
        self._delivery = Delivery(
            settings, sessions, communities, platforms, self, self._progress, self.metrics
        )
        self._tasks: set[asyncio.Task[Any]] = set()

    @property
    def answer_claims(self) -> AnswerClaims:
        """Which answers (and shared messages) this process holds, among several."""
        return self._delivery.claims

    @property
    def waiting_reason(self) -> str | None:
        """Why queued requests are not being minted now, if they are not."""
        return self._progress.why_waiting

    @property
    def paused_by_admin(self) -> bool:
        return self._batcher.paused_by_admin

    @paused_by_admin.setter
    def paused_by_admin(self, paused: bool) -> None:
        self._batcher.paused_by_admin = paused

    # ----- adapters' side ------------------------------------------------------------------

    def answer_through(self, origin: str, answerer: Answerer) -> None:
        """Answer the requests made on `origin` through `answerer` (drop claims, the CLI);
        a chat platform's requests are answered by the running platform of that name. The
        request is marked answered once `deliver` returns; if it raises, it is retried."""
        self._delivery.answer_through(origin, answerer)

    async def submit(self, submission: MintSubmission) -> MintHandle:
        """Record the request (or find it) and return at once; the rest runs in the background.

        Same key and same content: the existing request's handle (`duplicate=True`).
        Same key, different content (an edited message): `RequestConflict`, nothing minted.
        Text and size problems are recorded as a rejected request, answered like any other.
        """
        problem = self._quick_check(submission)
        # The reason in English (read by the dashboard, webhooks, the CLI) and untranslated,
        # to be said in the member's language when the answer is delivered.
        row = {
            "platform": submission.platform,
            "chat_id": submission.chat_id,
            "message_id": submission.message_id,
            "fingerprint": submission.fingerprint(),
            "requester_id": submission.requester_id,
            "requester_name": storable(submission.requester_name, 256),
            "community_id": submission.community_id,
            "reply_to": json.dumps(submission.reply_to) if submission.reply_to else None,
            "answered_in": submission.answered_in,
            "name": storable(submission.name, 10_000),
            "description": storable(submission.description, 10_000),
            "upload_digest": hashlib.sha256(submission.image).hexdigest(),
            "requested_recipient": (submission.recipient or None) if problem is None else None,
            "phase": Phase.RECEIVED if problem is None else Phase.REJECTED,
            "failure_reason": str(problem) if problem is not None else None,
            "failure_said": problem.to_json() if problem is not None else None,
        }
        handle = await self._intake.record(row, submission.image if problem is None else None)
        crash_point("after_submit", self.settings.crash_at)
        progress = self._progress
        if handle.reopened:
            (progress.queued if handle.phase == Phase.QUEUED else progress.received).set()
        elif not handle.duplicate:
            (progress.received if problem is None else progress.finalised).set()
        return handle

    def batch_queued_by_others(self) -> None:
        """Requests were committed ready to mint (phase queued) by another part of the core,
        such as a drop claim: batch them now rather than at the next idle check."""
        self._progress.queued.set()

    def check_size(self, size: int) -> None:
        """Refuse an upload by its size alone, before anyone downloads it."""
        if size > self.settings.max_image_bytes:
            raise self.too_big(size)

    def too_big(self, size: int | None) -> ImageRejected:
        """The refusal of an upload over the size cap; `size` is None when a download was
        stopped at the cap before its end."""
        return ImageRejected(too_big(size, self.settings.max_image_bytes))

    def check_text(self, name: str, description: str, recipient: str | None) -> None:
        """Refuse what a request says (its name, description and recipient address) before
        anything is downloaded or stored."""
        clean_name(name)
        clean_description(description)
        if recipient:
            user_address(recipient, collection=self.chain.collection.address)

    def _quick_check(self, submission: MintSubmission) -> Said | None:
        """Checks that need no decoding, done before anything is stored: why it is refused."""
        try:
            self.check_text(submission.name, submission.description, submission.recipient)
            self.check_size(len(submission.image))
            if not submission.image:
                raise ImageRejected(EMPTY)
        except RequestRejected as err:
            return err.said
        return None

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
            raise ImageRejected(N_("That message has no image to mint."))
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
        phase = await self.phase_of(*submission_key)
        if phase is not None and phase != Phase.FAILED:
            return False
        platform, chat_id, _ = submission_key
        await self.communities.check_mint(
            platform, community_id, chat_id, asker, author_id=author_id
        )
        return True

    async def hot_wallet(self) -> tuple[str, int, int]:
        """The hot wallet's address, balance and fees committed today (wei)."""
        balance = await self.txs.w3.eth.get_balance(self.txs.wallet.address)  # type: ignore[arg-type]
        async with self.sessions() as session:
            spent = await self.txs.spent_today(session)
        return self.txs.wallet.address, int(balance), spent

    async def hot_wallet_balances(self) -> list[tuple[str, int]]:
        """Each key of the pool (the custody key first) with its balance in wei."""
        w3 = self.txs.w3
        return [
            (e.wallet.address, int(await w3.eth.get_balance(e.wallet.address)))  # type: ignore[arg-type]
            for e in self.lanes.engines
        ]

    # ----- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        """Reconcile nonces and resume every unfinished request from its committed phase:
        the pipeline's stages and the answers, in this process."""
        await self.start_pipeline()
        self.start_delivery()

    def start_delivery(self, *, look_every: float = 5.0) -> None:
        """Answer decided requests through the chat platforms running in this process (and the
        answerers registered here), looking for newly decided ones every `look_every` seconds
        besides being woken by this process's own stages."""
        self._spawn(self._delivery.run(look_every))
        self._progress.finalised.set()

    async def start_pipeline(self, *, look_every: float = 5.0) -> None:
        """Reconcile nonces and run the stages that carry requests from received to decided
        (prepare, publish, batch); the chain's watcher confirms. With no stage of this
        process to wake them, they look for new work every `look_every` seconds."""
        await retry_transient(self.lanes.start, what="nonce reconciliation")
        await self._contents.start()
        await self._uploads.scrub()
        progress = self._progress
        # received -> stored -> queued, a group at a time: each arrow is still one committed
        # transaction, shared by the group. Several groups are on their way at once, so the
        # content workers never wait for the bot to read or record one.
        for _ in range(PREPARE_IN_FLIGHT):
            self._spawn(
                self._run_steps(
                    progress.received, self._preparer.prepare_group, "preparing", look_every
                )
            )
        # Groups are published as they are prepared, several at once (each takes its own
        # pins), so one group's upload and read-back overlap the next one's.
        for _ in range(PUBLISH_IN_FLIGHT if self.publisher.backends else 0):
            self._spawn(
                self._run_steps(
                    progress.to_publish, self.publisher.publish_group, "publishing", self._poll
                )
            )
        batch_idle = max(self.settings.batch_max_wait, self._poll)
        self._spawn(
            self._run_steps(progress.queued, self._batcher.send_one_batch, "batching", batch_idle)
        )
        progress.received.set()  # requests being prepared at the last stop resume here
        progress.queued.set()
        progress.to_publish.set()

    async def stop(self, grace: float = 5.0) -> None:
        """Stop the background work. Answers already being delivered get `grace` seconds to
        be recorded, so a user who was answered is not answered again after a restart."""
        await self._intake.close()
        await self._delivery.stop(grace)
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._contents.close()

    def _spawn(self, coro: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background task failed", exc_info=task.exception())

    @staticmethod
    async def _run_steps(
        wake: asyncio.Event, step: Callable[[], Awaitable[bool]], what: str, idle: float
    ) -> None:
        """Run `step` while it says more may be due, then sleep until `wake` is set or `idle`
        seconds pass. A failed step is logged and tried again a second later, unless the loop
        is being stopped: a step cancelled midway can fail with another error (its clean-up
        on a connection the cancellation broke), and the stop must not be lost to it."""
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(idle):
                    await wake.wait()
            wake.clear()
            try:
                while await step():
                    pass
            except Exception as err:
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    raise asyncio.CancelledError from err
                if is_transient(err):
                    log.warning("%s: transient fault (%s)", what, type(err).__name__)
                else:
                    log.exception("%s failed; retrying", what)
                await asyncio.sleep(1)
