"""The chain stages of the mint pipeline: queued -> signed -> sent, and back from the chain.

Queued requests are grouped into one batch transaction (waiting up to BATCH_MAX_WAIT for more
to join), simulated so that a request the contract would refuse fails alone, then signed,
committed and sent through the transaction engine of a nonce lane (`bot.chain.lanes`): the
one of this process's lanes with the fewest transactions in flight. What the engine later
learns of a batch (confirmed, dropped, reverted) moves its requests on, inside the engine's own
transaction.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import Row, Table, and_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.chain.fees import Fees, current_fees
from bot.chain.lanes import Lanes
from bot.chain.sending import NEEDS_FUNDS, sign_and_send
from bot.chain.tx_engine import AuditInfo, TxEngine, TxEvents
from bot.chain.tx_rows import lock_tx
from bot.community_collections.records import mintable_contract
from bot.config import Settings
from bot.i18n import N_
from bot.i18n.said import Said, said
from bot.metrics import PipelineMetrics
from bot.minting.batches import MAX_GROUP_ATTEMPTS, group_size, without_culprits
from bot.minting.progress import Progress
from bot.minting.publish import published
from bot.minting.queries import ChainContext, request_key
from bot.minting.types import failure
from bot.webhooks.outbox import MINT_CONFIRMED, MINT_FAILED, mints_ended
from db.models import IN_FLIGHT, ChainTx, MintRequest, Phase, TxStatus, aware_utc, utcnow

log = logging.getLogger(__name__)

MINT_KIND = "mint_batch"
# Gas limit of a batch: measured worst case (new holders, bench/gas.py) plus a quarter; an
# ERC-1155 edition to a new holder costs less than an ERC-721 token.
BATCH_BASE_GAS = 60_000
BATCH_GAS_PER_TOKEN = 62_000
BATCH_GAS_PER_EDITION = 40_000

# What batching reads of a queued request, as plain rows rather than ORM objects: a batch is
# a hundred requests read several times on its way, and loading (then flushing) them as
# objects cost more CPU than simulating and signing the batch. Moves between phases are
# single UPDATE statements over the batch.
_REQUESTS: Table = MintRequest.__table__  # type: ignore[assignment]
_BATCH_COLUMNS = (
    _REQUESTS.c.id,
    _REQUESTS.c.platform,
    _REQUESTS.c.chat_id,
    _REQUESTS.c.message_id,
    _REQUESTS.c.requester_id,
    _REQUESTS.c.recipient,
    _REQUESTS.c.token_id,
    _REQUESTS.c.contract,
    _REQUESTS.c.edition,
    _REQUESTS.c.attempts,
    _REQUESTS.c.updated_at,
)
Queued = Row[*tuple[Any, ...]]  # a row of _BATCH_COLUMNS


def refused_mint(reason: str | Said) -> Said:
    """Why a request failed on chain; `reason` is the contract's own (as it says it)."""
    return said(
        N_("The collection contract refused to mint this token ({reason}). You may ask again."),
        reason=reason,
    )


REVERTED = N_("the transaction reverted")


class Batcher:
    def __init__(
        self,
        settings: Settings,
        sessions: async_sessionmaker[AsyncSession],
        lanes: Lanes,
        chain: ChainContext,
        progress: Progress,
        metrics: PipelineMetrics,
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.lanes = lanes
        self.chain = chain
        self.progress = progress
        self.metrics = metrics
        self.paused_by_admin = False
        self._wake_after_commit = False
        # Mints a look confirmed, counted once its transaction commits (`after_look`).
        self._confirmed_in_look = 0
        for engine in lanes.engines:
            engine.own(MINT_KIND, TxEvents(self._confirmed, self._dropped, self._reverted))

    # ----- queued -> signed -> sent ----------------------------------------------------------

    async def send_one_batch(self) -> bool:
        """Sign and send one batch if one is due. Returns whether another may be due."""
        progress = self.progress
        if self.paused_by_admin:
            progress.waiting_reason = Said(N_("minting is paused by an admin"))
            return False
        queued = await self._next_group()
        if not queued:
            progress.waiting_reason = None
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
        # Chosen now, when the batch is due: the fewest in flight is counted at signing.
        txs = await self.lanes.pick(queued[0].contract)
        if txs is None:
            # An unfunded lane's watcher retries its transaction first; the others' holders
            # take the work.
            if not any(engine.needs_funds for engine in self.lanes.engines):
                progress.waiting_reason = Said(N_("no nonce lane of this process may sign now"))
            return False
        all_refused = False

        async def sign(fees: Fees) -> int | None:
            nonlocal all_refused
            # Simulated as a wallet that may not sign now (a key rotation stopped it, and may
            # have revoked its role), a batch would seem to revert: it waits instead.
            async with self.sessions() as session:
                await txs.nonces.may_sign(session)
            sendable = await self._simulated(queued, txs.wallet.address)
            all_refused = not sendable
            ids = [r.id for r in sendable]
            return await self._sign_batch(txs, ids, fees) if sendable else None

        outcome = await sign_and_send(
            txs, self._fees, sign, what="a batch", crash_at=self.settings.crash_at
        )
        if outcome.waiting is not None:
            reason = outcome.waiting
            progress.waiting_reason = (
                said(N_("minting waits: {reason}"), reason=reason)
                if outcome.over_budget
                else reason
            )
            log.warning("minting waits: %s", reason)
            return False
        if outcome.tx_id is None:
            return all_refused  # the others in the queue form the next batch
        if not outcome.sent:
            return False
        progress.waiting_reason = None
        await self._mark_sent(outcome.tx_id)
        return True

    async def _next_group(self) -> list[Queued]:
        """The oldest mintable queued request and those that may share its transaction: a
        batch targets one contract (the shared collection, a community's own, or an editions
        contract), and an editions batch one token ID."""
        mintable = [
            _REQUESTS.c.phase == Phase.QUEUED,
            _REQUESTS.c.tx_id.is_(None),
            mintable_contract(),
            *([published(self.settings.pinning)] if self.settings.pinning else []),
        ]
        async with self.sessions() as session:
            first = (
                await session.execute(
                    select(*_BATCH_COLUMNS).where(*mintable).order_by(_REQUESTS.c.id).limit(1)
                )
            ).first()
            if first is None:
                return []
            same = [
                _REQUESTS.c.contract.is_(None)
                if first.contract is None
                else _REQUESTS.c.contract == first.contract,
                _REQUESTS.c.edition.is_(None)
                if first.edition is None
                else and_(_REQUESTS.c.edition.is_not(None), _REQUESTS.c.token_id == first.token_id),
            ]
            return list(
                (
                    await session.execute(
                        select(*_BATCH_COLUMNS)
                        .where(*mintable, *same)
                        .order_by(_REQUESTS.c.id)
                        .limit(self.settings.batch_max_size)
                    )
                ).all()
            )

    async def _fees(self) -> Fees:
        return await current_fees(
            self.lanes.primary.w3, self.settings.priority_fee_wei, self.settings.max_fee_per_gas_wei
        )

    def _mint_call(self, requests: Sequence[Queued]) -> tuple[str, bytes, int]:
        """A batch's contract, calldata and gas limit."""
        first = requests[0]
        recipients = [r.recipient or self.chain.custody_address for r in requests]
        if first.edition is not None:
            editions = self.chain.erc1155(first.contract)
            data = editions.encode_mint_editions(
                int(first.token_id, 16), recipients, [r.edition for r in requests]
            )
            return editions.address, data, BATCH_BASE_GAS + BATCH_GAS_PER_EDITION * len(requests)
        collection = self.chain.erc721(first.contract)
        ids = [int(r.token_id or "0x0", 16) for r in requests]
        gas_limit = BATCH_BASE_GAS + BATCH_GAS_PER_TOKEN * len(requests)
        return collection.address, collection.encode_mint_batch(recipients, ids), gas_limit

    async def _simulated(self, queued: list[Queued], signer: str) -> list[Queued]:
        """Simulate the batch before it is signed; requests that would make it revert fail
        (with the contract's reason) and the others are returned to be sent."""

        async def revert_reason(group: Sequence[Queued]) -> str | None:
            contract, data, gas_limit = self._mint_call(group)
            binding = (
                self.chain.erc721(contract)
                if group[0].edition is None
                else self.chain.erc1155(contract)
            )
            return await binding.revert_reason(signer, data, gas_limit)

        decided = await without_culprits(queued, revert_reason)
        if decided.culprits:
            async with self.sessions.begin() as session:
                for request, reason in decided.culprits:
                    log.warning(
                        "%s would revert the batch (%s); it fails alone",
                        request_key(request),
                        reason,
                    )
                    await session.execute(
                        update(MintRequest)
                        .where(MintRequest.id == request.id, MintRequest.phase == Phase.QUEUED)
                        .values(phase=Phase.FAILED, **failure(refused_mint(reason)))
                    )
                failed = [request.id for request, _ in decided.culprits]
                await mints_ended(session, failed, MINT_FAILED)
            self.progress.finalised.set()
        return decided.send

    async def _sign_batch(self, txs: TxEngine, request_ids: list[int], fees: Fees) -> int | None:
        async with self.sessions.begin() as session:
            # Claim the rows: on PostgreSQL another process may be batching the same queue.
            claimed = list(
                (
                    await session.execute(
                        select(*_BATCH_COLUMNS)
                        .where(
                            _REQUESTS.c.id.in_(request_ids),
                            _REQUESTS.c.phase == Phase.QUEUED,
                            _REQUESTS.c.tx_id.is_(None),
                        )
                        .order_by(_REQUESTS.c.id)
                        .with_for_update(skip_locked=True)
                    )
                ).all()
            )
            if not claimed:
                return None
            contract, data, gas_limit = self._mint_call(claimed)
            tx = await txs.create(
                session,
                kind=MINT_KIND,
                to=contract,
                data=data,
                gas_limit=gas_limit,
                fees=fees,
                audit=AuditInfo(
                    "mint",
                    [request_key(r) for r in claimed],
                    [f"{r.platform}:{r.requester_id}" for r in claimed],
                ),
            )
            # The claimed rows are locked (or, on SQLite, this is the only writer).
            await session.execute(
                update(_REQUESTS)
                .where(_REQUESTS.c.id.in_([r.id for r in claimed]))
                .values(phase=Phase.SIGNED, tx_id=tx.id)
            )
            log.info(
                "signed a batch of %d mint(s) at nonce %d of %s",
                len(claimed),
                tx.nonce,
                txs.wallet.address,
            )
            tx_id = tx.id
        # Counted once committed: a batch rolled back was never signed.
        self.metrics.batch_sizes.observe(len(claimed))
        return tx_id

    async def _mark_sent(self, tx_id: int) -> None:
        async with self.sessions.begin() as session:
            await lock_tx(session, tx_id)
            await session.execute(
                update(_REQUESTS)
                .where(_REQUESTS.c.tx_id == tx_id, _REQUESTS.c.phase == Phase.SIGNED)
                .values(phase=Phase.SENT)
            )

    # ----- sent -> confirmed (engine events, inside the engine's transaction) ----------------

    async def _confirmed(self, session: AsyncSession, tx: ChainTx, minted: set[int]) -> None:
        # Only requests still in flight: one answered meanwhile must not go back to confirmed.
        in_tx = and_(_REQUESTS.c.tx_id == tx.id, _REQUESTS.c.phase.in_(IN_FLIGHT))
        rows = (await session.execute(select(*_BATCH_COLUMNS).where(in_tx))).all()
        on_chain = await self._on_chain(rows, minted)
        confirmed: list[int] = []
        requeued: list[int] = []
        for row in rows:
            (confirmed if row.id in on_chain else requeued).append(row.id)
        if confirmed:
            await session.execute(
                update(_REQUESTS)
                .where(in_tx, _REQUESTS.c.id.in_(confirmed))
                .values(phase=Phase.CONFIRMED)
            )
            await mints_ended(session, confirmed, MINT_CONFIRMED)
            self._confirmed_in_look = len(confirmed)
        if requeued:
            await session.execute(
                update(_REQUESTS)
                .where(in_tx, _REQUESTS.c.id.in_(requeued))
                .values(phase=Phase.QUEUED, tx_id=None)
            )
        self._wake_after_commit = True

    async def _on_chain(self, rows: Sequence[Queued], minted: set[int]) -> set[int]:
        """Which of a confirmed batch's requests have their token (or edition) on chain.
        Batches skip what exists, so one missing from this transaction's events may come
        from an earlier transaction of the same request."""
        found = set()
        editions: dict[tuple[str, str], list[Queued]] = {}
        for row in rows:
            assert row.token_id is not None
            if row.edition is not None:
                editions.setdefault((row.contract, row.token_id), []).append(row)
                continue
            token_id = int(row.token_id, 16)
            if token_id in minted or await self.chain.erc721(row.contract).exists(token_id):
                found.add(row.id)
        for (contract, token_hex), group in editions.items():
            have = await self.chain.erc1155(contract).minted(
                int(token_hex, 16), [r.edition for r in group]
            )
            found.update(r.id for r in group if r.edition in have)
        return found

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
        ending = await session.execute(
            update(MintRequest)
            .where(in_tx, MintRequest.attempts + 1 >= MAX_GROUP_ATTEMPTS)
            .values(
                phase=Phase.FAILED,
                attempts=MintRequest.attempts + 1,
                **failure(refused_mint(Said(REVERTED))),
            )
            .returning(MintRequest.id)
        )
        await mints_ended(session, ending.scalars().all(), MINT_FAILED)
        await session.execute(
            update(MintRequest)
            .where(in_tx)
            .values(phase=Phase.QUEUED, tx_id=None, attempts=MintRequest.attempts + 1)
        )
        self._wake_after_commit = True

    # ----- what the watcher tells (bot.chain.watcher.TxFollower) ----------------------------

    async def after_look(self, tx_id: int, checked: bool) -> None:
        """A look at a transaction committed: mark the batch sent if the watcher sent it, and
        wake the loops that act on what the look's events decided (only now: before the
        commit they would look too early)."""
        confirmed, self._confirmed_in_look = self._confirmed_in_look, 0
        if checked and confirmed:  # the look committed: its confirmations count
            self.metrics.confirmed_transactions.inc()
            self.metrics.confirmed_mints.inc(confirmed)
        try:
            if checked:
                await self._sync_sent(tx_id)
        finally:
            if self._wake_after_commit:
                self._wake_after_commit = False
                self.progress.queued.set()
                self.progress.finalised.set()

    def needs_funds(self, reason: Said) -> None:
        self.progress.waiting_reason = reason

    def funded(self) -> None:
        waiting = self.progress.waiting_reason
        if isinstance(waiting, Said) and waiting.message == NEEDS_FUNDS:
            self.progress.waiting_reason = None
            self.progress.queued.set()

    async def _sync_sent(self, tx_id: int) -> None:
        """Mark the batch sent if its transaction went out. Most looks are at a transaction
        whose batch is marked already: they read one row and lock nothing."""
        signed = and_(_REQUESTS.c.tx_id == tx_id, _REQUESTS.c.phase == Phase.SIGNED)
        async with self.sessions.begin() as session:
            if not await session.scalar(select(select(_REQUESTS.c.id).where(signed).exists())):
                return
            if await lock_tx(session, tx_id) in (None, TxStatus.SIGNED):
                return
            await session.execute(update(_REQUESTS).where(signed).values(phase=Phase.SENT))
