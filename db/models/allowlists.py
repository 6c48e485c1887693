"""Drop allowlists: each upload is a list of its own, its entries in a table (thousands of rows,
never in a drop's gate parameters); a drop's allowlist gate names the list it reads."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from db.models.base import Base, utcnow


class Allowlist(Base):
    """One uploaded list: who uploaded it and when, what it holds, and when another list
    replaced it (its entries are deleted then; this row stays, as the record of the upload)."""

    __tablename__ = "allowlist"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The drop it was uploaded for; None while the drop it comes with is being created.
    drop_id: Mapped[int | None] = mapped_column(ForeignKey("nft_drop.id"))
    created_by: Mapped[str] = mapped_column(String(64))
    members: Mapped[int] = mapped_column(Integer)
    addresses: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    replaced_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class AllowlistEntry(Base):
    """A member ("discord:ID", "telegram:ID") or a lower-cased address on a list, and how many
    editions it may claim. The primary key is the index a claim's lookup reads."""

    __tablename__ = "allowlist_entry"
    __table_args__ = (CheckConstraint("allowance >= 1", name="allowance_positive"),)

    allowlist_id: Mapped[int] = mapped_column(
        ForeignKey("allowlist.id", ondelete="CASCADE"), primary_key=True
    )
    entry: Mapped[str] = mapped_column(String(64), primary_key=True)
    allowance: Mapped[int] = mapped_column(Integer)
