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
import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.chain.contract import Collection
from bot.chain.engine import (
    AuditInfo,
    TxEngine,
    TxEvents,
    WalletNeedsFunds,
    crash_point,
    is_transient,
    retry_transient,
)
from bot.chain.explorer import Explorer, marketplace_url
from bot.chain.fees import current_fees
from bot.config import Settings, parse_address
from bot.content.images import check_image
from bot.content.metadata import build_metadata, clean_description, clean_name
from bot.content.store import ContentStore
from bot.errors import (
    ConfigError,
    FeeCapExceeded,
    ImageRejected,
    RequestConflict,
    RequestRejected,
)
from bot.minting.requests import PHASE_TEXT, MintHandle, MintResult, MintSubmission
from bot.minting.uploads import UploadStore
from db.models import ChainTx, MintRequest, Phase, PlatformUser, aware_utc, utcnow

log = logging.getLogger(__name__)

Notifier = Callable[[MintResult], Awaitable[None]]

# Gas limit of a batch: measured worst case (new holders, bench/gas.py) plus a quarter.
BATCH_BASE_GAS = 60_000
BATCH_GAS_PER_TOKEN = 62_000
IN_FLIGHT = (Phase.RECEIVED, Phase.STORED, Phase.QUEUED, Phase.SIGNED, Phase.SENT)
UNANSWERED = (Phase.CONFIRMED, Phase.REJECTED, Phase.FAILED)


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
        engine: TxEngine,
        chain: ChainContext,
        content: ContentStore,
        uploads: UploadStore,
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.engine = engine
        engine.events = self.tx_events()
        self.chain = chain
        self.content = content
        self.uploads = uploads
        self._notifiers: dict[str, Notifier] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._processing: set[int] = set()
        self._delivering: set[int] = set()
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

    async def submit(self, submission: MintSubmission) -> MintHandle:
        """Record the request (or find it) and return at once; the rest runs in the background.

        Same key and same content: the existing request's handle (`duplicate=True`).
        Same key, different content (an edited message): `RequestConflict`, nothing minted.
        Text and size problems are recorded as a rejected request, answered like any other.
        """
        fingerprint = submission.fingerprint()
        problem = self._quick_check(submission)
        digest = hashlib.sha256(submission.image).hexdigest()
        if problem is None:
            self.uploads.put(submission.image)  # before the row that refers to it
        row = MintRequest(
            platform=submission.platform,
            chat_id=submission.chat_id,
            message_id=submission.message_id,
            fingerprint=fingerprint,
            requester_id=submission.requester_id,
            requester_name=submission.requester_name[:256],
            name=submission.name[:10_000],
            description=submission.description[:10_000],
            upload_digest=digest,
            requested_recipient=(submission.recipient or None) if problem is None else None,
            phase=Phase.RECEIVED if problem is None else Phase.REJECTED,
            failure_reason=problem,
        )
        try:
            async with self.sessions.begin() as session:
                session.add(row)
        except IntegrityError:
            return await self._existing(submission, fingerprint)
        if problem is None:
            self._spawn(self._process(row.id))
        else:
            self._finalised.set()
        return MintHandle(row.id, submission.key, duplicate=False, phase=Phase(row.phase))

    async def _existing(self, submission: MintSubmission, fingerprint: str) -> MintHandle:
        async with self.sessions() as session:
            existing = await session.scalar(
                select(MintRequest).where(
                    MintRequest.platform == submission.platform,
                    MintRequest.chat_id == submission.chat_id,
                    MintRequest.message_id == submission.message_id,
                )
            )
        if existing is None:  # the insert failed for another reason than the key
            raise RuntimeError(f"could not record request {submission.key}")
        if existing.fingerprint != fingerprint:
            raise RequestConflict(
                "This message changed after it was sent for minting. The original request "
                "stands; nothing new was minted."
            )
        return MintHandle(existing.id, submission.key, duplicate=True, phase=Phase(existing.phase))

    def _quick_check(self, submission: MintSubmission) -> str | None:
        """Checks that need no decoding, done before anything is stored."""
        try:
            clean_name(submission.name)
            clean_description(submission.description)
            if len(submission.image) > self.settings.max_image_bytes:
                limit = self.settings.max_image_bytes / 1e6
                raise ImageRejected(
                    f"That file is {len(submission.image) / 1e6:.1f} MB; the limit is {limit:g} MB."
                )
            if not submission.image:
                raise ImageRejected("That file is empty.")
            if submission.recipient:
                try:
                    parse_address("to", submission.recipient)
                except ConfigError:
                    raise RequestRejected(
                        f"{submission.recipient!r} is not a valid Ethereum address (check it "
                        "for typos; mixed-case addresses carry a checksum)."
                    ) from None
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
        async with self.sessions() as session:
            request_id = await session.scalar(
                select(MintRequest.id).where(
                    MintRequest.platform == platform,
                    MintRequest.chat_id == chat_id,
                    MintRequest.message_id == message_id,
                )
            )
        return None if request_id is None else await self.result(request_id)

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
            waiting_reason=self.waiting_reason if phase == Phase.QUEUED else None,
        )

    # ----- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        """Reconcile nonces and resume every unfinished request from its committed phase."""
        await retry_transient(self.engine.reconcile, what="nonce reconciliation")
        async with self.sessions() as session:
            pending = list(
                await session.scalars(
                    select(MintRequest.id).where(
                        MintRequest.phase.in_((Phase.RECEIVED, Phase.STORED))
                    )
                )
            )
        if pending:
            log.info("resuming %d request(s) that were being prepared", len(pending))
        for request_id in pending:
            self._spawn(self._process(request_id))
        self._spawn(self._batch_loop())
        self._spawn(self._watch_loop())
        self._spawn(self._delivery_loop())
        self._queued.set()
        self._finalised.set()

    async def stop(self, grace: float = 5.0) -> None:
        """Stop the background work. Answers already being delivered get `grace` seconds to
        be recorded, so a user who was answered is not answered again after a restart."""
        deliveries = [t for t in self._tasks if t.get_name().startswith("deliver-")]
        if deliveries:
            await asyncio.wait(deliveries, timeout=grace)
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    def _spawn(self, coro: Coroutine[Any, Any, Any], name: str | None = None) -> None:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background task failed", exc_info=task.exception())

    # ----- received -> stored -> queued ----------------------------------------------------

    async def _process(self, request_id: int) -> None:
        if request_id in self._processing:
            return
        self._processing.add(request_id)
        try:
            await self._prepare(request_id)
        finally:
            self._processing.discard(request_id)

    async def _prepare(self, request_id: int) -> None:
        async with self.sessions() as session:
            request = await session.get(MintRequest, request_id)
            if request is None or request.phase not in (Phase.RECEIVED, Phase.STORED):
                return
        try:
            raw = self.uploads.get(request.upload_digest)
        except FileNotFoundError:
            # Another process finished preparing this request and removed the upload.
            log.info("request %s was prepared elsewhere", request.key)
            return
        try:
            checked = await asyncio.to_thread(
                check_image,
                raw,
                max_bytes=self.settings.max_image_bytes,
                max_pixels=self.settings.max_image_pixels,
            )
        except ImageRejected as err:
            await self._finish(request_id, Phase.REJECTED, str(err))
            return
        image_cid = await asyncio.to_thread(self.content.put_file, checked.data)
        async with self.sessions.begin() as session:
            await session.execute(
                update(MintRequest)
                .where(MintRequest.id == request_id, MintRequest.phase == Phase.RECEIVED)
                .values(phase=Phase.STORED, image_cid=image_cid)
            )
        recipient, custodial = await self._recipient(request)
        metadata = build_metadata(
            name=clean_name(request.name),
            description=clean_description(request.description),
            image_cid=image_cid,
            creator={
                "platform": request.platform,
                "user_id": request.requester_id,
                "name": request.requester_name,
            },
            source={
                "platform": request.platform,
                "chat_id": request.chat_id,
                "message_id": request.message_id,
            },
            mime=checked.mime,
            width=checked.width,
            height=checked.height,
        )
        metadata_cid = await asyncio.to_thread(self.content.put_file, metadata)
        token_id = "0x" + hashlib.sha256(metadata).hexdigest()
        async with self.sessions.begin() as session:
            await session.execute(
                update(MintRequest)
                .where(MintRequest.id == request_id, MintRequest.phase == Phase.STORED)
                .values(
                    phase=Phase.QUEUED,
                    metadata_cid=metadata_cid,
                    token_id=token_id,
                    recipient=recipient,
                    custodial=custodial,
                )
            )
        self.uploads.discard(request.upload_digest)
        self._queued.set()

    async def _recipient(self, request: MintRequest) -> tuple[str, bool]:
        """An explicit address, else the requester's linked one, else custody."""
        if request.requested_recipient:
            return parse_address("to", request.requested_recipient), False
        async with self.sessions() as session:
            user = await session.get(PlatformUser, (request.platform, request.requester_id))
        if user is not None and user.address:
            return user.address, False
        return self.chain.custody_address, True

    async def _finish(self, request_id: int, phase: Phase, reason: str | None) -> None:
        async with self.sessions.begin() as session:
            await session.execute(
                update(MintRequest)
                .where(MintRequest.id == request_id, MintRequest.phase.in_(IN_FLIGHT))
                .values(phase=phase, failure_reason=reason)
            )
        self._finalised.set()

    # ----- queued -> signed -> sent ----------------------------------------------------------

    async def _batch_loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(self.settings.batch_max_wait, self._poll)):
                    await self._queued.wait()
            self._queued.clear()
            try:
                while await self._send_one_batch():
                    pass
            except Exception as err:
                if not is_transient(err):
                    log.exception("batching failed; retrying")
                else:
                    log.warning("batching: transient fault (%s)", type(err).__name__)
                await asyncio.sleep(1)

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
        oldest = min(aware_utc(r.updated_at) for r in queued)
        wait = timedelta(seconds=self.settings.batch_max_wait) - (utcnow() - oldest)
        if len(queued) < self.settings.batch_max_size and wait.total_seconds() > 0:
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
        tx_id = await self._sign_batch([r.id for r in queued], fees)
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
            gas_limit = BATCH_BASE_GAS + BATCH_GAS_PER_TOKEN * len(claimed)
            cap = self.settings.max_spend_per_day_wei
            if cap is not None:
                committed = await self.engine.spent_today(session)
                if committed + gas_limit * fees.max_fee_per_gas > cap:
                    self.waiting_reason = (
                        "today's spending cap (MAX_SPEND_PER_DAY_ETH) is reached; minting "
                        "resumes tomorrow (UTC) or when an admin raises it"
                    )
                    log.warning("minting waits: %s", self.waiting_reason)
                    return None
            recipients = [r.recipient or self.chain.custody_address for r in claimed]
            ids = [int(r.token_id or "0x0", 16) for r in claimed]
            data = self.chain.collection.encode_mint_batch(recipients, ids)
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

    async def _confirmed(self, session: AsyncSession, tx: ChainTx) -> None:
        requests = list(
            await session.scalars(select(MintRequest).where(MintRequest.tx_id == tx.id))
        )
        for request in requests:
            token_id = request.token_id_int
            assert token_id is not None
            # mintBatch skips IDs that exist, so the token may come from an earlier
            # transaction of this same request; either way it is on chain now.
            if await self.chain.collection.exists(token_id):
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
        await session.execute(
            update(MintRequest)
            .where(MintRequest.tx_id == tx.id, MintRequest.phase.in_(IN_FLIGHT))
            .values(
                phase=Phase.FAILED,
                failure_reason="The collection contract refused the mint transaction.",
            )
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
                async with self.sessions() as session:
                    due = list(
                        await session.scalars(
                            select(MintRequest.id)
                            .where(
                                MintRequest.phase.in_(UNANSWERED),
                                MintRequest.answered_at.is_(None),
                                MintRequest.platform.in_(list(self._notifiers)),
                            )
                            .order_by(MintRequest.id)
                        )
                    )
                for request_id in due:
                    if request_id not in self._delivering:
                        self._delivering.add(request_id)
                        self._spawn(self._deliver(request_id), name=f"deliver-{request_id}")
            except Exception as err:
                log.warning("delivery scan: %s", type(err).__name__)

    async def _deliver(self, request_id: int) -> None:
        try:
            result = await self.result(request_id)
            if result.phase == Phase.CONFIRMED:
                crash_point("after_confirm", self.settings.crash_at)
            notifier = self._notifiers[result.platform]
            delay = 0.5
            while True:
                try:
                    await notifier(result)
                    break
                except Exception:
                    log.exception("answering %s failed; retrying in %.0f s", result.key, delay)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 60)
            async with self.sessions.begin() as session:
                request = await session.get(MintRequest, request_id)
                assert request is not None
                request.answered_at = utcnow()
                if request.phase == Phase.CONFIRMED:
                    request.phase = Phase.REPLIED
        finally:
            self._delivering.discard(request_id)
