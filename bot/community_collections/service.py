"""Collections that belong to their community: a clone of our ERC-721 collection (and, for
edition drops, of the ERC-1155 editions contract) made by the factory for one community.

The community's admin asks for it from chat. Its owner and royalty receiver is the address that
admin verified by signing in with Ethereum; the hot wallet holds only the minter role; the
operator's admin address keeps an admin role until `collection handover` renounces it.

The clone's address follows from the hot wallet and a salt derived from the community, so it
is recorded before the factory call is signed; the call then goes through the transaction
engine like a mint (signed, committed, sent; resumed after a crash; fee-bumped). Asking again
finds the row. Mints start going to the clone only once it is live (the factory call
confirmed); until then, and for communities without one, the shared collection serves.
As with tokens, the collection's own metadata is pinned before the call that points at it
is signed.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import logging
import re
from collections.abc import Awaitable, Callable, Sequence

from sqlalchemy import and_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.chain.contract import CollectionParams
from bot.chain.factory import CREATE_COLLECTION_GAS, CREATE_EDITIONS_GAS, Factory
from bot.chain.fees import Fees
from bot.chain.sending import sign_and_send, sign_when_due
from bot.chain.tx_engine import AuditInfo, TxEngine, TxEvents
from bot.community_collections import metadata
from bot.community_collections.metadata import NO_TEXT, CollectionText, StoredMetadata
from bot.community_collections.records import REVERTED, SHARED, CollectionView, salt_of, view_of
from bot.community_collections.refusals import (
    BAD_SYMBOL,
    NO_FACTORY,
    NO_OPERATOR_ADMIN,
    OWNER_UNVERIFIED,
    ROYALTY_RANGE,
)
from bot.content.images import CheckedImage
from bot.content.metadata import clean_name
from bot.content.store import ContentStore
from bot.errors import NotAllowed, RequestRejected
from bot.i18n import N_
from bot.i18n.said import Said
from bot.minting.queries import ChainContext
from bot.minting.types import failure
from bot.wallets import WalletLinks
from bot.webhooks.outbox import MINT_FAILED, mints_ended
from db.models import (
    IN_FLIGHT,
    PIN_PINNED,
    ChainTx,
    CollectionStatus,
    CommunityCollection,
    MintRequest,
    Phase,
    Pin,
    Standard,
    utcnow,
)

log = logging.getLogger(__name__)

CREATE_KIND = "collection_create"
# Marketplaces show royalties up to 10 %; more is refused rather than silently cut.
ROYALTY_MAX_BPS = 1_000
SYMBOL = re.compile(r"[A-Z0-9]{1,11}")
COLLECTION_NAME_MAX = 64
# Told to each member whose request waited for it, in their language (a msgid).
REFUSED_REQUEST = N_(
    "The community's collection could not be created, so this was not minted. You may ask again."
)


class CommunityCollections:
    """Creating a community's collection and editions contract, and finding them."""

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        txs: TxEngine,
        chain: ChainContext,
        factory: Factory | None,
        wallets: WalletLinks,
        content: ContentStore,
        check_image: Callable[[bytes], CheckedImage],
        pinning: Sequence[str],
        want_pinned: Callable[[Sequence[str]], Awaitable[int]],
        operator_admin: str | None,
        fees: Callable[[], Awaitable[Fees]],
        poll_interval: float,
        on_live: Callable[[], None] = lambda: None,
    ) -> None:
        self.sessions = sessions
        self.txs = txs
        self.chain = chain
        self.factory = factory
        self.wallets = wallets
        self.content = content
        self.check_image = check_image
        self.pinning = list(pinning)
        self.want_pinned = want_pinned
        self.operator_admin = operator_admin
        self._fees = fees
        self.poll_interval = poll_interval
        self.on_live = on_live
        self.waiting_reason: str | None = None
        self._due = asyncio.Event()
        txs.own(CREATE_KIND, TxEvents(self._confirmed, self._dropped, self._reverted))

    # ----- what admins ask --------------------------------------------------------------

    async def create(
        self,
        *,
        platform: str,
        community_id: str,
        created_by: str,
        name: str,
        symbol: str,
        royalty_bps: int = 0,
        text: CollectionText = NO_TEXT,
    ) -> CollectionView:
        """Record the community's ERC-721 collection and queue the factory call. The asking
        admin's verified address becomes its owner and royalty receiver. Asking again (or
        twice at once) answers with the collection the first request recorded.

        Raises `NotAllowed` without a verified address, `RequestRejected` (or a subclass) for
        a name, symbol, royalty, text or image the collection cannot have."""
        existing = await self.view(platform, community_id)
        if existing is not None:
            return dataclasses.replace(existing, existing=True)
        self._needs_factory()
        name = clean_name(name, max_length=COLLECTION_NAME_MAX)
        symbol = symbol.strip().upper()
        if not SYMBOL.fullmatch(symbol):
            raise RequestRejected(BAD_SYMBOL)
        if not 0 <= royalty_bps <= ROYALTY_MAX_BPS:
            raise RequestRejected(
                ROYALTY_RANGE, percent=f"{ROYALTY_MAX_BPS / 100:g}", bps=ROYALTY_MAX_BPS
            )
        linked = await self.wallets.linked(platform, created_by)
        if linked is None or not linked[1]:
            raise NotAllowed(OWNER_UNVERIFIED)
        owner = linked[0]
        stored = await metadata.store(
            self.content, self.check_image, name=name, owner=owner, royalty_bps=royalty_bps,
            text=text,
        )  # fmt: skip
        row = await self._record(
            platform, community_id, Standard.ERC721, name, symbol, owner, royalty_bps,
            stored, created_by,
        )  # fmt: skip
        return view_of(row, existing=row.created_by != created_by or row.name != name)

    async def view(
        self, platform: str, community_id: str, standard: Standard = Standard.ERC721
    ) -> CollectionView | None:
        """The community's collection (or editions contract) on this chain, if it has one."""
        async with self.sessions() as session:
            row = await self._row(session, platform, community_id, standard)
        return None if row is None else view_of(row)

    async def wait_live(
        self, platform: str, community_id: str, timeout: float
    ) -> CollectionView | None:
        """The community's collection once it is live or failed, or as it stands after
        `timeout` seconds."""
        view = await self.view(platform, community_id)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                while view is not None and view.status == CollectionStatus.CREATING:
                    await asyncio.sleep(self.poll_interval)
                    view = await self.view(platform, community_id)
        return view

    async def editions_for(self, platform: str, community_id: str) -> str:
        """The ERC-1155 contract an edition drop of this community mints in: the community's
        own (made now, like its collection, if it has a collection and no editions contract
        yet), else the operator's shared one. Returns its address; mints wait until it is
        live."""
        self._needs_factory()
        collection = await self.view(platform, community_id)
        if collection is not None and collection.status != CollectionStatus.FAILED:
            key, base = (platform, community_id), collection
        else:
            key, base = SHARED, None
        async with self.sessions() as session:
            row = await self._row(session, *key, Standard.ERC1155)
        if row is not None and row.status != CollectionStatus.FAILED:
            return row.address
        if base is not None:
            stored = StoredMetadata(base.contract_uri.removeprefix("ipfs://"), base.image_cid)
            name, symbol, owner, bps = base.name, base.symbol, base.owner, base.royalty_bps
        else:
            assert self.operator_admin is not None  # _needs_factory checked
            name, symbol, owner, bps = "mintbot Editions", "MINTBOT", self.operator_admin, 0
            stored = await metadata.store(
                self.content, self.check_image, name=name, owner=owner, royalty_bps=bps,
                text=NO_TEXT,
            )  # fmt: skip
        row = await self._record(
            *key, Standard.ERC1155, name, symbol, owner, bps, stored, "editions"
        )
        return row.address

    # ----- recording ---------------------------------------------------------------------

    @property
    def ready(self) -> bool:
        """Whether collections can be made here (a factory and an operator admin address)."""
        return self.factory is not None and self.operator_admin is not None

    def _needs_factory(self) -> Factory:
        """The factory, where the operator set collections up (a factory, and an admin
        address that is not the hot wallet); else `NotAllowed` saying what is missing."""
        if self.factory is None:
            raise NotAllowed(NO_FACTORY)
        if self.operator_admin is None:
            raise NotAllowed(NO_OPERATOR_ADMIN)
        return self.factory

    async def _row(
        self, session: AsyncSession, platform: str, community_id: str, standard: Standard
    ) -> CommunityCollection | None:
        return await session.scalar(
            select(CommunityCollection).where(
                CommunityCollection.platform == platform,
                CommunityCollection.community_id == community_id,
                CommunityCollection.standard == standard,
                CommunityCollection.chain_id == self.chain.chain_id,
            )
        )

    async def _record(
        self,
        platform: str,
        community_id: str,
        standard: Standard,
        name: str,
        symbol: str,
        owner: str,
        royalty_bps: int,
        stored: StoredMetadata,
        created_by: str,
    ) -> CommunityCollection:
        """Insert the row (or reuse a failed one), predicting the clone's address; the
        factory call is signed in the background. A concurrent request for the same
        community loses on the unique constraint and reads the winner's row."""
        factory = self._needs_factory()
        salt = salt_of(platform, community_id, standard)
        predict = (
            factory.predict_collection if standard == Standard.ERC721 else factory.predict_editions
        )
        address = await predict(self.txs.wallet.address, salt)
        if self.pinning:
            await self.want_pinned(stored.cids)
        try:
            async with self.sessions.begin() as session:
                row = await self._row(session, platform, community_id, standard)
                if row is None:
                    row = CommunityCollection(
                        chain_id=self.chain.chain_id,
                        platform=platform,
                        community_id=community_id,
                        standard=standard,
                        address=address,
                        factory=factory.address,
                        salt="0x" + salt.hex(),
                    )
                    session.add(row)
                elif row.status != CollectionStatus.FAILED:
                    return row
                row.name, row.symbol, row.owner, row.royalty_bps = name, symbol, owner, royalty_bps
                row.operator_admin = str(self.operator_admin)
                row.metadata_cid, row.image_cid = stored.cid, stored.image_cid
                row.created_by, row.status, row.failure_reason = (
                    created_by,
                    CollectionStatus.CREATING,
                    None,
                )
                row.tx_id = None
        except IntegrityError:
            async with self.sessions() as session:
                found = await self._row(session, platform, community_id, standard)
            assert found is not None
            return found
        log.info("recorded %s's %s collection at %s", community_id, standard, address)
        self._due.set()
        return row

    # ----- creating -> signed (in the background) --------------------------------------------

    async def run(self) -> None:
        """Sign the factory calls of recorded collections until cancelled (a collection
        whose metadata is not pinned yet waits for it); the transaction watcher takes them
        to confirmation."""
        await sign_when_due(self._due, self.poll_interval, self._sign_due, "collections")

    async def _sign_due(self) -> None:
        if not self.txs.owned:
            return  # another pipeline process holds the custody key's lane: it signs these
        due = and_(
            CommunityCollection.status == CollectionStatus.CREATING,
            CommunityCollection.tx_id.is_(None),
            CommunityCollection.chain_id == self.chain.chain_id,
        )
        async with self.sessions() as session:
            rows = list(await session.scalars(select(CommunityCollection.id).where(due)))
        for row_id in rows:
            sign = functools.partial(self._sign, row_id)
            outcome = await sign_and_send(self.txs, self._fees, sign, what="a collection")
            self.waiting_reason = None if outcome.waiting is None else str(outcome.waiting)
            if outcome.waiting is not None:
                log.warning("creating collections waits: %s", outcome.waiting)
                return

    async def published(self, session: AsyncSession, cids: Sequence[str | None]) -> bool:
        """Whether every one of `cids` is pinned on every backend (or none is configured)."""
        wanted = {c for c in cids if c}
        if not self.pinning or not wanted:
            return True
        pinned = await session.execute(
            select(Pin.cid, Pin.backend).where(
                Pin.cid.in_(wanted), Pin.state == PIN_PINNED, Pin.backend.in_(self.pinning)
            )
        )
        return len(set(pinned.all())) == len(wanted) * len(set(self.pinning))

    async def _sign(self, row_id: int, fees: Fees) -> int | None:
        factory = self._needs_factory()
        async with self.sessions.begin() as session:
            row = await session.get(
                CommunityCollection, row_id, with_for_update={"skip_locked": True}
            )
            if row is None or row.status != CollectionStatus.CREATING or row.tx_id is not None:
                return None  # another process signs it
            if not await self.published(session, [row.metadata_cid, row.image_cid]):
                return None  # content is pinned before anything points at it
            params = CollectionParams(
                name=row.name,
                symbol=row.symbol,
                owner=row.owner,
                admin=row.operator_admin,
                minter=self.txs.wallet.address,
                royalty_receiver=row.owner,
                royalty_bps=row.royalty_bps,
                contract_uri=f"ipfs://{row.metadata_cid}",
            )
            salt = bytes.fromhex(row.salt[2:])
            erc721 = row.standard == Standard.ERC721
            tx = await self.txs.create(
                session,
                kind=CREATE_KIND,
                to=factory.address,
                data=(
                    factory.encode_create_collection(salt, params)
                    if erc721
                    else factory.encode_create_editions(salt, params)
                ),
                gas_limit=CREATE_COLLECTION_GAS if erc721 else CREATE_EDITIONS_GAS,
                fees=fees,
                audit=AuditInfo(
                    "collection",
                    [f"{row.platform}:{row.community_id}:{row.standard}"],
                    [f"{row.platform}:{row.created_by}"],
                ),
            )
            row.tx_id = tx.id
            log.info("signed the creation of %s at nonce %d", row.address, tx.nonce)
            return tx.id

    # ----- transaction events (inside the TxEngine's database transaction) ------------------

    async def _of(self, session: AsyncSession, tx: ChainTx) -> CommunityCollection:
        row = await session.scalar(
            select(CommunityCollection).where(CommunityCollection.tx_id == tx.id)
        )
        assert row is not None, f"collection transaction {tx.id} has no collection"
        return row

    async def _confirmed(self, session: AsyncSession, tx: ChainTx, _minted: set[int]) -> None:
        row = await self._of(session, tx)
        row.status, row.live_at = CollectionStatus.LIVE, utcnow()
        log.info("the collection %s of %s is live", row.address, row.community_id)
        self.on_live()

    async def _dropped(self, session: AsyncSession, tx: ChainTx) -> None:
        # The nonce went to another transaction: nothing was created, so sign again.
        row = await self._of(session, tx)
        row.tx_id = None
        self._due.set()

    async def _reverted(self, session: AsyncSession, tx: ChainTx) -> None:
        row = await self._of(session, tx)
        row.status = CollectionStatus.FAILED
        row.failure_reason = REVERTED
        # Requests waiting for this contract would wait forever: they fail, told why.
        ending = await session.execute(
            update(MintRequest)
            .where(MintRequest.contract == row.address, MintRequest.phase.in_(IN_FLIGHT))
            .values(phase=Phase.FAILED, **failure(Said(REFUSED_REQUEST)))
            .returning(MintRequest.id)
        )
        await mints_ended(session, ending.scalars().all(), MINT_FAILED)
