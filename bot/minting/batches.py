"""Finding the requests that make a batch revert, so only they fail and the rest are minted;
and how groups shrink around a request that keeps failing with its group.

A batch is one transaction for many members' requests: one recipient the contract refuses
would revert them all. Before a batch is signed it is simulated; if it would revert, halves
are simulated until each reverting request stands alone (at most about 2 x culprits x
log2(batch) simulations).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass
class Sorted(Generic[T]):
    """What a batch's simulation decided: send these now, fail those (with the reason), and
    leave the rest queued for a later batch."""

    send: list[T] = field(default_factory=list)
    culprits: list[tuple[T, str]] = field(default_factory=list)


async def without_culprits(
    batch: Sequence[T], revert_reason: Callable[[Sequence[T]], Awaitable[str | None]]
) -> Sorted[T]:
    """Split `batch` by simulating it (`revert_reason` returns None when a group would
    succeed). Requests that each pass alone but revert together stay queued: the first half
    is sent, the rest waits, and the chain decides again next time."""
    sorted_ = Sorted[T]()
    reason = await revert_reason(batch)
    if reason is None:
        sorted_.send = list(batch)
        return sorted_
    reverting: list[tuple[Sequence[T], str]] = [(batch, reason)]
    while reverting:
        group, reason = reverting.pop()
        if len(group) == 1:
            sorted_.culprits.append((group[0], reason))
            continue
        middle = len(group) // 2
        halves = (group[:middle], group[middle:])
        reasons = [await revert_reason(half) for half in halves]
        if all(r is None for r in reasons):
            sorted_.send.extend(halves[0])
            continue
        for half, half_reason in zip(halves, reasons, strict=True):
            if half_reason is None:
                sorted_.send.extend(half)
            else:
                reverting.append((half, half_reason))
    return sorted_


# Group-level failures a request may take part in (see MintRequest.attempts). The group it
# joins halves with each, so by the last it is alone: 100 -> 50 -> ... -> 1 in 7 steps.
MAX_GROUP_ATTEMPTS = 9


def group_size(largest: int, attempts: int) -> int:
    """How many requests go in a group that starts with a request with `attempts` failures."""
    return max(1, largest >> attempts)
