"""Holder roles: rules that give a role (or entry to a chat) to members holding enough of a
collection, what each member was last found to deserve and whether the platform has been
told, every change made, and how far the chain's Transfer logs have been read."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from db.models.base import Base, utcnow


class HolderRule(Base):
    """A community's rule: members holding at least `min_count` of `contract` (of `token_id`,
    for an ERC-1155) get `role_id` (on Telegram: may join the chat `role_id`). One rule per
    role."""

    __tablename__ = "holder_rule"
    __table_args__ = (
        UniqueConstraint("platform", "community_id", "role_id", name="uq_holder_rule"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    community_id: Mapped[str] = mapped_column(String(64))
    role_id: Mapped[str] = mapped_column(String(64))
    contract: Mapped[str] = mapped_column(String(42))  # lower-case hex
    token_id: Mapped[str | None] = mapped_column(String(78))  # decimal; None for an ERC-721
    min_count: Mapped[int] = mapped_column(Integer)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class HolderMember(Base):
    """What one member was last found to deserve under a rule (`want`), and whether the
    platform has been told it (`applied`). A decision is committed before the platform is
    told, so a crash in between is told again after a restart."""

    __tablename__ = "holder_member"
    __table_args__ = (Index("ix_holder_member_pending", "applied"),)

    rule_id: Mapped[int] = mapped_column(
        ForeignKey("holder_rule.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    want: Mapped[bool] = mapped_column(Boolean)
    applied: Mapped[bool] = mapped_column(Boolean, default=False)
    held: Mapped[int] = mapped_column(Integer, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )


class HolderChange(Base):
    """One role given or taken (one join request approved or declined), kept after its rule
    is removed: what `/admin stats` counts."""

    __tablename__ = "holder_change"
    __table_args__ = (Index("ix_holder_change_community", "platform", "community_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    community_id: Mapped[str] = mapped_column(String(64))
    role_id: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(16))  # grant, remove, approve, decline
    held: Mapped[int] = mapped_column(Integer)
    cause: Mapped[str] = mapped_column(String(16))  # transfer, recheck, rule, join
    decided_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    applied_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    error: Mapped[str | None] = mapped_column(Text)


class HolderCursor(Base):
    """The last block whose Transfer logs the holder roles have read, per chain."""

    __tablename__ = "holder_cursor"

    chain_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    block: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )
