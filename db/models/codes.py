"""Codeword drops: the secret word or the single-use codes a drop is claimed with, and the
wrong tries counted against members and against the drop.

No code or word is stored as given: only its HMAC-SHA256 under a key that lives outside the
database (`CODEWORD_SECRET`), bound to the drop, so a copy of the database gives none away.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from db.models.base import Base, utcnow


class DropCodeword(Base):
    """A drop claimed with a code: its word (if any), which key its digests were made with,
    and its wrong tries of the current window (all members together)."""

    __tablename__ = "drop_codeword"

    drop_id: Mapped[int] = mapped_column(ForeignKey("nft_drop.id"), primary_key=True)
    word_digest: Mapped[str | None] = mapped_column(String(64))
    # A fingerprint of the key the digests were made with: a process with another key says
    # so rather than call every code wrong.
    key_id: Mapped[str] = mapped_column(String(16))
    wrong: Mapped[int] = mapped_column(Integer, default=0)
    window_start: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class DropCode(Base):
    """One single-use code of a drop: free, reserved for the member who gave it (their claim
    is on its way), or used (their claim is recorded)."""

    __tablename__ = "drop_code"
    __table_args__ = (UniqueConstraint("drop_id", "digest", name="uq_drop_code_digest"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    drop_id: Mapped[int] = mapped_column(ForeignKey("nft_drop.id"))
    digest: Mapped[str] = mapped_column(String(64))
    platform: Mapped[str | None] = mapped_column(String(16))
    user_id: Mapped[str | None] = mapped_column(String(64))
    reserved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class CodeTries(Base):
    """A member's wrong codes for a drop in the current window (it starts at their first
    wrong code; once they reach the limit they wait for its end)."""

    __tablename__ = "code_tries"

    drop_id: Mapped[int] = mapped_column(ForeignKey("nft_drop.id"), primary_key=True)
    platform: Mapped[str] = mapped_column(String(16), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    wrong: Mapped[int] = mapped_column(Integer, default=0)
    window_start: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
