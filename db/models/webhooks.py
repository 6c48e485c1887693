"""Signed webhooks: the endpoints events are posted to, and the outbox of deliveries.

An outbox row is written in the same transaction as the state change it reports, so an event
exists exactly when its change does; the delivery worker (`bot/webhooks/delivery.py`) posts
it afterwards, as often as it takes, under the same event ID.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from db.models.base import Base, utcnow

# The scope of an endpoint from WEBHOOK_URLS: every community's events.
GLOBAL_SCOPE = "*"


class WebhookEndpoint(Base):
    """A URL that receives events: a community's (added by its admins) or global (WEBHOOK_URLS,
    `scope` GLOBAL_SCOPE, signed with WEBHOOK_SECRET from the environment, so `secret` is None)."""

    __tablename__ = "webhook_endpoint"
    __table_args__ = (UniqueConstraint("scope", "url", name="uq_webhook_endpoint_url"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # "platform:community" or GLOBAL_SCOPE.
    scope: Mapped[str] = mapped_column(String(96))
    url: Mapped[str] = mapped_column(Text)
    # The signing secret ("whsec_…"): the bot must compute HMACs with it, so it is kept.
    secret: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Set when a delivery failed for the whole retry window; no more events are recorded.
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    disabled_reason: Mapped[str | None] = mapped_column(Text)


class WebhookDelivery(Base):
    """One event for one endpoint: due at `next_at`, taken by a worker until `taken_until`."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (
        UniqueConstraint("endpoint_id", "event_id", name="uq_webhook_delivery_event"),
        Index("ix_webhook_delivery_due", "state", "next_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("webhook_endpoint.id", ondelete="CASCADE"))
    # Stable per event (derived from the changed row): the `webhook-id` of every try.
    event_id: Mapped[str] = mapped_column(String(96))
    event_type: Mapped[str] = mapped_column(String(32))
    # The JSON body, fixed when recorded, so every try signs and sends the same bytes.
    body: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), default="pending")  # pending|delivered|failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    next_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    taken_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(String(300))
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
