"""Collections a community owns: the clones of our ERC-721 collection and ERC-1155 editions
contract that the factory made for it, one of each per chain at most."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from db.models.base import Base, utcnow


class Standard(enum.StrEnum):
    """The token standard of a contract: a collection of unique tokens, or editions."""

    ERC721 = "erc721"
    ERC1155 = "erc1155"


class CollectionStatus(enum.StrEnum):
    CREATING = "creating"  # the factory call is signed (or waits for its content to publish)
    LIVE = "live"  # the clone has code and mints go to it
    FAILED = "failed"  # the factory refused; the community keeps the shared collection


class CommunityCollection(Base):
    """A community's own contract on one chain. Its address is known before the factory call
    is sent (a deterministic clone of the hot wallet's salt), so the row is recorded first and
    the call goes through the transaction engine like any other: a retried command finds the
    row, and a crash resumes the call rather than making a second clone."""

    __tablename__ = "community_collection"
    __table_args__ = (
        UniqueConstraint(
            "chain_id", "platform", "community_id", "standard", name="uq_community_collection"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    chain_id: Mapped[int] = mapped_column(BigInteger)
    platform: Mapped[str] = mapped_column(String(16))
    community_id: Mapped[str] = mapped_column(String(64))
    standard: Mapped[str] = mapped_column(String(16))
    address: Mapped[str] = mapped_column(String(42), unique=True)
    factory: Mapped[str] = mapped_column(String(42))
    # The deployer's salt (hex), from which the factory derives the clone's address.
    salt: Mapped[str] = mapped_column(String(66))
    name: Mapped[str] = mapped_column(Text)
    symbol: Mapped[str] = mapped_column(String(32))
    # The community's verified address: owner(), the royalty receiver and an admin.
    owner: Mapped[str] = mapped_column(String(42))
    royalty_bps: Mapped[int] = mapped_column(Integer)
    # The operator's admin address, which keeps an admin role until `collection handover`.
    operator_admin: Mapped[str] = mapped_column(String(42))
    # The collection metadata document (contractURI), stored and pinned like token metadata.
    metadata_cid: Mapped[str] = mapped_column(String(128))
    image_cid: Mapped[str | None] = mapped_column(String(128))
    created_by: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default=CollectionStatus.CREATING)
    failure_reason: Mapped[str | None] = mapped_column(Text)
    tx_id: Mapped[int | None] = mapped_column(ForeignKey("chain_tx.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    live_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    handed_over_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
