"""`python -m bot wallet rotate`: move minting from the current hot wallet to a new address.

Run it with the settings still naming the old key; the bot may keep running. Every step first
looks at the chain, so an interrupted rotation is finished by running it again; every step is
recorded in `key_rotation_step` and printed:

1. stop: signing with the old and the new wallet stops, in the database (`nonce_state`), for
   every process: a running bot signs nothing more and logs why its work waits; only this
   rotation signs with the old key until the end;
2. grant: the contract admin grants MINTER_ROLE to the new address, on the shared collection
   and on every community contract it still administers (one handed over to its community
   is named, for its owner to grant);
3. drain: the old key's in-flight transactions are carried to confirmation (re-sent, fee-bumped,
   their requests updated), so no work is left behind a key that is about to lose its role;
4. custody: custodial tokens stay movable by the new key (bot/custody.py): those at the old
   address are approved to the new one (setApprovalForAll), or with `sweep` moved to it; those
   at older addresses are moved to it;
5. revoke: the admin revokes the old key's MINTER_ROLE wherever it granted the new one;
6. hand over: the old wallet stays stopped for good, the new one may sign.

The new key itself is never needed: only its address. Afterwards the operator puts the new key
in the settings (and restarts the bot); until then the bot's work waits, signing nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from eth_utils.address import to_checksum_address
from sqlalchemy import select

from bot.chain.contract import MINTER_ROLE, Collection
from bot.chain.fees import current_fees
from bot.chain.signing_stop import resume_signing, stop_signing
from bot.chain.tx_engine import AuditInfo, WalletNeedsFunds
from bot.chain.wallet import HotWallet
from bot.custody import CustodyCarry
from bot.custody_moves import CUSTODY_APPROVAL_KIND, own_custody_moves
from bot.errors import ChainError, TransactionReverted
from bot.pool_roles import operated_contracts
from db.models import ChainTx, KeyRotationStep, TxStatus

if TYPE_CHECKING:
    from bot.runtime import Runtime

log = logging.getLogger(__name__)

APPROVAL_GAS = 60_000
# Looks at the old key's open transactions before the rotation gives up (a re-run goes on).
SETTLE_LOOKS = 1_000


class KeyRotation:
    def __init__(
        self,
        runtime: Runtime,
        admin: HotWallet,
        new_address: str,
        say: Callable[[str], None],
        *,
        sweep: bool = False,
    ) -> None:
        self.runtime = runtime
        self.admin = admin
        self.old = runtime.chain.wallet.address
        self.new = to_checksum_address(new_address)
        self.say = say
        self.sweep = sweep
        self.collection = runtime.collection
        self.txs = runtime.txs
        # This rotation is the one signer of the old key while signing is stopped.
        self.holder = f"rotation to {self.new}"
        self.txs.nonces.holder = self.holder
        own_custody_moves(self.txs)
        self.custody = CustodyCarry(
            runtime, self.new, sweep=sweep, record=self._record, settle=self._settle
        )

    async def run(self) -> None:
        """Carry out (or finish) the rotation; raises `ChainError` on anything it cannot do."""
        await self.begin()
        await self._grant()
        await self._drain()
        await self._approve_custody(await self.custody.carry())
        await self._approve_community_custody()
        await self._revoke()
        await self._hand_over()
        balance = await self.runtime.chain.w3.eth.get_balance(self.old)  # type: ignore[arg-type]
        await self._record(
            "done", f"the old wallet still holds {balance / 1e18:.6f} in native currency"
        )

    async def begin(self) -> None:
        """Check that the rotation may run and stop signing with both keys (`run` starts
        with it; it may be called before, and again)."""
        await self._check()
        await self._stop()

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
        # A finished rotation may be run again; one that a later rotation superseded may not:
        # it would give a rotated-out key its role and signing back.
        async with self.runtime.sessions() as session:
            done = (
                await session.execute(
                    select(KeyRotationStep.old_address, KeyRotationStep.new_address)
                    .where(
                        KeyRotationStep.chain_id == self.runtime.chain.chain_id,
                        KeyRotationStep.step == "done",
                        KeyRotationStep.old_address.in_((self.old, self.new)),
                    )
                    .order_by(KeyRotationStep.id)
                )
            ).all()
        ours = [i for i, (old, _) in enumerate(done) if old == self.old]
        if ours and done[ours[-1]][1] != self.new:
            raise ChainError(f"{self.old} was rotated out to {done[ours[-1]][1]} already")
        later = [new for old, new in done[ours[-1] + 1 :] if old == self.new] if ours else []
        if later:
            raise ChainError(f"{self.new} was rotated out to {later[-1]} since")
        sweeping = ", sweep" if self.sweep else ""
        await self._record("start", f"admin {self.admin.address}{sweeping}")

    async def _stop(self) -> None:
        reason = (
            f"a key rotation from {self.old} to {self.new} is under way (if it was "
            "interrupted, run `python -m bot wallet rotate` again to finish it)"
        )
        w3, chain_id = self.txs.w3, self.txs.chain_id
        for wallet, holder in ((self.old, self.holder), (self.new, None)):
            count = await w3.eth.get_transaction_count(wallet, "latest")  # type: ignore[arg-type]
            async with self.runtime.sessions.begin() as session:
                await stop_signing(
                    session,
                    chain_id=chain_id,
                    wallet=wallet,
                    chain_nonce=count,
                    reason=reason,
                    holder=holder,
                )
        await self.txs.reconcile()
        await self._record("stop", "no process signs with the old or the new key meanwhile")

    async def _contracts(self) -> list[Collection]:
        """The contracts the hot wallet mints in that this admin administers: the shared
        collection and the live community contracts not handed over (those are named)."""
        ours, theirs = await operated_contracts(self.runtime)
        for address in theirs:
            await self._record(
                "grant",
                f"{address} was handed over to its community: its owner must grant "
                f"MINTER_ROLE to {self.new} for the community's mints to go on",
            )
        return ours

    async def _grant(self) -> None:
        for contract in await self._contracts():
            if await contract.is_minter(self.new):
                await self._record(
                    "grant", f"the new address already holds MINTER_ROLE on {contract.address}"
                )
                continue
            receipt = await self._as_admin(contract, "grantRole", MINTER_ROLE, self.new)
            await self._record("grant", f"MINTER_ROLE granted on {contract.address}", receipt)

    async def _drain(self) -> None:
        open_ids = await self.txs.open_transactions()
        await self._record("drain", f"{len(open_ids)} transaction(s) of the old key in flight")
        await self._settle()
        await self._record("drain", "no transaction of the old key is in flight")

    async def _settle(self) -> None:
        """Look at the old key's open transactions until none is left (a bounded number of
        looks: then the rotation stops, and a re-run goes on where it stopped)."""
        for _ in range(SETTLE_LOOKS):
            open_ids = await self.txs.open_transactions()
            if not open_ids:
                return
            for tx_id in open_ids:
                try:
                    await self.txs.check(tx_id)
                except WalletNeedsFunds:
                    raise ChainError(
                        f"the old hot wallet {self.old} needs funds to finish its transactions"
                    ) from None
            await asyncio.sleep(self.runtime.settings.poll_interval)
        raise ChainError(
            f"the old key's transactions are still in flight after {SETTLE_LOOKS} looks; run "
            "the rotation again"
        )

    async def _approve_custody(self, held: int) -> None:
        if held == 0 or await self.collection.may_transfer_for(self.old, self.new):
            await self._record("custody", f"{held} token(s) in the old custody; no approval needed")
            return
        await self._approve(self.collection.address, held, "")

    async def _approve_community_custody(self) -> None:
        """Custodial tokens in communities' own contracts stay where they are (bot/custody.py):
        on each contract where the old key holds some, it approves the new one, as for the
        shared collection; tokens at older addresses are reported."""
        chain = self.runtime.withdrawals.chain
        for (contract, edition), holders in sorted((await self.custody.community_held()).items()):
            held = holders.pop(self.old, 0)
            for holder, count in holders.items():
                if holder != self.new:
                    await self._record(
                        "custody",
                        f"{count} token(s) of {contract} at {holder}, which only an earlier key "
                        f"may move: they stay there until {holder}'s key approves {self.new}",
                    )
            if not held:
                continue
            if edition:
                functions = chain.erc1155(contract).contract.functions
                approved = bool(await functions.isApprovedForAll(self.old, self.new).call())
            else:
                approved = await chain.erc721(contract).may_transfer_for(self.old, self.new)
            if approved:
                await self._record(
                    "custody", f"{held} token(s) of {contract} in the old custody; approved before"
                )
                continue
            await self._approve(contract, held, f" of {contract}")

    async def _approve(self, contract: str, held: int, of: str) -> None:
        """The old key approves the new one for all its tokens in `contract`
        (setApprovalForAll, the same call on ERC-721 and ERC-1155)."""
        fees = await current_fees(
            self.txs.w3,
            self.runtime.settings.priority_fee_wei,
            self.runtime.settings.max_fee_per_gas_wei,
        )
        async with self.runtime.sessions.begin() as session:
            tx = await self.txs.create(
                session,
                kind=CUSTODY_APPROVAL_KIND,
                to=contract,
                data=self.collection.encode_call("setApprovalForAll", self.new, True),
                gas_limit=APPROVAL_GAS,
                fees=fees,
                audit=AuditInfo("rotate", [f"approve {self.new} for custody"], ["operator"]),
            )
            tx_id = tx.id
        await self.txs.send(tx_id)
        await self._settle()
        async with self.runtime.sessions() as session:
            mined = await session.get(ChainTx, tx_id)
            assert mined is not None
            approved = mined.status == TxStatus.CONFIRMED and not mined.reverted
            tx_hash = mined.mined_hash
        if not approved:
            raise TransactionReverted(
                "the custody approval did not go through (reverted or replaced); run the "
                "rotation again"
            )
        await self._record(
            "custody",
            f"{held} token(s){of} in the old custody; the new address may move them",
            tx_hash,
        )

    async def _revoke(self) -> None:
        for contract in await self._contracts():
            if not await contract.is_minter(self.old):
                await self._record(
                    "revoke", f"the old key no longer holds MINTER_ROLE on {contract.address}"
                )
                continue
            receipt = await self._as_admin(contract, "revokeRole", MINTER_ROLE, self.old)
            await self._record(
                "revoke", f"MINTER_ROLE revoked from the old key on {contract.address}", receipt
            )

    async def _hand_over(self) -> None:
        chain_id = self.txs.chain_id
        async with self.runtime.sessions.begin() as session:
            await stop_signing(
                session,
                chain_id=chain_id,
                wallet=self.old,
                chain_nonce=0,  # the row exists: the old key signed, or `_stop` made it
                reason=f"it was rotated out; the hot wallet is now {self.new}: put that key in "
                "the settings",
                holder=None,
            )
            await resume_signing(session, chain_id=chain_id, wallet=self.new)
        await self._record("hand over", f"the old key signs no more; {self.new} may sign")

    async def _as_admin(self, contract: Collection, function: str, *args: object) -> str:
        fees = await current_fees(
            self.txs.w3,
            self.runtime.settings.priority_fee_wei,
            self.runtime.settings.max_fee_per_gas_wei,
        )
        receipt = await contract.transact(self.admin, function, *args, fees=fees)
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
