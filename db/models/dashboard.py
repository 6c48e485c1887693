"""The admin dashboard: sign-in links already used, the sessions they opened, and the indexes
its pages read a large community's requests through."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from db.models.base import Base, utcnow
from db.models.pipeline import MintRequest


class DashboardLinkUse(Base):
    """A sign-in link's nonce, recorded in the transaction that opens its session: the primary
    key refuses a second use, in this process or any other."""

    __tablename__ = "dashboard_link_use"

    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    # Kept until the link would have expired anyway; then the row may go.
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class DashboardSession(Base):
    """A signed-in admin's session, bound to one platform, community and user. Only the
    SHA-256 of the cookie's value is stored: the database alone cannot sign anyone in."""

    __tablename__ = "dashboard_session"
    __table_args__ = (Index("ix_dashboard_session_expires", "expires_at"),)

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    community_id: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


# The dashboard's counts by phase and its mints per day read one community's requests by phase
# (and creation time) from the index alone; its answers given up, newest first, likewise.
Index(
    "ix_mint_request_community_phase",
    MintRequest.platform,
    MintRequest.community_id,
    MintRequest.phase,
    MintRequest.created_at,
)
Index(
    "ix_mint_request_community_undeliverable",
    MintRequest.platform,
    MintRequest.community_id,
    MintRequest.undeliverable_at,
)
