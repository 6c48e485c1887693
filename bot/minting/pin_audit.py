"""`python -m bot pin`: publish everything stored (`--all`), and check what is pinned
(`--verify`), with a progress bar for the operator."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import click
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.content.pinning import open_pinning
from bot.content.store import ContentStore
from bot.minting.progress import Progress
from bot.minting.publish import Publisher, read_back
from db.models import PIN_PENDING, PIN_PINNED, Pin

# A progress bar: total and label in, a context manager with `update(n)` out.
Bar = Callable[[int, str], contextlib.AbstractContextManager[Any]]


async def pin_everything(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], bar: Bar
) -> bool:
    """Pin every stored root on every backend where it is not pinned yet; retry nothing that
    failed within this run (its back-off stands). Returns whether all are pinned now."""
    store = ContentStore(settings.ipfs_dir)
    async with open_pinning(settings) as pinning:
        publisher = Publisher(sessions, store, pinning.backends, Progress(), pinning.read_back)
        await publisher.want(sorted(store.iter_roots()))
        await publisher.adopt_queued()
        total = await _count(sessions, PIN_PENDING)
        with bar(total, "pinning") as progress:
            while True:
                before = publisher.verified
                more = await publisher.publish_group()
                progress.update(publisher.verified - before)
                if not more:
                    break
    rows = await _unpinned(sessions)
    for cid, backend, error in rows:
        click.echo(f"not pinned: {cid} on {backend}: {error or 'waiting for its turn'}")
    click.echo(f"{total - len(rows)} of {total} pinned in this run; {len(rows)} left")
    return not rows


async def verify_pins(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], bar: Bar
) -> bool:
    """Read every pinned root back, block by block, each checked against its CID. Returns
    whether all passed; prints each that did not."""
    async with sessions() as session:
        pinned = (
            await session.execute(
                select(Pin.cid, Pin.backend).where(Pin.state == PIN_PINNED).order_by(Pin.id)
            )
        ).all()
    failures: list[str] = []
    async with open_pinning(settings) as pinning:
        backends = {b.name: b for b in pinning.backends}
        with bar(len(pinned), "verifying") as progress:
            for cid, name in pinned:
                backend = backends.get(name)
                if backend is None and pinning.read_back is None:
                    failures.append(f"{cid} on {name}: that backend is no longer in PINNING")
                else:
                    fetch = pinning.read_back or backend.fetch_block  # type: ignore[union-attr]
                    try:
                        await read_back(cid, fetch)
                    except Exception as err:
                        failures.append(f"{cid} on {name}: {type(err).__name__}: {err}")
                progress.update(1)
    for failure in failures:
        click.echo(f"failed: {failure}")
    click.echo(f"{len(pinned) - len(failures)} of {len(pinned)} pinned CIDs read back intact")
    return not failures


async def _count(sessions: async_sessionmaker[AsyncSession], state: str) -> int:
    async with sessions() as session:
        return int(
            await session.scalar(select(func.count()).select_from(Pin).where(Pin.state == state))
            or 0
        )


async def _unpinned(sessions: async_sessionmaker[AsyncSession]) -> list[tuple[str, str, str]]:
    async with sessions() as session:
        rows = await session.execute(
            select(Pin.cid, Pin.backend, Pin.last_error)
            .where(Pin.state != PIN_PINNED)
            .order_by(Pin.id)
        )
        return [(r.cid, r.backend, r.last_error or "") for r in rows]
