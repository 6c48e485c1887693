"""Many callers' writes in one database transaction (group commit).

A caller must not return before its row is committed, and a burst of a thousand callers should
not cost a thousand commits. Whoever submits while a transaction is in flight joins the next
one: a lone write still costs one transaction, a burst a handful. If a group's transaction
fails, each of its items is committed in a transaction of its own (once), so an item the
database refuses fails alone and the others go on.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")

# Commits a group: one outcome per item, in order (an exception fails that item alone).
Commit = Callable[[list[T]], Awaitable[Sequence[R | Exception]]]


@dataclass
class _Waiting(Generic[T, R]):
    item: T
    outcome: asyncio.Future[R]


class GroupCommit(Generic[T, R]):
    def __init__(self, commit: Commit[T, R], *, limit: int, name: str) -> None:
        self._commit = commit
        self._limit = limit
        self._name = name
        self._waiting: list[_Waiting[T, R]] = []
        self._writer: asyncio.Task[None] | None = None

    async def submit(self, item: T) -> R:
        """Commit `item` with whatever else is waiting; its outcome once committed."""
        (outcome,) = self._enqueue([item])
        return await outcome

    async def submit_all(self, items: Sequence[T]) -> list[R]:
        """Commit `items` together (in one transaction when they fit in a group); raises the
        first item's error if any failed."""
        return list(await asyncio.gather(*self._enqueue(items)))

    async def close(self) -> None:
        """Let the transaction in flight finish."""
        if self._writer is not None:
            with contextlib.suppress(Exception):
                await self._writer

    def _enqueue(self, items: Sequence[T]) -> list[asyncio.Future[R]]:
        loop = asyncio.get_running_loop()
        waiting = [_Waiting[T, R](item, loop.create_future()) for item in items]
        self._waiting.extend(waiting)
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write(), name=self._name)
        return [w.outcome for w in waiting]

    async def _write(self) -> None:
        while self._waiting:
            group = self._waiting[: self._limit]
            self._waiting = self._waiting[self._limit :]
            outcomes: Sequence[R | Exception]
            try:
                outcomes = await self._commit([w.item for w in group])
            except Exception as err:
                outcomes = await self._one_by_one(group) if len(group) > 1 else [err]
            for waiting, outcome in zip(group, outcomes, strict=True):
                if waiting.outcome.done():  # the caller gave up waiting
                    continue
                if isinstance(outcome, Exception):
                    waiting.outcome.set_exception(outcome)
                else:
                    waiting.outcome.set_result(outcome)

    async def _one_by_one(self, group: list[_Waiting[T, R]]) -> list[R | Exception]:
        outcomes: list[R | Exception] = []
        for waiting in group:
            try:
                outcomes += await self._commit([waiting.item])
            except Exception as err:
                outcomes.append(err)
        return outcomes
