"""Who holds a minted token, as the web pages show it.

The database knows the owner the bot made: the mint's recipient, then the address of each
withdrawal it confirmed (`MintRequest.recipient`). The chain knows about transfers the bot did
not make, so its `ownerOf` corrects the database, asked at most once a minute per token (across
every process serving pages, the database deciding whose turn it is) and never while a page
waits: a page shows the owner as last known and the chain is asked in the background. When the
chain cannot answer, the last known owner stays.

A token of a community's own collection is asked of that collection (`MintRequest.contract`,
read from the database like the rest). An ERC-1155 edition has no single owner: its holders
are shown as recorded (each edition's recipient or withdrawal address), not asked of the chain.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.chain.reads import Owners
from bot.minting.types import short_token_id
from db.engine import insert_unless_present
from db.models import TokenOwner, aware_utc, utcnow

log = logging.getLogger(__name__)

REFRESH_EVERY = timedelta(minutes=1)


def _key(token_id: int) -> str:
    return f"0x{token_id:064x}"


def _last_known(row: TokenOwner | None, recorded: str) -> str:
    """The chain's last answer while the database still says what it said when the chain was
    asked; otherwise the database (the bot moved the token since, or the chain never answered)."""
    if row is not None and row.owner and row.recorded_owner.lower() == recorded.lower():
        return row.owner
    return recorded


class TokenOwners:
    """Token owners for the web pages: the database's, corrected by the chain now and then."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        collection: Owners,
        *,
        at: Callable[[str], Owners] | None = None,
        refresh_every: timedelta = REFRESH_EVERY,
        rpc_timeout: float = 10.0,
    ) -> None:
        """`collection` is the shared collection; `at` binds any other ERC-721 collection by
        its address (without it, the owners of other collections' tokens stay as recorded)."""
        self.sessions = sessions
        self.collection = collection
        self.at = at
        self._bound: dict[str, Owners] = {}
        self.refresh_every = refresh_every
        self.rpc_timeout = rpc_timeout
        self._refreshing: set[asyncio.Task[None]] = set()

    def _collection_of(self, contract: str | None) -> Owners | None:
        """The collection a token is in (None: the shared one), if it can be asked."""
        if contract is None or contract.lower() == self.collection.address.lower():
            return self.collection
        if self.at is None:
            return None
        bound = self._bound.get(contract.lower())
        if bound is None:
            bound = self._bound[contract.lower()] = self.at(contract)
        return bound

    async def owner(self, token_id: int, recorded: str, contract: str | None = None) -> str:
        """The owner of ERC-721 token `token_id` of `contract` (None: the shared collection)
        as last known (`recorded` is what the database says). If the chain was last asked more
        than a minute ago, by any process, it is asked again in the background; the answer
        shows from the next page view on."""
        collection = self._collection_of(contract)
        key = _key(token_id)
        async with self.sessions() as session:
            row = await session.get(TokenOwner, key)
        now = utcnow()
        due = row is None or aware_utc(row.checked_at) <= now - self.refresh_every
        if (
            collection is not None
            and due
            and await self._take_turn(key, recorded, now, first=row is None)
        ):
            task = asyncio.ensure_future(self._ask_chain(collection, token_id, recorded))
            self._refreshing.add(task)
            task.add_done_callback(self._refreshing.discard)
        return _last_known(row, recorded)

    async def last_known(self, recorded: dict[int, str]) -> dict[int, str]:
        """For a page of tokens (token ID -> what the database says): each one's owner as last
        known, without asking the chain."""
        if not recorded:
            return {}
        async with self.sessions() as session:
            rows = {
                row.token_id: row
                for row in await session.scalars(
                    select(TokenOwner).where(TokenOwner.token_id.in_(map(_key, recorded)))
                )
            }
        return {t: _last_known(rows.get(_key(t)), owner) for t, owner in recorded.items()}

    async def close(self) -> None:
        """Stop the questions to the chain still under way."""
        for task in list(self._refreshing):
            task.cancel()
        await asyncio.gather(*self._refreshing, return_exceptions=True)

    async def _take_turn(self, key: str, recorded: str, now: datetime, *, first: bool) -> bool:
        """Record that the chain is being asked now; False if another page view (here or in
        another process) took this turn first."""
        async with self.sessions.begin() as session:
            if first:
                taken = await session.execute(
                    insert_unless_present(session, TokenOwner.__table__).values(  # type: ignore[arg-type]
                        token_id=key, recorded_owner=recorded, owner=None, checked_at=now
                    )
                )
            else:
                taken = await session.execute(
                    update(TokenOwner)
                    .where(
                        TokenOwner.token_id == key,
                        TokenOwner.checked_at <= now - self.refresh_every,
                    )
                    .values(checked_at=now)
                )
        return taken.rowcount == 1  # type: ignore[attr-defined,no-any-return]

    async def _ask_chain(self, collection: Owners, token_id: int, recorded: str) -> None:
        try:
            async with asyncio.timeout(self.rpc_timeout):
                owner = await collection.owner_of(token_id)
            async with self.sessions.begin() as session:
                await session.execute(
                    update(TokenOwner)
                    .where(TokenOwner.token_id == _key(token_id))
                    .values(owner=owner, recorded_owner=recorded)
                )
        except Exception as err:  # whatever went wrong, pages keep the last known owner
            log.warning(
                # The type only: an RPC error's text may carry the node's URL, key and all.
                "could not learn who holds token %s from the chain (%s); pages show the last "
                "known owner",
                short_token_id(token_id),
                type(err).__name__,
            )
