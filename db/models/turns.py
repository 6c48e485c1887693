"""Turns shared by every process: who last acted on a key (an alert, a counter's edit), so
that across processes it happens at most once per interval; and which pipeline processes are
alive to share the nonce lanes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, String
from sqlalchemy.orm import Mapped, mapped_column

from db.models.base import Base


class SharedTurn(Base):
    __tablename__ = "shared_turn"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    taken_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class LaneMember(Base):
    """A pipeline process sharing the nonce lanes, alive while it renews `expires_at`."""

    __tablename__ = "lane_member"

    process_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
