"""Signing and sending one transaction of the hot wallet, with the faults every sender meets
handled the same way: caps that make it wait, a wallet short of gas money, a node that cannot
be reached. Used by the mint batcher and by withdrawals."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.chain.faults import crash_point, is_transient
from bot.chain.fees import Fees
from bot.chain.nonces import SigningStopped
from bot.chain.spend import SpendCapReached
from bot.chain.tx_engine import TxEngine, WalletNeedsFunds
from bot.errors import FeeCapExceeded
from bot.i18n import N_
from bot.i18n.said import Said

log = logging.getLogger(__name__)


NEEDS_FUNDS = N_("the hot wallet {address} needs funds for gas")


def needs_funds_reason(address: str) -> Said:
    """Why work waits while the hot wallet cannot pay for gas, with the address to fund."""
    return Said(NEEDS_FUNDS, {"address": address})


@dataclass(frozen=True)
class SendOutcome:
    """How far one attempt got."""

    # The transaction signed and committed, if any (None: nothing was due, or it waits).
    tx_id: int | None = None
    # Broadcast; if signed but not sent, the watcher sends the committed bytes later.
    sent: bool = False
    # Why nothing more can go out now (a cap, or a wallet without gas money): untranslated,
    # as a member asking where their request stands may read it (`str()`: English).
    waiting: Said | None = None
    # The waiting is today's spending cap (the work was ready; the budget is not).
    over_budget: bool = False


async def sign_and_send(
    txs: TxEngine,
    fees: Callable[[], Awaitable[Fees]],
    sign: Callable[[Fees], Awaitable[int | None]],
    *,
    what: str,
    crash_at: str | None = None,
) -> SendOutcome:
    """Take the fees, `sign` (which commits the transaction through `txs` and returns its ID,
    or None if there is nothing to sign), then send it.

    A fee or spending cap, or signing stopped by a key rotation, makes the work wait with
    nothing signed; a wallet without gas money
    leaves it signed, to be sent by the watcher once funded; a transient fault while sending
    leaves it signed for the watcher too. Anything else raises.
    """
    try:
        tx_id = await sign(await fees())
    except FeeCapExceeded as err:
        return SendOutcome(waiting=err.said)
    except SpendCapReached as err:
        return SendOutcome(waiting=err.said, over_budget=True)
    except SigningStopped as err:
        return SendOutcome(waiting=err.said)
    if tx_id is None:
        return SendOutcome()
    crash_point("after_sign", crash_at)
    try:
        await txs.send(tx_id)
    except WalletNeedsFunds:
        return SendOutcome(tx_id, waiting=needs_funds_reason(txs.wallet.address))
    except Exception as err:
        if not is_transient(err):
            raise
        log.warning(
            "sending %s: transient fault (%s); the watcher retries", what, type(err).__name__
        )
        return SendOutcome(tx_id)
    return SendOutcome(tx_id, sent=True)


async def sign_when_due(
    due: asyncio.Event, poll_interval: float, sign_due: Callable[[], Awaitable[None]], what: str
) -> None:
    """Run `sign_due` whenever `due` is set, and at least every `poll_interval` seconds (a
    second at the least), until cancelled. A failed turn is logged and the next turn tries
    again (what it signs is in the database, so nothing is lost between turns): a transient
    fault in a line, anything else with its traceback."""
    while True:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(max(poll_interval, 1.0)):
                await due.wait()
        due.clear()
        try:
            await sign_due()
        except Exception as err:
            if not is_transient(err):
                log.exception("signing %s failed; trying again", what)
            else:
                log.warning("signing %s: transient fault (%s)", what, type(err).__name__)
