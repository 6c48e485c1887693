"""The hot wallet's transaction engine: sign, persist, then send; watch; replace; recover.

The rule: the signed bytes, hash and nonce are committed before the
first broadcast, so a crash at any point leaves either nothing (the transaction rolls back
with its nonce) or bytes that recovery re-sends unchanged. A fee bump signs the same nonce with
higher fees and records the new hash beside the old ones; whichever is mined wins. A nonce is
given up only when the chain has used it and none of our hashes has had a receipt for a few
seconds (`UsedNonces`): only then is the work certainly not on chain and safe to queue again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from hexbytes import HexBytes
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from web3 import AsyncWeb3
from web3.exceptions import TransactionNotFound, Web3RPCError

from bot.chain.faults import crash_point, is_transient, node_already_has, rpc_message
from bot.chain.fees import Fees
from bot.chain.l1fee import L1DataFee
from bot.chain.nonces import NonceAllocator, SigningStopped
from bot.chain.receipts import Receipt, block_hash_at, fetch_receipt, minted_token_ids
from bot.chain.spend import SpendCapReached, record_cost, spent_today, worst_case
from bot.chain.tx_rows import FOR_NO_KEY_UPDATE, move_tx
from bot.chain.used_nonces import UsedNonces
from bot.chain.wallet import HotWallet
from db.models import ChainTx, SigningAudit, TxAttempt, TxStatus, aware_utc, utcnow

log = logging.getLogger(__name__)

BUMP_FACTOR_PERCENT = 125  # nodes require at least +10 % on both fee fields to replace
OPEN_STATUSES = (TxStatus.SIGNED, TxStatus.SENT, TxStatus.MINED)


class WalletNeedsFunds(Exception):
    """The node refused a transaction for lack of funds; it stays signed and waits."""


@dataclass(frozen=True)
class AuditInfo:
    """Why a transaction is signed: recorded with every signature."""

    reason: str
    request_keys: Sequence[str]
    requesters: Sequence[str]


@dataclass
class TxEvents:
    """What the engine tells the owner of a kind of transaction, inside the database
    transaction that records the outcome."""

    confirmed: Callable[[AsyncSession, ChainTx, set[int]], Awaitable[None]]
    dropped: Callable[[AsyncSession, ChainTx], Awaitable[None]]
    reverted: Callable[[AsyncSession, ChainTx], Awaitable[None]]


async def _unowned(_session: AsyncSession, tx: ChainTx, *_: object) -> None:
    raise RuntimeError(f"transaction {tx.id} ({tx.kind}) changed state but nothing owns its kind")


UNOWNED = TxEvents(_unowned, _unowned, _unowned)


class TxEngine:
    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        w3: AsyncWeb3[Any],
        wallet: HotWallet,
        chain_id: int,
        confirmations: int,
        bump_after: float,
        max_fee_cap: int,
        max_spend_per_day: int | None = None,
        l1_fee: L1DataFee | None = None,
        crash_at: str | None = None,
    ) -> None:
        self.sessions = sessions
        self.w3 = w3
        self.wallet = wallet
        self.chain_id = chain_id
        self.confirmations = confirmations
        self.bump_after = timedelta(seconds=bump_after)
        self.max_fee_cap = max_fee_cap
        self.max_spend_per_day = max_spend_per_day
        self.l1_fee = l1_fee  # None: the chain charges no L1 data fee
        self._owners: dict[str, TxEvents] = {}
        self.crash_at = crash_at
        self.nonces = NonceAllocator(chain_id, wallet.address)
        self.needs_funds = False
        self.used_nonces = UsedNonces()  # when a used nonce without a receipt is given up
        # Whether this process holds the wallet's nonce lane (`bot.chain.lanes`): only then
        # does its watcher send, bump or settle the lane's transactions.
        self.owned = True
        # Transactions being broadcast by this process now: a second broadcast of the same
        # bytes (the watcher finding one still signed) would only wait on the same reply.
        self._sending: set[int] = set()
        # Set when a transaction went out, for the watcher to look at it without waiting.
        self.sent = asyncio.Event()

    def own(self, kind: str, events: TxEvents) -> None:
        """Tell `events` about every transaction of `kind` (mints, withdrawals, ...)."""
        self._owners[kind] = events

    def _events(self, tx: ChainTx) -> TxEvents:
        return self._owners.get(tx.kind, UNOWNED)

    async def reconcile(self) -> int:
        """Align the nonce allocator with the chain (at start and after nonce errors)."""
        chain_nonce = await self.w3.eth.get_transaction_count(self.wallet.address, "latest")  # type: ignore[arg-type]
        async with self.sessions.begin() as session:
            return await self.nonces.reconcile(session, chain_nonce)

    async def _sign(self, tx: ChainTx, fees: Fees) -> tuple[str, bytes, int | None]:
        """Hash, bytes and (where the chain charges one) L1 data fee estimate of `tx` signed."""
        signed = self.wallet.sign_transaction(
            {
                "type": 2,
                "chainId": self.chain_id,
                "nonce": tx.nonce,
                "to": tx.to_address,
                "value": 0,
                "data": tx.data,
                "gas": tx.gas_limit,
                **fees.as_tx_fields(),
            }
        )
        raw = bytes(signed.raw_transaction)
        l1_fee = await self.l1_fee.estimate(raw) if self.l1_fee else None
        return HexBytes(signed.hash).to_0x_hex(), raw, l1_fee

    async def create(
        self,
        session: AsyncSession,
        *,
        kind: str,
        to: str,
        data: bytes,
        gas_limit: int,
        fees: Fees,
        audit: AuditInfo,
    ) -> ChainTx:
        """Allocate a nonce and sign, inside the caller's transaction: when it commits, the
        bytes are durable and may be sent; if it rolls back, the nonce was never used.

        Raises `SpendCapReached` if the worst-case fee (L1 data fee included) would pass
        today's cap.
        """
        # The nonce row is taken first: it stays locked until the caller's transaction ends,
        # so concurrent signers (other processes too) check the cap one after another.
        nonce = await self.nonces.allocate(session)
        tx = ChainTx(
            chain_id=self.chain_id,
            wallet=self.wallet.address,
            nonce=nonce,
            kind=kind,
            to_address=to,
            data=data,
            gas_limit=gas_limit,
            status=TxStatus.SIGNED,
        )
        signed = await self._sign(tx, fees)
        await self._check_spend(session, gas_limit * fees.max_fee_per_gas + (signed[2] or 0))
        session.add(tx)
        await session.flush()
        self._add_attempt(session, tx, fees, audit, signed)
        return tx

    async def _check_spend(self, session: AsyncSession, more: int) -> None:
        """Raise `SpendCapReached` if committing `more` wei of worst-case fees would pass
        today's cap. Call it with the nonce row locked (see `create`)."""
        cap = self.max_spend_per_day
        if cap is not None and await self.spent_today(session) + more > cap:
            raise SpendCapReached

    def _add_attempt(
        self,
        session: AsyncSession,
        tx: ChainTx,
        fees: Fees,
        audit: AuditInfo,
        signed: tuple[str, bytes, int | None],
    ) -> TxAttempt:
        tx_hash, raw, l1_fee = signed
        attempt = TxAttempt(
            tx_id=tx.id,
            tx_hash=tx_hash,
            raw=raw,
            max_fee_per_gas=fees.max_fee_per_gas,
            max_priority_fee_per_gas=fees.max_priority_fee_per_gas,
            l1_fee_wei=None if l1_fee is None else str(l1_fee),
        )
        session.add(attempt)
        session.add(
            SigningAudit(
                tx_id=tx.id,
                tx_hash=tx_hash,
                chain_id=self.chain_id,
                wallet=self.wallet.address,
                nonce=tx.nonce,
                reason=audit.reason,
                request_keys="\n".join(audit.request_keys),
                requesters="\n".join(audit.requesters),
                max_fee_per_gas=fees.max_fee_per_gas,
                gas_limit=tx.gas_limit,
            )
        )
        return attempt

    async def spent_today(self, session: AsyncSession) -> int:
        """Fees committed since 00:00 UTC: paid where mined, the worst case where not."""
        return await spent_today(session, self.chain_id, self.wallet.address)

    async def send(self, tx_id: int) -> None:
        """Broadcast the newest signed version of a transaction and record that it went out.

        Raises `WalletNeedsFunds` if the node wants more balance, and lets transient faults
        propagate for the caller's retry loop.
        """
        if tx_id in self._sending:
            return  # whoever is sending it records it
        async with self.sessions() as session:
            tx = await session.get(ChainTx, tx_id)
            if tx is None or tx.status not in (TxStatus.SIGNED, TxStatus.SENT):
                return
            attempt = tx.attempts[-1]
            raw, attempt_id = attempt.raw, attempt.id
        try:
            await self._broadcast(tx_id, raw)
        except Exception as err:
            if is_transient(err) and not isinstance(err, Web3RPCError):
                raise
            message = rpc_message(err)
            if node_already_has(message):
                pass  # as good as sent
            elif "insufficient funds" in message:
                self.needs_funds = True
                raise WalletNeedsFunds(message) from None
            elif "nonce too low" in message or "nonce has already been used" in message:
                await self._nonce_used(tx_id)
                return
            elif (
                "underpriced" in message
                or "fee too low" in message
                or ("max fee per gas less than block base fee" in message)
            ):
                await self.bump(tx_id, force=True)
                return
            else:
                raise
        self.needs_funds = False
        crash_point("after_send", self.crash_at)
        async with self.sessions.begin() as session:
            await session.execute(
                update(TxAttempt)
                .where(TxAttempt.id == attempt_id, TxAttempt.sent_at.is_(None))
                .values(sent_at=utcnow())
            )
            await move_tx(session, tx_id, TxStatus.SIGNED, status=TxStatus.SENT)
        self.sent.set()

    async def _broadcast(self, tx_id: int, raw: bytes) -> None:
        self._sending.add(tx_id)
        try:
            await self.w3.eth.send_raw_transaction(raw)
        finally:
            self._sending.discard(tx_id)

    async def bump(self, tx_id: int, *, force: bool = False) -> bool:
        """Replace a stalled transaction: same nonce and data, fees up by a quarter (and at
        least the network's current need), within the fee cap. Returns whether it re-signed."""
        async with self.sessions.begin() as session:
            tx = await session.get(ChainTx, tx_id, with_for_update=FOR_NO_KEY_UPDATE)
            if tx is None or tx.status not in (TxStatus.SIGNED, TxStatus.SENT):
                return False
            last = tx.attempts[-1]
            if not force and (
                last.sent_at is None or utcnow() - aware_utc(last.sent_at) < self.bump_after
            ):
                return False
            block = await self.w3.eth.get_block("pending")
            base_fee = int(block.get("baseFeePerGas") or 0)
            tip = max(last.max_priority_fee_per_gas * BUMP_FACTOR_PERCENT // 100, 1)
            max_fee = max(last.max_fee_per_gas * BUMP_FACTOR_PERCENT // 100, 2 * base_fee + tip)
            max_fee = min(max_fee, self.max_fee_cap)
            if max_fee * 100 < last.max_fee_per_gas * 110:
                log.warning(
                    "tx %s at nonce %d is stuck but the fee cap allows no bump",
                    last.tx_hash,
                    tx.nonce,
                )
                return False
            tip = min(tip, max_fee)
            # A replacement raises the worst case of this transaction: it counts on the cap;
            # and it is a signature: not while the wallet's signing is stopped.
            fees = Fees(max_fee, tip)
            try:
                await self.nonces.lock(session)
                signed = await self._sign(tx, fees)
                more = tx.gas_limit * max_fee + (signed[2] or 0) - worst_case(tx)
                await self._check_spend(session, more)
            except (SpendCapReached, SigningStopped) as err:
                log.warning("tx %s is stuck but is not replaced: %s", last.tx_hash, err)
                return False
            reason = AuditInfo("fee bump", [f"replaces {last.tx_hash}"], [])
            attempt = self._add_attempt(session, tx, fees, reason, signed)
            log.info(
                "replacing %s (nonce %d) with %s at %.3f gwei",
                last.tx_hash,
                tx.nonce,
                attempt.tx_hash,
                max_fee / 1e9,
            )
        await self.send(tx_id)
        return True

    async def _nonce_used(self, tx_id: int) -> None:
        """The node says this nonce is used. Ours, if one of our hashes is in a block (the
        watcher takes it from there); otherwise someone else's, and our work goes back."""
        async with self.sessions() as session:
            tx = await session.get(ChainTx, tx_id)
            assert tx is not None
            hashes = [a.tx_hash for a in tx.attempts]
        for tx_hash in hashes:
            if await self._receipt(tx_hash) is not None:
                self.used_nonces.forget(tx_id)
                async with self.sessions.begin() as session:
                    await move_tx(session, tx_id, TxStatus.SIGNED, status=TxStatus.SENT)
                return
        if not self.used_nonces.taken(tx_id):
            return  # its receipt may not be served yet: the next pass looks again
        async with self.sessions.begin() as session:
            tx = await session.get(ChainTx, tx_id, with_for_update=FOR_NO_KEY_UPDATE)
            assert tx is not None
            if tx.status in (TxStatus.SIGNED, TxStatus.SENT):
                log.warning(
                    "nonce %d of %s was used by another transaction; re-queueing its work",
                    tx.nonce,
                    tx.wallet,
                )
                tx.status = TxStatus.DROPPED
                await self._events(tx).dropped(session, tx)
        await self.reconcile()

    async def _receipt(self, tx_hash: str) -> Receipt | None:
        try:
            return await fetch_receipt(self.w3, tx_hash)
        except TransactionNotFound:  # some nodes answer an unknown hash with this error
            return None

    async def open_transactions(self) -> list[int]:
        async with self.sessions() as session:
            rows = await session.scalars(
                select(ChainTx.id)
                .where(
                    ChainTx.wallet == self.wallet.address,
                    ChainTx.chain_id == self.chain_id,
                    ChainTx.status.in_(OPEN_STATUSES),
                )
                .order_by(ChainTx.nonce)
            )
            return list(rows)

    async def check(self, tx_id: int) -> None:
        """One look at an open transaction: mined? deep enough? reorged away? stalled?"""
        async with self.sessions() as session:
            tx = await session.get(ChainTx, tx_id)
            if tx is None or tx.status not in OPEN_STATUSES:
                return
            hashes = [a.tx_hash for a in tx.attempts]
            status, block_hash, nonce = tx.status, tx.block_hash, tx.nonce
        receipt = None
        for tx_hash in reversed(hashes):
            receipt = await self._receipt(tx_hash)
            if receipt is not None:
                break
        if receipt is None:
            if status == TxStatus.MINED:
                log.warning("tx at nonce %d left the chain (reorg); it goes back to pending", nonce)
                async with self.sessions.begin() as session:
                    await move_tx(
                        session,
                        tx_id,
                        TxStatus.MINED,
                        status=TxStatus.SENT,
                        mined_hash=None,
                        block_number=None,
                        block_hash=None,
                    )
                await self.send(tx_id)  # the same bytes, in case the node forgot them
                return
            chain_nonce = await self.w3.eth.get_transaction_count(self.wallet.address, "latest")  # type: ignore[arg-type]
            if chain_nonce > nonce:
                await self._nonce_used(tx_id)
            elif status == TxStatus.SIGNED:
                await self.send(tx_id)
            else:
                await self.bump(tx_id)
            return
        # A receipt is at least one block deep; the head is asked only when more are needed.
        depth = 1
        if self.confirmations > 1:
            depth = await self.w3.eth.block_number - receipt.block_number + 1
        mined_block_hash = receipt.block_hash
        if block_hash is not None and block_hash != mined_block_hash:
            log.warning(
                "tx at nonce %d moved to block %d after a reorg", nonce, receipt.block_number
            )
        async with self.sessions.begin() as session:
            tx = await session.get(ChainTx, tx_id, with_for_update=FOR_NO_KEY_UPDATE)
            if tx is None or tx.status not in OPEN_STATUSES:
                return
            tx.status = TxStatus.MINED
            tx.mined_hash = receipt.transaction_hash
            tx.block_number = receipt.block_number
            tx.block_hash = mined_block_hash
            record_cost(tx, receipt, l1_charged=self.l1_fee is not None)
            tx.reverted = not receipt.succeeded
            if depth < self.confirmations:
                return
            if await block_hash_at(self.w3, receipt.block_number) != mined_block_hash:
                return  # the block was replaced under us; look again next pass
            tx.status = TxStatus.CONFIRMED
            if tx.reverted:
                await self._events(tx).reverted(session, tx)
            else:
                minted = minted_token_ids(receipt, tx.to_address)
                await self._events(tx).confirmed(session, tx, minted)

    async def count_open(self, session: AsyncSession) -> int:
        return int(
            await session.scalar(
                select(func.count()).select_from(ChainTx).where(ChainTx.status.in_(OPEN_STATUSES))
            )
            or 0
        )
