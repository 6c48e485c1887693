"""Custody across key rotations: every custodial token stays movable by the current hot wallet.

Custodial tokens sit at the address that was custody when they were minted (the hot wallet of
that time, unless CUSTODY_ADDRESS names another). The hot wallet withdraws one with
`transferFrom(holder, member, id)`, which the contract allows only if the holder is the hot
wallet or approved it for all. Only a holder's own key can approve, and a rotation has the old
key alone, so approvals cannot reach back more than one rotation: after A -> B -> C, A's key
approved B but nothing approved C. Hence the rule a rotation from `old` to `new` keeps:

- tokens at `old` stay there and `old` approves `new` (one transaction), or with `sweep` (a
  compromised key, which must hold nothing) move to `new`;
- tokens at any older address (approved `old` in its own rotation) move to `new`, signed by
  `old`, because `new` will never be approved there;
- tokens at CUSTODY_ADDRESS stay unless `sweep`: that address approves `new` itself.

So after every rotation each custodial token is at the hot wallet or at the one before it,
which approved it. A move is a transaction of the engine (kind `custody`: signed and committed
before it is sent); its owner records the new holder in the transaction that confirms it, in
whichever process confirms it. A re-run asks the chain where each token is before signing, so
an interrupted sweep finishes without moving anything twice.

Custodial tokens in communities' own contracts (clones of the collection, editions contracts)
are not moved, even by `sweep`: those at `old` are approved to `new` on their own contract
(bot/rotation.py), so they stay withdrawable; those at older addresses are reported and stay.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from eth_utils.address import to_checksum_address
from sqlalchemy import ColumnElement, func, or_, select, update

from bot.chain.faults import is_transient
from bot.chain.fees import current_fees
from bot.chain.tx_engine import AuditInfo, WalletNeedsFunds
from bot.custody_moves import CUSTODY_MOVE_KIND
from bot.errors import ChainError
from bot.minting.types import short_token_id
from db.models import MINTED, MintRequest, Phase

if TYPE_CHECKING:
    from bot.runtime import Runtime

log = logging.getLogger(__name__)

# transferFrom between two holders costs about 35,000 gas (as a withdrawal does); room left.
MOVE_GAS = 80_000


@dataclass(frozen=True)
class HeldToken:
    request_id: int
    token_id: int
    holder: str


class CustodyCarry:
    """The custody step of one rotation from `old` (the key the runtime signs with) to `new`."""

    def __init__(
        self,
        runtime: Runtime,
        new: str,
        *,
        sweep: bool,
        record: Callable[[str, str], Awaitable[None]],
        settle: Callable[[], Awaitable[None]],
    ) -> None:
        self.runtime = runtime
        self.old = runtime.chain.wallet.address
        self.new = new
        self.sweep = sweep
        self.record = record
        self.settle = settle
        configured = runtime.settings.custody_address
        self.configured = to_checksum_address(configured) if configured else None

    def _custodial(self) -> list[ColumnElement[bool]]:
        return [
            MintRequest.custodial.is_(True),
            MintRequest.phase.in_(MINTED),
            MintRequest.token_id.is_not(None),
            MintRequest.recipient.is_not(None),
        ]

    def _in_shared(self) -> ColumnElement[bool]:
        return or_(
            MintRequest.contract.is_(None),
            func.lower(MintRequest.contract) == self.runtime.collection.address.lower(),
        )

    async def held(self) -> dict[str, list[HeldToken]]:
        """Custodial tokens of the shared collection by the address that holds them, as the
        database knows them."""
        async with self.runtime.sessions() as session:
            rows = await session.execute(
                select(MintRequest.id, MintRequest.token_id, MintRequest.recipient)
                .where(*self._custodial(), self._in_shared())
                .order_by(MintRequest.id)
            )
            by_holder: dict[str, list[HeldToken]] = {}
            for request_id, token_id, recipient in rows:
                assert token_id is not None and recipient is not None
                holder = to_checksum_address(recipient)
                by_holder.setdefault(holder, []).append(
                    HeldToken(request_id, int(token_id, 16), holder)
                )
        return by_holder

    async def community_held(self) -> dict[tuple[str, bool], dict[str, int]]:
        """Custodial tokens in communities' own contracts (clones of the collection, editions
        contracts), which a rotation does not move: by (contract, whether it holds editions),
        how many each address holds."""
        async with self.runtime.sessions() as session:
            rows = await session.execute(
                select(
                    MintRequest.contract,
                    MintRequest.edition.is_not(None),
                    MintRequest.recipient,
                    func.count(),
                )
                .where(*self._custodial(), ~self._in_shared())
                .group_by(
                    MintRequest.contract, MintRequest.edition.is_not(None), MintRequest.recipient
                )
            )
            held: dict[tuple[str, bool], dict[str, int]] = {}
            for contract, edition, recipient, count in rows.all():
                assert contract is not None and recipient is not None  # as selected
                place = held.setdefault((to_checksum_address(contract), bool(edition)), {})
                holder = to_checksum_address(recipient)
                place[holder] = place.get(holder, 0) + int(count)
        return held

    async def carry(self) -> int:
        """Move what the rule above says must move to `new`; returns how many tokens stay at
        `old` (for it to approve `new`; none with `sweep`)."""
        await self._repoint_unminted()
        held = await self.held()
        to_move: list[HeldToken] = []
        for holder, tokens in held.items():
            if holder == self.new or (holder == self.old and not self.sweep):
                continue
            if holder == self.configured and not self.sweep:
                approved = await self.runtime.collection.may_transfer_for(holder, self.new)
                await self.record(
                    "custody",
                    f"{len(tokens)} token(s) at CUSTODY_ADDRESS {holder}, which "
                    + (
                        "has approved the new address"
                        if approved
                        else f"must approve {self.new} (setApprovalForAll) for withdrawals"
                    ),
                )
                continue
            if not await self.runtime.collection.may_transfer_for(holder, self.old):
                await self.record(
                    "custody",
                    f"{len(tokens)} token(s) at {holder}, which never approved {self.old}: they "
                    f"stay there until {holder}'s key approves {self.new}",
                )
                continue
            to_move.extend(tokens)
        if to_move or self.sweep:
            await self._move(to_move)
        return 0 if self.sweep else len(held.get(self.old, []))

    async def _repoint_unminted(self) -> None:
        """Custodial requests not yet signed were given the custody of their time as
        recipient; minted later by the new key to an old address, they would land where the
        next rotation cannot reach. They go to the new custody instead (the recipient is not
        part of what a member asked, nor of the token ID)."""
        keep = [a for a in (self.new, self.configured) if a is not None]
        async with self.runtime.sessions.begin() as session:
            result = await session.execute(
                update(MintRequest)
                .where(
                    MintRequest.custodial.is_(True),
                    MintRequest.phase.in_((Phase.RECEIVED, Phase.STORED, Phase.QUEUED)),
                    MintRequest.tx_id.is_(None),
                    MintRequest.recipient.is_not(None),
                    MintRequest.recipient.not_in(keep),
                )
                .values(recipient=self.new)
            )
        count = result.rowcount  # type: ignore[attr-defined]
        await self.record(
            "custody", f"{count} custodial request(s) not yet minted go to {self.new}"
        )

    async def _move(self, tokens: list[HeldToken]) -> None:
        collection = self.runtime.collection
        signed, asked = 0, {t.request_id for t in tokens}
        for token in tokens:
            owner = to_checksum_address(await collection.owner_of(token.token_id))
            if owner == self.new:
                await self._recorded_at(token)  # moved by a run that was cut short
                continue
            if owner != token.holder:
                await self.record(
                    "custody",
                    f"token {short_token_id(token.token_id)} is at {owner}, not {token.holder} "
                    "as recorded; left alone",
                )
                asked.discard(token.request_id)  # the rest of the rotation goes on without it
                continue
            await self._sign_and_send(token)
            signed += 1
        await self.record(
            "custody", f"{len(tokens)} token(s) to move to {self.new}; {signed} transfer(s) signed"
        )
        await self.settle()
        now = await self.held()
        if any(t.request_id in asked for h, ts in now.items() if h != self.new for t in ts):
            raise ChainError(
                "some custodial tokens did not move (the log says why); run the rotation again"
            )
        await self.record("custody", f"{len(asked)} token(s) now held by {self.new}")

    async def _recorded_at(self, token: HeldToken) -> None:
        async with self.runtime.sessions.begin() as session:
            await session.execute(
                update(MintRequest)
                .where(MintRequest.id == token.request_id)
                .values(recipient=self.new)
            )

    async def _sign_and_send(self, token: HeldToken) -> None:
        txs, settings = self.runtime.txs, self.runtime.settings
        fees = await current_fees(txs.w3, settings.priority_fee_wei, settings.max_fee_per_gas_wei)
        async with self.runtime.sessions.begin() as session:
            tx = await txs.create(
                session,
                kind=CUSTODY_MOVE_KIND,
                to=self.runtime.collection.address,
                data=self.runtime.collection.encode_transfer(
                    token.holder, self.new, token.token_id
                ),
                gas_limit=MOVE_GAS,
                fees=fees,
                audit=AuditInfo(
                    "custody move", [f"token {token.token_id:#x} to {self.new}"], ["operator"]
                ),
            )
            tx_id = tx.id
        try:
            await txs.send(tx_id)
        except WalletNeedsFunds:
            raise ChainError(f"the old hot wallet {self.old} needs funds to move custody") from None
        except Exception as err:
            if not is_transient(err):
                raise
            log.warning("sending a custody move: %s; it is sent again", type(err).__name__)
