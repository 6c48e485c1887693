"""When a nonce the chain has used counts as taken by another transaction.

The engine gives a transaction's work back (to be signed again at a new nonce) only when the
chain has used its nonce and none of its hashes has a receipt. A node can show a new block's
state (the account's nonce) a moment before it serves that block's receipts, and a receipt
asked in that moment reads as missing: a verdict then would sign the work again, and a
transfer of an ERC-1155 edition would go out twice (the custody still holds others, so the
repeat does not revert). So a missing receipt decides only once it has stayed missing for
SETTLE_S since the nonce was first seen used; until then the transaction stays open and is
looked at again on the next pass.
"""

from __future__ import annotations

import time
from collections.abc import Callable

# Far longer than a node takes to serve a block's receipts after its state, and short beside
# the minutes a truly replaced transaction's work may wait.
SETTLE_S = 3.0


class UsedNonces:
    def __init__(self, settle_s: float = SETTLE_S, clock: Callable[[], float] = time.monotonic):
        self.settle_s = settle_s
        self._clock = clock
        self._first_seen: dict[int, float] = {}  # transaction ID -> when its nonce looked taken

    def taken(self, tx_id: int) -> bool:
        """The chain used `tx_id`'s nonce and none of its receipts is in sight: True once that
        has held for `settle_s`, counted from the first time it was said."""
        now = self._clock()
        first = self._first_seen.setdefault(tx_id, now)
        if now - first < self.settle_s:
            return False
        del self._first_seen[tx_id]
        return True

    @property
    def waiting(self) -> int:
        """Transactions whose nonce looks taken, waiting out `settle_s` before the verdict."""
        return len(self._first_seen)

    def forget(self, tx_id: int) -> None:
        """A receipt of `tx_id` was found: it is ours, mined."""
        self._first_seen.pop(tx_id, None)
