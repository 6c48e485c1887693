"""The transaction watcher: one loop per runtime that looks at every open transaction of the
hot wallet now and then (mined? deep enough? reorged away? stalled?).

The transaction engine routes what a look decides (confirmed, dropped, reverted) by the
transaction's kind to whoever owns the kind (`TxEngine.own`): mints (and the drops that share
their kind), withdrawals, key rotations. Followers hear, after each look has committed, that
it happened, and whether the wallet lacks gas money.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Protocol

from bot.chain.faults import is_transient
from bot.chain.sending import needs_funds_reason
from bot.chain.tx_engine import TxEngine, WalletNeedsFunds
from bot.i18n.said import Said

log = logging.getLogger(__name__)


class TxFollower(Protocol):
    """Whoever acts on what the watcher's looks decided."""

    async def after_look(self, tx_id: int, checked: bool) -> None:
        """A look at transaction `tx_id` ended and its database transaction with it (the
        engine's events run before the commit, so act on their outcome here). `checked` is
        False if the look failed."""

    def needs_funds(self, reason: Said) -> None:
        """The hot wallet cannot pay for gas; `reason` says so, with the address to fund."""

    def funded(self) -> None:
        """A pass ended with the wallet able to pay for gas."""


class TxWatcher:
    def __init__(self, txs: TxEngine, poll_interval: float) -> None:
        self.txs = txs
        self.poll_interval = poll_interval
        self._followers: list[TxFollower] = []

    def follow(self, follower: TxFollower) -> None:
        """Tell `follower` about every look from now on."""
        self._followers.append(follower)

    async def run(self) -> None:
        """Look at the open transactions every poll interval, and as soon as one has been
        sent (a node that mines at once has its receipt ready), until cancelled; a failed
        pass is logged and the next one tries again."""
        sent = self.txs.sent
        while True:
            sent.clear()
            try:
                await self.look_once()
            except Exception as err:
                log.warning("watching transactions: %s", type(err).__name__)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.poll_interval):
                    await sent.wait()

    async def look_once(self) -> None:
        """One pass over the open transactions, oldest nonce first. A fault other than a
        wallet short of gas money ends the pass: the next one starts over. Nothing while
        another process holds the wallet's nonce lane: that one watches it."""
        if not self.txs.owned:
            return
        for tx_id in await self.txs.open_transactions():
            checked = False
            try:
                await self.txs.check(tx_id)
                checked = True
            except WalletNeedsFunds:
                for follower in self._followers:
                    follower.needs_funds(needs_funds_reason(self.txs.wallet.address))
            except Exception as err:
                if not is_transient(err):
                    log.exception("checking transaction %d failed", tx_id)
                else:
                    log.warning(
                        "checking transaction %d: transient fault (%s)", tx_id, type(err).__name__
                    )
                break
            finally:
                for follower in self._followers:
                    await follower.after_look(tx_id, checked)
        if not self.txs.needs_funds:
            for follower in self._followers:
                follower.funded()
