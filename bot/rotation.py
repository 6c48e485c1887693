"""`python -m bot wallet rotate`: move minting from the current hot wallet to a new address.

Run with the bot stopped and the settings still naming the old key. Every step first looks at
the chain, so an interrupted rotation is finished by running it again; every step is recorded
in `key_rotation_step` and printed:

1. grant: the contract admin grants MINTER_ROLE to the new address;
2. drain: the old key's in-flight transactions are carried to confirmation (re-sent, fee-bumped,
   their requests updated), so no work is left behind a key that is about to lose its role;
3. custody: if the old address holds members' tokens, it approves the new one to move them
   (setApprovalForAll, through the transaction engine and the signing audit), so /withdraw
   keeps working;
4. revoke: the admin revokes the old key's MINTER_ROLE.

The new key itself is never needed: only its address. Afterwards the operator puts the new key
in the settings and starts the bot.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from eth_utils.address import to_checksum_address
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.chain.contract import MINTER_ROLE
from bot.chain.fees import current_fees
from bot.chain.tx_engine import AuditInfo, TxEvents, WalletNeedsFunds
from bot.chain.wallet import HotWallet
from bot.errors import ChainError, TransactionReverted
from db.models import ChainTx, KeyRotationStep, MintRequest

if TYPE_CHECKING:
    from bot.app import Runtime

log = logging.getLogger(__name__)

APPROVAL_GAS = 60_000


class KeyRotation:
    def __init__(
        self, runtime: Runtime, admin: HotWallet, new_address: str, say: Callable[[str], None]
    ) -> None:
        self.runtime = runtime
        self.admin = admin
        self.old = runtime.chain.wallet.address
        self.new = to_checksum_address(new_address)
        self.say = say
        self.collection = runtime.collection
        self.txs = runtime.txs
        self._outcomes: dict[int, bool] = {}  # rotation transaction -> succeeded
        self.txs.own("rotate", TxEvents(self._confirmed, self._ignored, self._reverted))

    async def run(self) -> None:
        """Carry out (or finish) the rotation; raises `ChainError` on anything it cannot do."""
        await self._check()
        await self._grant()
        await self._drain()
        await self._approve_custody()
        await self._revoke()
        balance = await self.runtime.chain.w3.eth.get_balance(self.old)  # type: ignore[arg-type]
        await self._record(
            "done", f"the old wallet still holds {balance / 1e18:.6f} in native currency"
        )

    async def _check(self) -> None:
        if self.new == self.old:
            raise ChainError("the new address is the current hot wallet; nothing to rotate")
        if not await self.collection.is_admin(self.admin.address):
            raise ChainError(f"{self.admin.address} is not the contract's admin; it cannot grant")
        if await self.collection.is_admin(self.new):
            raise ChainError(
                f"{self.new} holds the contract's admin role; a hot wallet must hold only the "
                "minter role"
            )
        await self._record("start", f"admin {self.admin.address}")

    async def _grant(self) -> None:
        if await self.collection.is_minter(self.new):
            await self._record("grant", "the new address already holds MINTER_ROLE")
            return
        receipt = await self._as_admin("grantRole", MINTER_ROLE, self.new)
        await self._record("grant", "MINTER_ROLE granted", receipt)

    async def _drain(self) -> None:
        open_ids = await self.txs.open_transactions()
        await self._record("drain", f"{len(open_ids)} transaction(s) of the old key in flight")
        while open_ids:
            for tx_id in open_ids:
                try:
                    await self.txs.check(tx_id)
                except WalletNeedsFunds:
                    raise ChainError(
                        f"the old hot wallet {self.old} needs funds to finish its transactions"
                    ) from None
            await asyncio.sleep(self.runtime.settings.poll_interval)
            open_ids = await self.txs.open_transactions()
        await self._record("drain", "no transaction of the old key is in flight")

    async def _approve_custody(self) -> None:
        async with self.runtime.sessions() as session:
            held = int(
                await session.scalar(
                    select(func.count())
                    .select_from(MintRequest)
                    .where(MintRequest.custodial.is_(True), MintRequest.recipient == self.old)
                )
                or 0
            )
        if held == 0 or await self.collection.may_transfer_for(self.old, self.new):
            await self._record("custody", f"{held} token(s) in the old custody; no approval needed")
            return
        fees = await current_fees(
            self.txs.w3,
            self.runtime.settings.priority_fee_wei,
            self.runtime.settings.max_fee_per_gas_wei,
        )
        async with self.runtime.sessions.begin() as session:
            tx = await self.txs.create(
                session,
                kind="rotate",
                to=self.collection.address,
                data=self.collection.encode_call("setApprovalForAll", self.new, True),
                gas_limit=APPROVAL_GAS,
                fees=fees,
                audit=AuditInfo("rotate", [f"approve {self.new} for custody"], ["operator"]),
            )
            tx_id = tx.id
        await self.txs.send(tx_id)
        while tx_id not in self._outcomes:
            await asyncio.sleep(self.runtime.settings.poll_interval)
            await self.txs.check(tx_id)
        async with self.runtime.sessions() as session:
            mined = await session.get(ChainTx, tx_id)
            tx_hash = mined.mined_hash if mined is not None else None
        if not self._outcomes[tx_id]:
            raise TransactionReverted(
                "the custody approval did not go through (reverted or replaced); run the "
                "rotation again"
            )
        await self._record(
            "custody", f"{held} token(s) in the old custody; the new address may move them", tx_hash
        )

    async def _revoke(self) -> None:
        if not await self.collection.is_minter(self.old):
            await self._record("revoke", "the old key no longer holds MINTER_ROLE")
            return
        receipt = await self._as_admin("revokeRole", MINTER_ROLE, self.old)
        await self._record("revoke", "MINTER_ROLE revoked from the old key", receipt)

    async def _as_admin(self, function: str, *args: object) -> str:
        fees = await current_fees(
            self.txs.w3,
            self.runtime.settings.priority_fee_wei,
            self.runtime.settings.max_fee_per_gas_wei,
        )
        receipt = await self.collection.transact(self.admin, function, *args, fees=fees)
        return str(receipt["transactionHash"].to_0x_hex())

    async def _record(self, step: str, detail: str, tx_hash: str | None = None) -> None:
        async with self.runtime.sessions.begin() as session:
            session.add(
                KeyRotationStep(
                    chain_id=self.runtime.chain.chain_id,
                    old_address=self.old,
                    new_address=self.new,
                    step=step,
                    detail=detail,
                    tx_hash=tx_hash,
                )
            )
        log.info("key rotation %s -> %s: %s: %s", self.old, self.new, step, detail)
        self.say(f"{step}: {detail}" + (f" (tx {tx_hash})" if tx_hash else ""))

    # The transaction engine reports the approval's outcome inside its own database transaction.
    async def _confirmed(self, _session: AsyncSession, tx: ChainTx, _minted: set[int]) -> None:
        self._outcomes[tx.id] = True

    async def _reverted(self, _session: AsyncSession, tx: ChainTx) -> None:
        self._outcomes[tx.id] = False

    async def _ignored(self, _session: AsyncSession, tx: ChainTx) -> None:
        # Dropped: its nonce went elsewhere, the approval is not on chain; a re-run signs anew.
        self._outcomes[tx.id] = False
