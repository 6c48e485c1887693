"""Content published on IPFS: one row per (CID, pinning backend)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from db.models.base import Base, utcnow

PIN_PENDING = "pending"
PIN_PINNED = "pinned"
# The backend refused this content for good (a block it will not take): the requests minting
# it fail with the backend's reason.
PIN_REFUSED = "refused"


class Pin(Base):
    """A root CID (an image or a metadata document, with every block below it) that must be,
    or is, pinned on one backend. A request is minted only once both its CIDs are pinned on
    every backend PINNING names."""

    __tablename__ = "pin"
    __table_args__ = (
        UniqueConstraint("cid", "backend", name="uq_pin_cid_backend"),
        Index("ix_pin_due", "backend", "state", "due_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    cid: Mapped[str] = mapped_column(String(128))
    backend: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16), default=PIN_PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # failed tries
    last_error: Mapped[str | None] = mapped_column(Text)
    # When a publisher may take it next: after a back-off, or once another's lease ran out.
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # When a publisher last took it: one that started since finds a lease taken before it
    # was left by a process that died, and takes the row at once.
    taken_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    pinned_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
