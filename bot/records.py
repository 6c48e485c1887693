"""The bot's records without the chain: the database (migrated) and the read-only views of it
that `status` and `audit` print, naming the collection from the settings and the records, so
reading them needs neither a node nor the chain libraries."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.chain.deployments import Deployment
from bot.chain.explorer import explorer_for
from bot.config import Settings
from bot.inbox import DurableInbox
from bot.minting.progress import Progress
from bot.minting.queries import MintQueries, TokenLinks
from db.engine import create_db_engine, session_factory, upgrade
from db.models import ChainTx, CommunityCollection


async def open_database(settings: Settings) -> AsyncEngine:
    """The database engine for DATABASE_URL, migrated to the newest schema."""
    if settings.database_url.startswith("sqlite"):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = create_db_engine(settings.database_url, settings.database_pool_size)
    await upgrade(db)
    return db


@dataclass
class Records:
    """The database and what can be read from it alone: mint requests (as the chats show
    them) and the inbox of chat updates."""

    sessions: async_sessionmaker[AsyncSession]
    requests: MintQueries
    inbox: DurableInbox


@contextlib.asynccontextmanager
async def open_records(settings: Settings) -> AsyncIterator[Records]:
    """Open the database (migrated) and the read-only views of it; close them after."""
    db = await open_database(settings)
    try:
        sessions = session_factory(db)
        links = await recorded_links(settings, sessions)
        inbox = DurableInbox(
            sessions,
            max_attempts=settings.inbox_max_attempts,
            retention=timedelta(days=settings.inbox_retention_days),
            lease=timedelta(seconds=settings.inbox_lease_s),
        )
        try:
            yield Records(
                sessions, MintQueries(sessions, links, Progress(), settings.poll_interval), inbox
            )
        finally:
            await inbox.close()
    finally:
        await db.dispose()


async def recorded_links(
    settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> TokenLinks:
    """The chain and collection the bot mints into, without asking a node: CHAIN_ID and
    CONTRACT_ADDRESS, else the deployment recorded for the chain, else the chain and contract
    of the newest transaction the hot wallet signed to the shared collection (one that
    called no community's contract nor the factory that made them). With none of these
    nothing was ever sent, so no request has links to show."""
    theirs = select(CommunityCollection.address).union(select(CommunityCollection.factory))
    async with sessions() as session:
        newest = (
            await session.execute(
                select(ChainTx.chain_id, ChainTx.to_address)
                .where(ChainTx.to_address.not_in(theirs))
                .order_by(ChainTx.id.desc())
                .limit(1)
            )
        ).first()
    chain_id = settings.chain_id or (newest.chain_id if newest else None)
    if chain_id is None:
        return TokenLinks(0, None, "", settings.public_base_url)
    deployment = Deployment.load(settings.deployments_dir, chain_id)
    contract = (
        settings.contract_address
        or (deployment.address if deployment else None)
        or (newest.to_address if newest else "")
    )
    explorer = explorer_for(chain_id, settings.explorer_url, settings.public_base_url)
    return TokenLinks(chain_id, explorer, contract, settings.public_base_url)
