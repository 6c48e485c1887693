"""The durable inbox: chat updates recorded before they are acknowledged."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    DateTime,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from db.models.base import Base, utcnow


class InboxUpdate(Base):
    """An update or interaction from a chat platform, committed before the bot acknowledges it
    in any way; `processed_at` once its handling finished. Rows not processed are dispatched
    again (after a crash, or a failure) until processed or given up."""

    __tablename__ = "inbox"
    __table_args__ = (
        UniqueConstraint("platform", "update_id", name="uq_inbox_update"),
        Index("ix_inbox_pending", "platform", "processed_at", "given_up_at", "due_at"),
        Index("ix_inbox_processed_at", "processed_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    update_id: Mapped[str] = mapped_column(String(128))  # the platform's own ID for it
    payload: Mapped[str] = mapped_column(Text)  # JSON, as the platform sent it
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # When a dispatcher last took it in hand, and when another may take it over if it is still
    # not processed (its handling went silent, or the back-off after a failure is over).
    taken_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # The dispatcher holding it (host, pid and a random part): only it renews the lease.
    taken_by: Mapped[str | None] = mapped_column(String(80))
    # What the member was already shown for it (a "minting…" reply's IDs, JSON), so handling
    # it again edits that instead of showing another.
    acknowledgement: Mapped[str | None] = mapped_column(Text)
    processed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # failed dispatches
    last_error: Mapped[str | None] = mapped_column(Text)
    given_up_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
