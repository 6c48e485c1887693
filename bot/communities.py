"""Communities (a Discord guild, a Telegram group): their settings and who may mint where.

The decisions live here once; Discord and Telegram only pass in who is asking and render the
typed errors (`NotAllowed`, `MintingPaused`, `RateLimited`) these checks raise.
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.errors import MintingPaused, NotAllowed, RateLimited
from db.models import CommunitySettings, MintRequest, aware_utc, utcnow

RATE_WINDOW = timedelta(minutes=1)


class _Keep(enum.Enum):
    KEEP = "keep"


KEEP = _Keep.KEEP  # `configure` leaves a setting given as KEEP as it is


@dataclass(frozen=True)
class CommunityConfig:
    allowed_channels: tuple[str, ...] = ()
    minter_role_id: str | None = None
    curator_role_id: str | None = None
    announce_channel_id: str | None = None
    paused: bool = False


@dataclass(frozen=True)
class Asker:
    """Who is asking, as the platform knows them: enough for the core to decide."""

    user_id: str
    role_ids: frozenset[str] = field(default_factory=frozenset)
    is_admin: bool = False


@dataclass(frozen=True)
class AnnounceTarget:
    """A channel or chat an admin wants every mint announced in, as the platform sees it."""

    channel_id: str
    community_id: str | None  # the community it belongs to (a Telegram chat is its own)
    asker_is_admin: bool  # the asker administers that channel's community too
    bot_can_post: bool


def check_announce_target(community_id: str, target: AnnounceTarget) -> None:
    """May a community's mints be announced in `target`? In the community itself, or in a
    place its asking admin also administers, so no admin can post into someone else's
    community; and only where the bot can post. Raises `NotAllowed` saying why not."""
    if not target.bot_can_post:
        raise NotAllowed(
            "I cannot post in that chat: add me to it with the right to send messages first."
        )
    if target.community_id != community_id and not target.asker_is_admin:
        raise NotAllowed(
            "Mints can be announced only here or in a chat you administer; "
            "you are not an administrator of that one."
        )


class Communities:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        user_mints_per_minute: int,
        community_mints_per_minute: int,
    ) -> None:
        self.sessions = sessions
        self.user_limit = user_mints_per_minute
        self.community_limit = community_mints_per_minute

    async def config(self, platform: str, community_id: str) -> CommunityConfig:
        async with self.sessions() as session:
            row = await session.get(CommunitySettings, (platform, community_id))
        return _config(row)

    async def configure(
        self,
        platform: str,
        community_id: str,
        *,
        allowed_channels: tuple[str, ...] | None = None,
        minter_role_id: str | _Keep | None = KEEP,
        curator_role_id: str | _Keep | None = KEEP,
        announce_channel_id: str | _Keep | None = KEEP,
        paused: bool | None = None,
    ) -> CommunityConfig:
        """Change the settings given (None clears a role) and return them all."""
        async with self.sessions.begin() as session:
            row = await session.get(
                CommunitySettings, (platform, community_id), with_for_update=True
            )
            if row is None:
                row = CommunitySettings(
                    platform=platform, community_id=community_id, allowed_channels="[]"
                )
                session.add(row)
            if allowed_channels is not None:
                row.allowed_channels = json.dumps(sorted(set(allowed_channels)))
            if minter_role_id is not KEEP:
                row.minter_role_id = minter_role_id
            if curator_role_id is not KEEP:
                row.curator_role_id = curator_role_id
            if announce_channel_id is not KEEP:
                row.announce_channel_id = announce_channel_id
            if paused is not None:
                row.paused = paused
            await session.flush()
            return _config(row)

    async def check_mint(
        self,
        platform: str,
        community_id: str,
        channel_id: str,
        asker: Asker,
        *,
        author_id: str,
    ) -> None:
        """May `asker` mint `author_id`'s image in this channel now? Raises the reason if not.

        The author may always mint their own message (where minting is allowed); minting
        someone else's needs the community's curator role.
        """
        config = await self.config(platform, community_id)
        if config.paused:
            raise MintingPaused("Minting is paused in this community by its admins.")
        if config.allowed_channels and channel_id not in config.allowed_channels:
            raise NotAllowed("Minting is not enabled in this channel.")
        if config.minter_role_id and not (
            asker.is_admin or config.minter_role_id in asker.role_ids
        ):
            raise NotAllowed("Minting here needs the community's minter role.")
        if author_id != asker.user_id and not (
            asker.is_admin or (config.curator_role_id and config.curator_role_id in asker.role_ids)
        ):
            raise NotAllowed(
                "Only the message's author or a curator can mint someone else's message."
            )
        await self._check_rate(platform, community_id, author_id)

    async def _check_rate(self, platform: str, community_id: str, user_id: str) -> None:
        since = utcnow() - RATE_WINDOW
        async with self.sessions() as session:
            for limit, scope in (
                (self.user_limit, MintRequest.requester_id == user_id),
                (self.community_limit, MintRequest.community_id == community_id),
            ):
                if limit <= 0:
                    continue
                recent = list(
                    await session.scalars(
                        select(MintRequest.created_at)
                        .where(
                            MintRequest.platform == platform,
                            scope,
                            MintRequest.created_at > since,
                        )
                        .order_by(MintRequest.created_at.desc())
                        .limit(limit)
                    )
                )
                if len(recent) >= limit:
                    oldest = aware_utc(recent[-1])
                    raise RateLimited((oldest + RATE_WINDOW - utcnow()).total_seconds())


def _config(row: CommunitySettings | None) -> CommunityConfig:
    if row is None:
        return CommunityConfig()
    return CommunityConfig(
        allowed_channels=tuple(json.loads(row.allowed_channels or "[]")),
        minter_role_id=row.minter_role_id,
        curator_role_id=row.curator_role_id,
        announce_channel_id=row.announce_channel_id,
        paused=bool(row.paused),
    )
