"""Communities and their members: settings, rate-limit scopes, linked wallets, wallet
challenges, withdrawals and the owners of minted tokens."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
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


class CommunitySettings(Base):
    """What a community's admins set: where and by whom minting is allowed, and a pause."""

    __tablename__ = "community_settings"

    platform: Mapped[str] = mapped_column(String(16), primary_key=True)
    community_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    # JSON list of channel IDs; empty means every channel.
    allowed_channels: Mapped[str] = mapped_column(Text, default="[]")
    minter_role_id: Mapped[str | None] = mapped_column(String(64))
    curator_role_id: Mapped[str | None] = mapped_column(String(64))
    # Where every confirmed mint from this community is announced (a channel or chat), if set.
    announce_channel_id: Mapped[str | None] = mapped_column(String(64))
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    # The language of the community's public posts (announcements, drops, draws), which the
    # whole chat reads: a shipped locale, or None for the platform's default (English).
    locale: Mapped[str | None] = mapped_column(String(16))
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )


class RateScope(Base):
    """One row per rate-limited scope (a member, a community) that has asked. Recording a
    request first upserts its scopes' rows, which locks them until the transaction ends, so
    concurrent recorders (other processes on PostgreSQL too) count one after another."""

    __tablename__ = "rate_scope"

    platform: Mapped[str] = mapped_column(String(16), primary_key=True)
    scope: Mapped[str] = mapped_column(String(16), primary_key=True)  # "member" | "community"
    scope_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    touched_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class PlatformUser(Base):
    """A chat user and the address they linked, if any."""

    __tablename__ = "platform_user"

    platform: Mapped[str] = mapped_column(String(16), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    display_name: Mapped[str] = mapped_column(String(256), default="")
    address: Mapped[str | None] = mapped_column(String(42))
    address_verified: Mapped[bool] = mapped_column(Boolean, default=False)
    linked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class WalletChallenge(Base):
    """A Sign-In with Ethereum message the bot issued to link an address: single use, with an
    expiry. The exact text is kept, since the signature is checked against it."""

    __tablename__ = "wallet_challenge"

    nonce: Mapped[str] = mapped_column(String(32), primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[str] = mapped_column(String(64))
    address: Mapped[str] = mapped_column(String(42))
    message: Mapped[str] = mapped_column(Text)
    issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index("ix_wallet_challenge_user", "platform", "user_id", "issued_at"),)


class WithdrawalStatus(enum.StrEnum):
    QUEUED = "queued"  # recorded, the token claimed; its transfer is not signed yet
    SIGNED = "signed"  # its transfer is signed (and maybe sent): see its chain_tx
    CONFIRMED = "confirmed"  # the token is at the address
    FAILED = "failed"  # the contract refused; the token is back in custody

    @property
    def is_final(self) -> bool:
        return self in (WithdrawalStatus.CONFIRMED, WithdrawalStatus.FAILED)


class Withdrawal(Base):
    """One custodial token on its way to its owner's verified address, asked for by one chat
    command (`asked_key`: platform:chat:message). The same command asked again finds these
    rows; another command finds the token already claimed."""

    __tablename__ = "withdrawal"
    __table_args__ = (
        UniqueConstraint("asked_key", "request_id", name="uq_withdrawal_asked"),
        Index("ix_withdrawal_status", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    asked_key: Mapped[str] = mapped_column(String(160))
    platform: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[str] = mapped_column(String(64))
    request_id: Mapped[int] = mapped_column(ForeignKey("mint_request.id"))
    to_address: Mapped[str] = mapped_column(String(42))
    status: Mapped[str] = mapped_column(String(16), default=WithdrawalStatus.QUEUED)
    tx_id: Mapped[int | None] = mapped_column(ForeignKey("chain_tx.id"))
    failure_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )


class TokenOwner(Base):
    """A minted token's owner as the chain last said (`ownerOf`), and when it was last asked.

    The web pages ask the chain again at most once a minute per token, whichever process serves
    them: a process takes the turn by moving `checked_at` with a conditional UPDATE. The chain's
    answer holds while the database still says what it said then (`recorded_owner`, the mint's
    recipient or a confirmed withdrawal's address); once the bot moves the token itself, the
    database's newer word wins until the next check.
    """

    __tablename__ = "token_owner"

    token_id: Mapped[str] = mapped_column(String(66), primary_key=True)
    recorded_owner: Mapped[str] = mapped_column(String(42))
    owner: Mapped[str | None] = mapped_column(String(42))  # None until the chain answered
    checked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
