"""Raffle drops: the raffle of a drop (its window's end, the block whose hash will seed the
draw, and the draw once made) and each member's entry."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from db.models.base import Base, utcnow


class Raffle(Base):
    """A drop whose editions go to winners drawn at its close. Its phases, each one
    transaction: entries until `closes_at`; drawn (`drawn_at`, with the seed, the published
    entrant list and every entry's outcome, in the transaction that sets it, so a draw is
    made once); claimed (`claimed_at`: each winner's edition is a claim of the drop);
    announced (`announced_at`); done (`done_at`: every entrant told, or given up on)."""

    __tablename__ = "raffle"

    drop_id: Mapped[int] = mapped_column(ForeignKey("nft_drop.id"), primary_key=True)
    # Hex of 32 random bytes: tickets are sha256(salt || "platform:user_id"); never published.
    salt: Mapped[str] = mapped_column(String(64))
    closes_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # Announced when the raffle opens: its hash seeds the draw.
    block_number: Mapped[int] = mapped_column(Integer)
    drawn_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    seed: Mapped[str | None] = mapped_column(String(66))
    entrants_cid: Mapped[str | None] = mapped_column(String(128))
    # Entries so far; once drawn, the entrants in the draw (the published list's length).
    entrants: Mapped[int] = mapped_column(Integer, default=0)
    winners: Mapped[int] = mapped_column(Integer, default=0)
    # Set when an admin closed the drop before the draw: nobody is drawn.
    cancelled: Mapped[bool] = mapped_column(default=False)
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    announced_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    done_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class RaffleEntry(Base):
    """A member's entry: one per (raffle, member), whatever is delivered how often."""

    __tablename__ = "raffle_entry"
    __table_args__ = (
        UniqueConstraint("drop_id", "platform", "user_id", name="uq_raffle_entry_member"),
        UniqueConstraint("drop_id", "ticket", name="uq_raffle_entry_ticket"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    drop_id: Mapped[int] = mapped_column(ForeignKey("raffle.drop_id"))
    platform: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[str] = mapped_column(String(64))
    user_name: Mapped[str] = mapped_column(String(256), default="")
    ticket: Mapped[str] = mapped_column(String(64))
    # Where the entrant's platform answers them (as a drop claim's reply_to), and in which
    # language ("locale": the platform's tag), since the draw tells them long after.
    reply_to: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Set with the draw: "won", "lost", or "late" (entered after the seed block existed).
    outcome: Mapped[str | None] = mapped_column(String(8))
    # A winner's claim of the drop (its mint request), or why it could not be made: a `Said`
    # as JSON, told in the winner's language (plain English in rows from before).
    request_id: Mapped[int | None] = mapped_column(ForeignKey("mint_request.id"))
    refused: Mapped[str | None] = mapped_column(Text)
    told_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    tell_attempts: Mapped[int] = mapped_column(Integer, default=0)
