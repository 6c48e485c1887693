"""Dashboard sessions: a link's first use opens one, in the transaction that records the link
as used, so a second use is refused by the database's primary key, in any process."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.dashboard.links import DashboardKey, LinkRefused, SignedLink
from bot.i18n import N_
from db.models import DashboardLinkUse, DashboardSession, aware_utc

SESSION_LIFETIME = timedelta(minutes=30)
# A cookie of another length is not ours: refused before the database is asked.
_TOKEN_BYTES = 32
_TOKEN_CHARS = 43  # token_urlsafe(32)


@dataclass(frozen=True)
class Admin:
    """Who a session signs in, to which community, and the CSRF token its forms carry."""

    platform: str
    community_id: str
    user_id: str
    expires_at: datetime
    csrf: str


class DashboardSessions:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], key: DashboardKey) -> None:
        self.sessions = sessions
        self.key = key

    async def sign_in(self, link: SignedLink, now: datetime) -> str:
        """Open a session for the link's admin and return its cookie value; LinkRefused if the
        link was used before. Expired sessions and uses of expired links are cleared first."""
        token = secrets.token_urlsafe(_TOKEN_BYTES)
        try:
            async with self.sessions.begin() as session:
                await session.execute(
                    delete(DashboardSession).where(DashboardSession.expires_at <= now)
                )
                await session.execute(
                    delete(DashboardLinkUse).where(DashboardLinkUse.expires_at <= now)
                )
                session.add(DashboardLinkUse(nonce=link.nonce, expires_at=link.expires_at))
                await session.flush()  # the link's use first: a second use stops here
                session.add(
                    DashboardSession(
                        digest=_digest(token),
                        platform=link.platform,
                        community_id=link.community_id,
                        user_id=link.user_id,
                        expires_at=now + SESSION_LIFETIME,
                    )
                )
        except IntegrityError:
            raise LinkRefused(
                N_(
                    "This sign-in link was used already: each link signs in once. Ask the bot "
                    "for a new one."
                )
            ) from None
        return token

    async def admin(self, token: str | None, now: datetime) -> Admin | None:
        """The admin a session cookie signs in, None if it signs in nobody (now)."""
        if token is None or len(token) != _TOKEN_CHARS or not token.isascii():
            return None
        async with self.sessions() as session:
            row = await session.scalar(
                select(DashboardSession).where(DashboardSession.digest == _digest(token))
            )
        if row is None or aware_utc(row.expires_at) <= now:
            return None
        return Admin(
            row.platform,
            row.community_id,
            row.user_id,
            aware_utc(row.expires_at),
            self.key.csrf(token),
        )


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
