"""Withdrawals: custodial tokens moved to their owner's verified address, exactly once.

A member without a linked address has their tokens minted to custody. Once they link and
verify an address, `/withdraw [token]` moves one or all of them there. The database decides,
as for mints: the token is claimed by a conditional UPDATE in the transaction that records the
withdrawal, so however often a command is retried, replayed or double-clicked, and from
whichever process, each token gets one transfer. Transfers go through the transaction engine
(sign, persist, then send; recovery and fee bumps included), one transaction per token.

A token moves on its own contract (`MintRequest.contract`: a community's collection or editions
contract, else the shared collection): an ERC-721 token by `transferFrom`, an ERC-1155 edition
by `safeTransferFrom` of a balance of 1. Each edition a member claimed is a request of its own,
so it is withdrawn (and claimed for its withdrawal) on its own, like any token.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.chain.fees import Fees, current_fees
from bot.chain.sending import sign_and_send, sign_when_due
from bot.chain.tx_engine import AuditInfo, TxEngine, TxEvents
from bot.errors import NotAllowed, RequestRejected
from bot.i18n import N_, _
from bot.minting.queries import ChainContext, requested_by
from bot.minting.types import token_ref
from bot.wallets import WalletLinks
from bot.webhooks.outbox import record, withdrawal_confirmed
from db.models import MINTED, ChainTx, MintRequest, Withdrawal, WithdrawalStatus

log = logging.getLogger(__name__)

# transferFrom from custody to a new holder costs about 35,000 gas on the Solady ERC-721
# (tests/test_withdrawals.py reads the receipts); the limit leaves room.
WITHDRAW_GAS = 80_000
# safeTransferFrom of 1 of an edition from custody costs 58,848 gas to a new holder and 41,748
# to one who has that token already, on the Solady ERC-1155 clone (tests/test_withdrawals.py
# reads the receipts); the limit leaves room, also for the onERC1155Received hook that the
# transfer calls on a recipient with code (a smart-account wallet).
WITHDRAW_EDITION_GAS = 100_000
WITHDRAW_KIND = "withdraw"
STATUS_TEXT = {  # msgids, translated where shown (`WithdrawalView.status_text`)
    WithdrawalStatus.QUEUED: N_("waiting to be sent"),
    WithdrawalStatus.SIGNED: N_("on its way"),
    WithdrawalStatus.CONFIRMED: N_("delivered"),
    WithdrawalStatus.FAILED: N_("failed; it stays in custody"),
}
# Kept in English in `failure_reason` (a readable column), and a msgid: shown translated.
REFUSED = N_("The collection contract refused the transfer; the token stays in custody.")


@dataclass(frozen=True)
class WithdrawalView:
    """One token's withdrawal as a user is told it."""

    token_id: int
    # An ERC-1155 edition's number; None for an ERC-721 token.
    edition: int | None
    name: str
    to_address: str
    status: WithdrawalStatus
    tx_hash: str | None
    tx_url: str | None
    failure_reason: str | None

    @property
    def short_id(self) -> str:
        """The token as /withdraw names it: its short ID, with `#<edition>` for an edition."""
        return token_ref(self.token_id, self.edition)

    @property
    def status_text(self) -> str:
        """In the current locale: a stored reason is English, and a msgid if the bot wrote it."""
        return _(self.failure_reason or STATUS_TEXT[self.status])


class Withdrawals:
    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        txs: TxEngine,
        chain: ChainContext,
        wallets: WalletLinks,
        priority_fee_wei: int,
        max_fee_per_gas_wei: int,
        poll_interval: float,
    ) -> None:
        self.sessions = sessions
        self.txs = txs
        self.chain = chain
        self.wallets = wallets
        self.priority_fee_wei = priority_fee_wei
        self.max_fee_per_gas_wei = max_fee_per_gas_wei
        self.poll_interval = poll_interval
        self.waiting_reason: str | None = None
        self._due = asyncio.Event()
        txs.own(WITHDRAW_KIND, TxEvents(self._confirmed, self._dropped, self._reverted))

    # ----- what chat commands ask ----------------------------------------------------------

    async def in_custody(self, platform: str, user_id: str) -> list[MintRequest]:
        """The user's minted tokens that custody holds and no withdrawal has claimed."""
        async with self.sessions() as session:
            return list(
                await session.scalars(
                    select(MintRequest)
                    .where(
                        requested_by(platform, user_id),
                        MintRequest.phase.in_(MINTED),
                        MintRequest.custodial.is_(True),
                        MintRequest.withdrawal_id.is_(None),
                    )
                    .order_by(MintRequest.id)
                )
            )

    async def withdraw(
        self, asked_key: str, platform: str, user_id: str, token: str | None = None
    ) -> list[WithdrawalView]:
        """Move the user's custodial token `token` (its short or full ID), or all of them, to
        their verified address. Asking again with the same `asked_key` returns the same
        withdrawals; the transfers themselves are signed and sent in the background.

        Raises `NotAllowed` without a verified address, `RequestRejected` if nothing matches.
        """
        existing = await self.views(asked_key)
        if existing:
            return existing
        linked = await self.wallets.linked(platform, user_id)
        if linked is None or not linked[1]:
            raise NotAllowed(
                N_(
                    "Withdrawals go only to an address you proved is yours: link one with "
                    "/wallet link, sign the message, then /wallet verify."
                )
            )
        address = linked[0]
        held = await self.in_custody(platform, user_id)
        if not held and await self._on_the_way(platform, user_id):
            raise RequestRejected(
                N_("Your tokens are already on their way out; /mynfts shows them.")
            )
        chosen = _choose(held, token)
        # Tokens at a holder that has not approved the hot wallet (on the token's contract)
        # stay; the others go.
        hot = self.txs.wallet.address
        places = {_place(request) for request in chosen}
        movable = {place for place in places if await self._may_move(place, hot)}
        if len(movable) < len(places):
            log.warning("custodial tokens at an address that has not approved %s stay", hot)
        chosen = [request for request in chosen if _place(request) in movable]
        if not chosen:
            raise NotAllowed(
                N_(
                    "Withdrawals are not set up here: the custody address has not approved "
                    "the bot's hot wallet to move its tokens (an admin must call "
                    "setApprovalForAll)."
                )
            )
        try:
            async with self.sessions.begin() as session:
                taken = 0
                for request in chosen:
                    taken += await self._claim(
                        session, asked_key, platform, user_id, request, address
                    )
                if not taken:
                    # Another command took them between our look and now.
                    raise RequestRejected(
                        N_("That is already on its way out of custody; /mynfts shows it.")
                    )
        except IntegrityError:
            pass  # the same command, delivered twice at once: the other delivery recorded it
        self._due.set()
        return await self.views(asked_key)

    async def _may_move(self, place: tuple[str | None, bool, str], operator: str) -> bool:
        """Whether `operator` may move the tokens of one contract (None: the shared
        collection) and standard that one holder has: it is the holder, or approved for all."""
        contract, edition, holder = place
        if not edition:
            return await self.chain.erc721(contract).may_transfer_for(holder, operator)
        assert contract is not None, "an edition names its editions contract"
        if holder.lower() == operator.lower():
            return True
        editions = self.chain.erc1155(contract).contract
        return bool(await editions.functions.isApprovedForAll(holder, operator).call())

    async def _on_the_way(self, platform: str, user_id: str) -> bool:
        async with self.sessions() as session:
            pending = await session.scalar(
                select(Withdrawal.id)
                .where(
                    Withdrawal.platform == platform,
                    Withdrawal.user_id == user_id,
                    Withdrawal.status.in_((WithdrawalStatus.QUEUED, WithdrawalStatus.SIGNED)),
                )
                .limit(1)
            )
        return pending is not None

    @staticmethod
    async def _claim(
        session: AsyncSession,
        asked_key: str,
        platform: str,
        user_id: str,
        request: MintRequest,
        address: str,
    ) -> bool:
        """Record the withdrawal of one token and claim the token for it, or record nothing
        if another withdrawal holds it."""
        withdrawal = Withdrawal(
            asked_key=asked_key,
            platform=platform,
            user_id=user_id,
            request_id=request.id,
            to_address=address,
            status=WithdrawalStatus.QUEUED,
        )
        session.add(withdrawal)
        await session.flush()
        claimed = await session.execute(
            update(MintRequest)
            .where(
                MintRequest.id == request.id,
                MintRequest.withdrawal_id.is_(None),
                MintRequest.custodial.is_(True),
            )
            .values(withdrawal_id=withdrawal.id)
        )
        if claimed.rowcount == 1:  # type: ignore[attr-defined]
            return True
        await session.delete(withdrawal)
        return False

    async def views(self, asked_key: str) -> list[WithdrawalView]:
        """The withdrawals one command asked for, as the user is told them."""
        async with self.sessions() as session:
            rows = (
                await session.execute(
                    select(Withdrawal, MintRequest, ChainTx)
                    .join(MintRequest, MintRequest.id == Withdrawal.request_id)
                    .outerjoin(ChainTx, ChainTx.id == Withdrawal.tx_id)
                    .where(Withdrawal.asked_key == asked_key)
                    .order_by(Withdrawal.id)
                )
            ).all()
        explorer = self.chain.explorer
        views = []
        for withdrawal, request, tx in rows:
            tx_hash = (tx.mined_hash or tx.attempts[-1].tx_hash) if tx is not None else None
            views.append(
                WithdrawalView(
                    token_id=request.token_id_int or 0,
                    edition=request.edition,
                    name=request.name,
                    to_address=withdrawal.to_address,
                    status=WithdrawalStatus(withdrawal.status),
                    tx_hash=tx_hash,
                    tx_url=explorer.tx_url(tx_hash) if explorer and tx_hash else None,
                    failure_reason=withdrawal.failure_reason,
                )
            )
        return views

    async def wait(self, asked_key: str, timeout: float) -> list[WithdrawalView]:
        """The command's withdrawals once all are decided, or as they stand after `timeout`."""
        views = await self.views(asked_key)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                while not all(v.status.is_final for v in views):
                    await asyncio.sleep(self.poll_interval)
                    views = await self.views(asked_key)
        return views

    # ----- queued -> signed (in the background) --------------------------------------------

    async def run(self) -> None:
        """Sign and send queued withdrawals until cancelled; the runtime's transaction
        watcher takes them to confirmation."""
        await sign_when_due(self._due, self.poll_interval, self._sign_queued, "withdrawals")

    async def _sign_queued(self) -> None:
        if not self.txs.owned:
            return  # another pipeline process holds the custody key's lane: it signs these
        async with self.sessions() as session:
            queued = list(
                await session.scalars(
                    select(Withdrawal.id)
                    .where(Withdrawal.status == WithdrawalStatus.QUEUED)
                    .order_by(Withdrawal.id)
                )
            )
        for withdrawal_id in queued:
            sign = functools.partial(self._sign, withdrawal_id)
            outcome = await sign_and_send(self.txs, self._fees, sign, what="a withdrawal")
            self.waiting_reason = None if outcome.waiting is None else str(outcome.waiting)
            if outcome.waiting is not None:
                # Signed and persisted, or not signed at all: either way it goes out later.
                log.warning("withdrawals wait: %s", outcome.waiting)
                return

    async def _fees(self) -> Fees:
        return await current_fees(self.txs.w3, self.priority_fee_wei, self.max_fee_per_gas_wei)

    async def _sign(self, withdrawal_id: int, fees: Fees) -> int | None:
        async with self.sessions.begin() as session:
            withdrawal = await session.get(
                Withdrawal, withdrawal_id, with_for_update={"skip_locked": True}
            )
            if withdrawal is None or withdrawal.status != WithdrawalStatus.QUEUED:
                return None  # another process signs it
            request = await session.get(MintRequest, withdrawal.request_id)
            assert request is not None and request.token_id_int is not None
            holder, token_id = _custody_of(request), request.token_id_int
            if request.edition is None:
                collection = self.chain.erc721(request.contract)
                to, gas = collection.address, WITHDRAW_GAS
                data = collection.encode_transfer(holder, withdrawal.to_address, token_id)
            else:
                assert request.contract is not None, "an edition names its editions contract"
                editions = self.chain.erc1155(request.contract)
                to, gas = editions.address, WITHDRAW_EDITION_GAS
                data = editions.encode_transfer(holder, withdrawal.to_address, token_id)
            tx = await self.txs.create(
                session,
                kind=WITHDRAW_KIND,
                to=to,
                data=data,
                gas_limit=gas,
                fees=fees,
                audit=AuditInfo(
                    "withdraw",
                    [withdrawal.asked_key, request.key],
                    [f"{withdrawal.platform}:{withdrawal.user_id}"],
                ),
            )
            withdrawal.status, withdrawal.tx_id = WithdrawalStatus.SIGNED, tx.id
            log.info(
                "signed the withdrawal of token %s to %s at nonce %d",
                token_ref(token_id, request.edition),
                withdrawal.to_address,
                tx.nonce,
            )
            return tx.id

    # ----- transaction events (inside the TxEngine's database transaction) -----------------

    async def _of(self, session: AsyncSession, tx: ChainTx) -> tuple[Withdrawal, MintRequest]:
        withdrawal = await session.scalar(select(Withdrawal).where(Withdrawal.tx_id == tx.id))
        assert withdrawal is not None, f"withdrawal transaction {tx.id} has no withdrawal"
        request = await session.get(MintRequest, withdrawal.request_id)
        assert request is not None
        return withdrawal, request

    async def _confirmed(self, session: AsyncSession, tx: ChainTx, _minted: set[int]) -> None:
        withdrawal, request = await self._of(session, tx)
        withdrawal.status = WithdrawalStatus.CONFIRMED
        request.custodial, request.recipient = False, withdrawal.to_address
        event = withdrawal_confirmed(withdrawal.id, withdrawal.to_address, request)
        await record(session, [event])

    async def _dropped(self, session: AsyncSession, tx: ChainTx) -> None:
        # The nonce went to another transaction and the node shows none of ours in a block:
        # the transfer is signed again at a new nonce. (Should one of ours have been mined
        # unseen, the repeat reverts and `_reverted` finds the token delivered.)
        withdrawal, _ = await self._of(session, tx)
        withdrawal.status, withdrawal.tx_id = WithdrawalStatus.QUEUED, None
        self._due.set()

    async def _reverted(self, session: AsyncSession, tx: ChainTx) -> None:
        withdrawal, request = await self._of(session, tx)
        if await self._delivered_unseen(request, withdrawal.to_address):
            # An earlier transfer of ours was mined though it looked dropped (its nonce taken,
            # no receipt seen): that one delivered it, and this repeat could only revert.
            log.warning("withdrawal %d had already delivered its token", withdrawal.id)
            await self._confirmed(session, tx, set())
            return
        withdrawal.status = WithdrawalStatus.FAILED
        withdrawal.failure_reason = REFUSED
        request.withdrawal_id = None

    async def _delivered_unseen(self, request: MintRequest, to_address: str) -> bool:
        """Does the chain say this ERC-721 token is at `to_address` already? (An edition's
        balance cannot tell one transfer from another: never.) A chain that does not answer
        says no, and the withdrawal fails as reverted."""
        if request.edition is not None or request.token_id_int is None:
            return False
        try:
            owner = await self.chain.erc721(request.contract).owner_of(request.token_id_int)
        except Exception as err:
            log.warning("asking who holds token %d failed: %r", request.token_id_int, err)
            return False
        return owner.lower() == to_address.lower()


def _place(request: MintRequest) -> tuple[str | None, bool, str]:
    """Where a custodial token is, as approvals go: its contract (None: the shared
    collection), whether it is an edition, and its holder."""
    return request.contract, request.edition is not None, _custody_of(request)


def _custody_of(request: MintRequest) -> str:
    """Who holds a custodial token: the custody address when it was minted (a key rotation
    changes the hot wallet, and with it the default custody, but not where old tokens are)."""
    assert request.recipient is not None
    return request.recipient


def _choose(tokens: list[MintRequest], wanted: str | None) -> list[MintRequest]:
    """All of `tokens`, or those `wanted` names by its short or full ID (hex or decimal).

    Editions of one artwork share its ID: the ID alone names every edition of it the member
    holds in custody (their whole balance of that token), and `ID#N` only edition N."""
    if not tokens:
        raise RequestRejected(N_("You have no tokens in custody to withdraw."))
    if wanted is None or not wanted.strip():
        return tokens
    text = wanted.strip().lower().removeprefix("#").removeprefix("0x")
    text, _, edition_text = text.partition("#")
    edition = int(edition_text) if edition_text.strip().isdecimal() else None
    matches = [
        t
        for t in tokens
        if t.token_id is not None
        and text
        and (
            t.token_id[2:].startswith(text.zfill(64) if len(text) > 32 else text)
            or (text.isdecimal() and int(text) == t.token_id_int)
        )
        and (not edition_text or t.edition == edition)
    ]
    if len({(t.contract, t.token_id) for t in matches}) == 1:
        return matches
    if not matches:
        raise RequestRejected(
            N_("None of your tokens in custody has the ID {id}; /mynfts lists them."),
            id=repr(wanted.strip()[:80]),
        )
    raise RequestRejected(N_("That ID matches several of your tokens; give more of its digits."))
