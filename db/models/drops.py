"""Community drops: the drop, each claim of an edition, and the messages announcing it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
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


class Drop(Base):
    """A community drop: one artwork stored once, claimable as numbered editions.

    `claimed` is the edition counter. A claim raises it with one conditional UPDATE that also
    checks supply, window and closure, in the transaction that records the claim, so the
    database alone decides who gets an edition.
    """

    __tablename__ = "nft_drop"
    __table_args__ = (
        Index("ix_nft_drop_community", "platform", "community_id"),
        CheckConstraint("supply IS NULL OR claimed <= supply", name="claimed_within_supply"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    community_id: Mapped[str] = mapped_column(String(64))
    created_by: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text, default="")
    image_cid: Mapped[str] = mapped_column(String(128))
    image_digest: Mapped[str] = mapped_column(String(64))  # sha256 of the uploaded bytes
    image_mime: Mapped[str] = mapped_column(String(32))
    image_width: Mapped[int] = mapped_column(Integer)
    image_height: Mapped[int] = mapped_column(Integer)
    supply: Mapped[int | None] = mapped_column(Integer)  # None: an open edition
    per_user_limit: Mapped[int] = mapped_column(Integer, default=1)
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Who may claim: a list of {"kind": ..., "params": {...}}, each kind a registered gate
    # (bot.drops.gates); a claimant must pass them all. Empty: anyone.
    gates: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list, server_default="[]")
    claimed: Mapped[int] = mapped_column(Integer, default=0)
    # "numbered": one ERC-721 token per claim ("#12 of 500"); "edition": one ERC-1155 token ID
    # for the artwork, each claim a balance of 1 of it (see DropKind).
    kind: Mapped[str] = mapped_column(String(16), default="numbered", server_default="numbered")
    # Where claims mint; None: the shared collection (numbered drops of a community without
    # a collection of its own). An edition drop always names its editions contract.
    contract: Mapped[str | None] = mapped_column(String(42))
    # An edition drop's token ID and metadata (the artwork's, without an edition number).
    token_id: Mapped[str | None] = mapped_column(String(66))
    metadata_cid: Mapped[str | None] = mapped_column(String(128))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # When its end (closed, sold out or its window over) was reported (`drop.closed`).
    end_reported_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class DropClaim(Base):
    """One edition of a drop and who claimed it; `n` counts the claimer's own claims
    (1..per_user_limit), so the constraints refuse an edition too many either way."""

    __tablename__ = "drop_claim"
    __table_args__ = (
        UniqueConstraint("drop_id", "platform", "user_id", "n", name="uq_drop_claim_user_n"),
        UniqueConstraint("drop_id", "edition", name="uq_drop_claim_edition"),
        UniqueConstraint("drop_id", "platform", "source", name="uq_drop_claim_source"),
        # An allowance shared by members (an allowlisted address, whoever verified it): its
        # claims are numbered 1..allowance within it, so the constraint refuses one too many.
        UniqueConstraint("drop_id", "shared_key", "shared_n", name="uq_drop_claim_shared_n"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    drop_id: Mapped[int] = mapped_column(ForeignKey("nft_drop.id"))
    platform: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[str] = mapped_column(String(64))
    user_name: Mapped[str] = mapped_column(String(256), default="")
    n: Mapped[int] = mapped_column(Integer)
    edition: Mapped[int] = mapped_column(Integer)
    request_id: Mapped[int] = mapped_column(ForeignKey("mint_request.id"), unique=True)
    # The platform's ID of the message or interaction that claimed, where it may come again.
    source: Mapped[str | None] = mapped_column(String(128))
    shared_key: Mapped[str | None] = mapped_column(String(80))
    shared_n: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class DropAnnouncement(Base):
    """A message announcing a drop in a chat, whose live counter the bot keeps current."""

    __tablename__ = "drop_announcement"

    drop_id: Mapped[int] = mapped_column(ForeignKey("nft_drop.id"), primary_key=True)
    platform: Mapped[str] = mapped_column(String(16), primary_key=True)
    chat_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    message_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
