"""Communities (a Discord guild, a Telegram group): their settings and who may mint where.

The decisions live here once; Discord and Telegram only pass in who is asking and render the
typed errors (`NotAllowed`, `MintingPaused`, `RateLimited`) these checks raise.
"""

from __future__ import annotations

import asyncio
import enum
import json
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.errors import MintingPaused, NotAllowed, RateLimited, RequestRejected
from bot.i18n import N_, locale_of
from db.models import CommunitySettings, MintRequest, aware_utc, utcnow

RATE_WINDOW = timedelta(minutes=1)
# The settings checked before a platform's acknowledgement come from memory (Discord allows
# 3 s, and a burst must not queue on the database for them). Older than this, they are read
# again in the background, and a refusal is decided on a fresh read. This process's own changes
# show at once; the admission after the acknowledgement always reads them fresh.
CACHED_CONFIG_S = 5.0
CACHED_COMMUNITIES = 10_000
WARM_CHUNK = 500


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
    locale: str | None = None  # of public posts; None: the platform's default


@dataclass(frozen=True)
class _Cached:
    config: CommunityConfig
    read_at: float  # time.monotonic() when the read began


@dataclass(frozen=True)
class Asker:
    """Who is asking, as the platform knows them: enough for the core to decide."""

    user_id: str
    role_ids: frozenset[str] = field(default_factory=frozenset)
    is_admin: bool = False
    # The community the platform says the asker belongs to, where it says so (a Discord
    # interaction from a guild member carries its guild); None when it does not.
    member_of: str | None = None

    def is_member(self, community_id: str) -> bool:
        """Does the platform vouch that the asker belongs to `community_id`?"""
        return self.member_of is not None and self.member_of == community_id


def check_asker(config: CommunityConfig, channel_id: str, asker: Asker, *, author_id: str) -> None:
    """May `asker` mint `author_id`'s image in this channel, by the community's settings alone?
    Raises the reason if not (`MintingPaused`, `NotAllowed`).

    The author may always mint their own message (where minting is allowed); minting someone
    else's needs the community's curator role (or admin rights).
    """
    if config.paused:
        raise MintingPaused(N_("Minting is paused in this community by its admins."))
    if config.allowed_channels and channel_id not in config.allowed_channels:
        raise NotAllowed(N_("Minting is not enabled in this channel."))
    if config.minter_role_id and not (asker.is_admin or config.minter_role_id in asker.role_ids):
        raise NotAllowed(N_("Minting here needs the community's minter role."))
    if author_id != asker.user_id and not (
        asker.is_admin or (config.curator_role_id and config.curator_role_id in asker.role_ids)
    ):
        raise NotAllowed(
            N_("Only the message's author or a curator can mint someone else's message.")
        )


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
            N_("I cannot post in that chat: add me to it with the right to send messages first.")
        )
    if target.community_id != community_id and not target.asker_is_admin:
        raise NotAllowed(
            N_(
                "Mints can be announced only here or in a chat you administer; "
                "you are not an administrator of that one."
            )
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
        # The settings as last read, for the checks made before an acknowledgement.
        self._cached: dict[tuple[str, str], _Cached] = {}
        self._reads: dict[tuple[str, str], asyncio.Task[CommunityConfig]] = {}

    async def config(self, platform: str, community_id: str) -> CommunityConfig:
        """The community's settings, read from the database now."""
        async with self.sessions() as session:
            row = await session.get(CommunitySettings, (platform, community_id))
        return _config(row)

    async def check_may_mint(
        self,
        platform: str,
        community_id: str,
        channel_id: str,
        asker: Asker,
        *,
        author_id: str,
    ) -> None:
        """`check_mint` without waiting for the database, so a platform can refuse at once and
        privately, before it acknowledges anything.

        It decides on the settings as last read (a community never seen is read now; older
        than `CACHED_CONFIG_S`, they are read again in the background). Letting a request
        through on old settings is safe: `check_mint`, after the acknowledgement, reads them
        fresh. Refusing is not, so a refusal on settings older than that is decided again on
        settings read now.
        """
        key = (platform, community_id)
        cached = self._cached.get(key)
        if cached is None:
            config, age = await self._read(key), 0.0
        else:
            config, age = cached.config, time.monotonic() - cached.read_at
            if age > CACHED_CONFIG_S and key not in self._reads:
                self._start_read(key)
        try:
            check_asker(config, channel_id, asker, author_id=author_id)
        except RequestRejected:
            if age <= CACHED_CONFIG_S:
                raise
            check_asker(await self._read(key), channel_id, asker, author_id=author_id)

    async def warm(self, platform: str, community_ids: Iterable[str]) -> None:
        """Read these communities' settings for `check_may_mint` at once (a query per few
        hundred), so the first requests after a start need not wait for them."""
        wanted = list(dict.fromkeys(community_ids))
        for start in range(0, len(wanted), WARM_CHUNK):
            chunk = wanted[start : start + WARM_CHUNK]
            read_at = time.monotonic()
            async with self.sessions() as session:
                rows = {
                    row.community_id: row
                    for row in await session.scalars(
                        select(CommunitySettings).where(
                            CommunitySettings.platform == platform,
                            CommunitySettings.community_id.in_(chunk),
                        )
                    )
                }
            for community_id in chunk:
                self._keep((platform, community_id), _config(rows.get(community_id)), read_at)

    async def _read(self, key: tuple[str, str]) -> CommunityConfig:
        """Read a community's settings into the cache; concurrent readers share one read."""
        task = self._reads.get(key) or self._start_read(key)
        return await asyncio.shield(task)

    def _start_read(self, key: tuple[str, str]) -> asyncio.Task[CommunityConfig]:
        read_at = time.monotonic()
        task = asyncio.create_task(self.config(*key), name="read-community-settings")
        self._reads[key] = task

        def done(task: asyncio.Task[CommunityConfig]) -> None:
            if self._reads.get(key) is task:
                del self._reads[key]
            if not task.cancelled() and task.exception() is None:
                self._keep(key, task.result(), read_at)

        task.add_done_callback(done)
        return task

    def _keep(self, key: tuple[str, str], config: CommunityConfig, read_at: float) -> None:
        """Cache settings read at `read_at`, unless newer ones are cached already."""
        cached = self._cached.get(key)
        if cached is not None and cached.read_at > read_at:
            return
        if cached is None and len(self._cached) >= CACHED_COMMUNITIES:
            self._cached.clear()  # communities come back on their next request
        self._cached[key] = _Cached(config, read_at)

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
        locale: str | _Keep | None = KEEP,
    ) -> CommunityConfig:
        """Change the settings given (None clears a role or the language) and return them
        all. A language is stored as the shipped locale its tag maps to."""
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
            if locale is not KEEP:
                row.locale = None if locale is None else locale_of(locale)
            await session.flush()
            config = _config(row)
        self._keep((platform, community_id), config, time.monotonic())
        return config

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

        The settings are read fresh (`check_asker` decides on them, as `check_may_mint` did
        before the acknowledgement on a cached read), then the rate limits.
        """
        config = await self.config(platform, community_id)
        check_asker(config, channel_id, asker, author_id=author_id)
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
        locale=row.locale,
    )
