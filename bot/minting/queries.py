"""Read-only questions about mint requests (one request, a user's page of them, a community's
counts, answers given up) and the rendering of a stored request into the `MintResult`
adapters show."""

from __future__ import annotations

import asyncio
import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.chain.explorer import Explorer, marketplace_url
from bot.i18n.said import Said
from bot.leaderboard_gallery import token_path
from bot.minting.progress import Progress
from bot.minting.types import PHASE_TEXT, MintResult
from db.models import MINTED, ChainTx, DropClaim, MintRequest, Phase, utcnow

if TYPE_CHECKING:
    # Only named in annotations: reading requests needs no connection to the chain.
    from bot.chain.contract import Collection
    from bot.chain.editions import Editions

REPEAT_WINDOW = timedelta(hours=24)


@dataclass(frozen=True)
class TokenLinks:
    """Where a stored request's transaction and token are shown: the chain, its explorer,
    the collection's address, and the bot's own web pages (PUBLIC_BASE_URL), whose token page
    is the token's link: it unfurls into a card with the token's picture wherever it is
    pasted, which an explorer's page does not."""

    chain_id: int
    explorer: Explorer | None
    contract: str
    public_base_url: str


@dataclass
class ChainContext:
    """What the mint pipeline needs of the chain (built by the composition root): the shared
    collection, and typed access to any other contract a request names (a community's own
    collection or editions contract, clones of ours that answer to the same ABI)."""

    chain_id: int
    collection: Collection
    explorer: Explorer | None
    custody_address: str
    _bound: dict[tuple[str, str], Collection | Editions] = field(
        default_factory=dict, init=False, repr=False
    )

    def links(self, public_base_url: str) -> TokenLinks:
        return TokenLinks(self.chain_id, self.explorer, self.collection.address, public_base_url)

    def erc721(self, address: str | None) -> Collection:
        """The ERC-721 collection at `address`; None is the shared collection."""
        # Imported here: this module reads requests without the chain stack loaded.
        from bot.chain.contract import Collection

        if address is None or address.lower() == self.collection.address.lower():
            return self.collection
        bound = self._bound.get(("erc721", address.lower()))
        if not isinstance(bound, Collection):
            bound = self._bound[("erc721", address.lower())] = Collection(
                self.collection.w3, address
            )
        return bound

    def erc1155(self, address: str) -> Editions:
        """The ERC-1155 editions contract at `address`."""
        from bot.chain.editions import Editions

        bound = self._bound.get(("erc1155", address.lower()))
        if not isinstance(bound, Editions):
            bound = self._bound[("erc1155", address.lower())] = Editions(
                self.collection.w3, address
            )
        return bound


class StoredRequest(Protocol):
    """What rendering reads of a stored request: a `MintRequest`, or a row of its columns
    (which costs far less to read in hundreds than the objects)."""

    @property
    def id(self) -> int: ...
    @property
    def platform(self) -> str: ...
    @property
    def chat_id(self) -> str: ...
    @property
    def message_id(self) -> str: ...
    @property
    def requester_id(self) -> str: ...
    @property
    def requester_name(self) -> str: ...
    @property
    def community_id(self) -> str | None: ...
    @property
    def reply_to(self) -> str | None: ...
    @property
    def name(self) -> str: ...
    @property
    def phase(self) -> str: ...
    @property
    def recipient(self) -> str | None: ...
    @property
    def custodial(self) -> bool: ...
    @property
    def token_id(self) -> str | None: ...
    @property
    def image_cid(self) -> str | None: ...
    @property
    def metadata_cid(self) -> str | None: ...
    @property
    def contract(self) -> str | None: ...
    @property
    def edition(self) -> int | None: ...
    @property
    def failure_reason(self) -> str | None: ...
    @property
    def failure_said(self) -> str | None: ...
    @property
    def answered_at(self) -> datetime | None: ...
    @property
    def answer_error(self) -> str | None: ...


def request_key(request: StoredRequest) -> str:
    return f"{request.platform}:{request.chat_id}:{request.message_id}"


def requested_by(platform: str, user_id: str) -> ColumnElement[bool]:
    """The user's own requests: those they made in chat and their drop claims (which are
    filed under the "drop" platform, keyed by the drop)."""
    claims = select(DropClaim.request_id).where(
        DropClaim.platform == platform, DropClaim.user_id == user_id
    )
    return or_(
        and_(MintRequest.platform == platform, MintRequest.requester_id == user_id),
        MintRequest.id.in_(claims),
    )


class MintQueries:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        links: TokenLinks,
        progress: Progress,
        poll_interval: float,
    ) -> None:
        self.sessions = sessions
        self.links = links
        self.progress = progress
        self.poll_interval = poll_interval

    async def result(self, request_id: int) -> MintResult:
        """The request as it stands; `KeyError` if there is none with this ID."""
        async with self.sessions() as session:
            request = await session.get(MintRequest, request_id)
            if request is None:
                raise KeyError(request_id)
            tx = await session.get(ChainTx, request.tx_id) if request.tx_id else None
            return self.render(request, tx.mined_hash if tx is not None else None)

    async def find(self, platform: str, chat_id: str, message_id: str) -> MintResult | None:
        """The request with this key, if any."""
        request_id = await self.request_id(platform, chat_id, message_id)
        return None if request_id is None else await self.result(request_id)

    async def answered_in(self, platform: str, chat_id: str, message: str) -> list[MintResult]:
        """The requests whose answer `message` of the chat shows, in the order they came."""
        async with self.sessions() as session:
            requests = list(
                await session.scalars(
                    select(MintRequest)
                    .where(
                        MintRequest.platform == platform,
                        MintRequest.chat_id == chat_id,
                        MintRequest.answered_in == message,
                    )
                    .order_by(MintRequest.id)
                )
            )
            hashes = await self.mined_hashes(session, requests)
        return [self.render(r, hashes.get(r.tx_id) if r.tx_id else None) for r in requests]

    async def request_id(self, platform: str, chat_id: str, message_id: str) -> int | None:
        async with self.sessions() as session:
            return await session.scalar(
                select(MintRequest.id).where(
                    MintRequest.platform == platform,
                    MintRequest.chat_id == chat_id,
                    MintRequest.message_id == message_id,
                )
            )

    async def phase_of(self, platform: str, chat_id: str, message_id: str) -> Phase | None:
        """The phase of the request with this key, if there is one."""
        async with self.sessions() as session:
            phase = await session.scalar(
                select(MintRequest.phase).where(
                    MintRequest.platform == platform,
                    MintRequest.chat_id == chat_id,
                    MintRequest.message_id == message_id,
                )
            )
        return None if phase is None else Phase(phase)

    async def recent_same_image(
        self, platform: str, requester_id: str, image: bytes, within: timedelta = REPEAT_WINDOW
    ) -> MintResult | None:
        """The requester's latest request for the same image bytes within `within`, if any:
        adapters ask before minting it again."""
        digest = hashlib.sha256(image).hexdigest()
        async with self.sessions() as session:
            request_id = await session.scalar(
                select(MintRequest.id)
                .where(
                    MintRequest.platform == platform,
                    MintRequest.requester_id == requester_id,
                    MintRequest.upload_digest == digest,
                    MintRequest.created_at > utcnow() - within,
                    MintRequest.phase.not_in((Phase.REJECTED, Phase.FAILED)),
                )
                .order_by(MintRequest.id.desc())
                .limit(1)
            )
        return None if request_id is None else await self.result(request_id)

    async def requests_of(
        self,
        platform: str,
        requester_id: str,
        *,
        minted_only: bool,
        offset: int = 0,
        limit: int = 10,
    ) -> tuple[list[MintResult], int]:
        """A page of the user's requests, newest first, and how many there are in all."""
        where = [requested_by(platform, requester_id)]
        if minted_only:
            where.append(MintRequest.phase.in_(MINTED))
        async with self.sessions() as session:
            total = int(
                await session.scalar(select(func.count()).select_from(MintRequest).where(*where))
                or 0
            )
            rows = list(
                await session.scalars(
                    select(MintRequest)
                    .where(*where)
                    .order_by(MintRequest.id.desc())
                    .offset(offset)
                    .limit(limit)
                )
            )
            hashes = await self.mined_hashes(session, rows)
        return [self.render(r, hashes.get(r.tx_id) if r.tx_id else None) for r in rows], total

    @staticmethod
    async def mined_hashes(
        session: AsyncSession, requests: list[MintRequest]
    ) -> dict[int, str | None]:
        """The hashes the transactions of `requests` were mined with (None where not yet),
        by transaction ID."""
        tx_ids = {r.tx_id for r in requests if r.tx_id is not None}
        if not tx_ids:
            return {}
        rows = await session.execute(
            select(ChainTx.id, ChainTx.mined_hash).where(ChainTx.id.in_(tx_ids))
        )
        return {tx_id: mined_hash for tx_id, mined_hash in rows.all()}

    async def community_stats(self, platform: str, community_id: str) -> dict[str, int]:
        """Requests from this community by phase, plus distinct requesters, and how many
        answers were given up as undeliverable (if any)."""
        async with self.sessions() as session:
            by_phase = {
                str(phase): int(count)
                for phase, count in await session.execute(
                    select(MintRequest.phase, func.count())
                    .where(
                        MintRequest.platform == platform,
                        MintRequest.community_id == community_id,
                    )
                    .group_by(MintRequest.phase)
                )
            }
            creators, undeliverable = (
                await session.execute(
                    select(
                        func.count(func.distinct(MintRequest.requester_id)),
                        func.count(MintRequest.undeliverable_at),
                    ).where(
                        MintRequest.platform == platform, MintRequest.community_id == community_id
                    )
                )
            ).one()
        if undeliverable:
            by_phase["answer undeliverable"] = int(undeliverable)
        return {**by_phase, "creators": int(creators or 0)}

    async def undeliverable(self, limit: int = 20) -> tuple[int, list[MintResult]]:
        """Requests whose answer was given up: how many, and the latest `limit`."""
        async with self.sessions() as session:
            total = await session.scalar(
                select(func.count())
                .select_from(MintRequest)
                .where(MintRequest.undeliverable_at.is_not(None))
            )
            ids = list(
                await session.scalars(
                    select(MintRequest.id)
                    .where(MintRequest.undeliverable_at.is_not(None))
                    .order_by(MintRequest.undeliverable_at.desc())
                    .limit(limit)
                )
            )
        return int(total or 0), [await self.result(i) for i in ids]

    async def wait_final(self, request_id: int, timeout: float | None = None) -> MintResult:
        """Wait until the request's outcome is decided (by this process or another)."""
        async with asyncio.timeout(timeout):
            while True:
                current = await self.result(request_id)
                if current.is_final:
                    return current
                await asyncio.sleep(self.poll_interval)

    def render(self, request: StoredRequest, tx_hash: str | None) -> MintResult:
        """The stored request (and the hash its transaction was mined with) as adapters show
        it."""
        phase = Phase(request.phase)
        explorer = self.links.explorer
        token_id = int(request.token_id, 16) if request.token_id else None
        minted = phase in MINTED
        # A community's own collection or editions contract; None: the shared collection.
        contract = request.contract or self.links.contract
        return MintResult(
            request_id=request.id,
            key=request_key(request),
            platform=request.platform,
            chat_id=request.chat_id,
            message_id=request.message_id,
            requester_id=request.requester_id,
            requester_name=request.requester_name,
            community_id=request.community_id,
            reply_to=json.loads(request.reply_to) if request.reply_to else None,
            name=request.name,
            phase=phase,
            status_text=PHASE_TEXT[phase],
            recipient=request.recipient,
            custodial=request.custodial,
            token_id=token_id,
            image_cid=request.image_cid,
            metadata_cid=request.metadata_cid,
            tx_hash=tx_hash,
            tx_url=explorer.tx_url(tx_hash) if explorer and tx_hash else None,
            contract=contract,
            edition=request.edition,
            # An edition's page is its artwork's (every edition shares the token ID).
            token_url=(
                self.links.public_base_url.rstrip("/") + token_path(token_id)
                if minted and token_id is not None
                else None
            ),
            marketplace_url=(
                marketplace_url(self.links.chain_id, contract, token_id)
                if minted and token_id is not None
                else None
            ),
            failure_reason=request.failure_reason,
            failure_said=Said.from_json(request.failure_said),
            answered=request.answered_at is not None,
            answer_error=request.answer_error,
            waiting_reason=self.progress.why_waiting if phase == Phase.QUEUED else None,
            waiting_said=self.progress.why_waiting_said if phase == Phase.QUEUED else None,
        )
