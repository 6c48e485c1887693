"""Recording events in the outbox, inside the transaction of the state change they report.

Each hook in the core calls one function here with its open session: the event is then
committed exactly when its change is (a change rolled back leaves no event), one delivery row
per endpoint that wants it (the community's own and the global ones). The event ID is derived
from the changed row, so it is the same however often the event is delivered, and recording
the same event twice adds nothing (the (endpoint, event) pair is unique).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db.engine import insert_unless_present
from db.models import (
    GLOBAL_SCOPE,
    MintRequest,
    Phase,
    WebhookDelivery,
    WebhookEndpoint,
    aware_utc,
    utcnow,
)

MINT_CONFIRMED = "mint.confirmed"
MINT_FAILED = "mint.failed"
DROP_CLAIMED = "drop.claimed"
DROP_CLOSED = "drop.closed"
WITHDRAWAL_CONFIRMED = "withdrawal.confirmed"
WEBHOOK_TEST = "webhook.test"  # sent by an admin's `webhook test`, to their endpoints only
EVENT_TYPES = (MINT_CONFIRMED, MINT_FAILED, DROP_CLAIMED, DROP_CLOSED, WITHDRAWAL_CONFIRMED)


@dataclass(frozen=True)
class Event:
    type: str
    subject: str  # the changed row's ID, which makes the event's ID
    platform: str | None
    community_id: str | None
    data: dict[str, Any]

    @property
    def id(self) -> str:
        return f"evt_{self.type.replace('.', '_')}_{self.subject}"

    def body(self, at: datetime) -> str:
        payload = {
            "id": self.id,
            "type": self.type,
            "timestamp": at.isoformat().replace("+00:00", "Z"),
            "data": self.data,
        }
        return json.dumps(payload, separators=(",", ":"), sort_keys=True)


def scope_of(platform: str, community_id: str) -> str:
    return f"{platform}:{community_id}"


async def record(
    session: AsyncSession, events: Sequence[Event], *, only_scope: bool = False
) -> int:
    """Add a delivery of each event for every enabled endpoint of its community and (unless
    `only_scope`) every global one, in `session`'s transaction; how many were added."""
    if not events:
        return 0
    scopes = {scope_of(e.platform, e.community_id) for e in events if e.platform and e.community_id}
    if not only_scope:
        scopes.add(GLOBAL_SCOPE)
    endpoints = (
        await session.execute(
            select(WebhookEndpoint.id, WebhookEndpoint.scope).where(
                WebhookEndpoint.scope.in_(scopes), WebhookEndpoint.disabled_at.is_(None)
            )
        )
    ).all()
    if not endpoints:
        return 0
    now = utcnow()
    rows = [
        _delivery(endpoint.id, event, now)
        for event in events
        for endpoint in endpoints
        if endpoint.scope == GLOBAL_SCOPE
        or (event.platform and endpoint.scope == scope_of(event.platform, event.community_id or ""))
    ]
    if rows:
        # A repeated state change must never fail the transaction it rides in: pairs recorded
        # already are skipped.
        table = WebhookDelivery.__table__
        await session.execute(insert_unless_present(session, table), rows)  # type: ignore[arg-type]
    return len(rows)


async def _any_endpoint(session: AsyncSession) -> bool:
    enabled = select(WebhookEndpoint.id).where(WebhookEndpoint.disabled_at.is_(None)).limit(1)
    return (await session.scalar(enabled)) is not None


def _delivery(endpoint_id: int, event: Event, now: datetime) -> dict[str, Any]:
    return {
        "endpoint_id": endpoint_id,
        "event_id": event.id,
        "event_type": event.type,
        "body": event.body(now),
        "state": "pending",
        "attempts": 0,
        "created_at": now,
        "next_at": now,
    }


# ----- the events of the core's state changes --------------------------------------------------


async def mints_ended(session: AsyncSession, request_ids: Iterable[int], kind: str) -> None:
    """`mint.confirmed` or `mint.failed` for these requests, as they are in `session` now."""
    ids = sorted(set(request_ids))
    if not ids or not await _any_endpoint(session):
        return  # most batches, with no webhook set up: no request is read for nothing
    # Only requests the change reached: a hook may name candidates its UPDATE skipped.
    phase = Phase.CONFIRMED if kind == MINT_CONFIRMED else Phase.FAILED
    rows = await session.scalars(
        select(MintRequest).where(MintRequest.id.in_(ids), MintRequest.phase == phase)
    )
    await record(session, [mint_event(kind, row) for row in rows])


def mint_event(kind: str, request: MintRequest) -> Event:
    data: dict[str, Any] = {
        "request_id": request.id,
        "platform": request.platform,
        "community_id": request.community_id,
        "requester_id": request.requester_id,
        "name": request.name,
        "token_id": decimal_token_id(request.token_id),
        "edition": request.edition,
        "contract": request.contract,
        "recipient": request.recipient,
        "metadata_cid": request.metadata_cid,
    }
    if kind == MINT_FAILED:
        data["reason"] = request.failure_reason
    return Event(kind, str(request.id), request.platform, request.community_id, data)


def decimal_token_id(token_id: str | None) -> str | None:
    """A uint256 token ID as the decimal string marketplaces and explorers show."""
    return str(int(token_id, 16)) if token_id else None


def drop_claimed(drop_id: int, platform: str, community_id: str, claim: dict[str, Any]) -> Event:
    """`drop.claimed` for one recorded claim (the `drop_claim` row's values); its mint
    request's ID names it, being unique per claim."""
    data = {
        "drop_id": drop_id,
        "platform": platform,
        "community_id": community_id,
        "user_id": claim["user_id"],
        "edition": claim["edition"],
        "request_id": claim["request_id"],
    }
    return Event(DROP_CLAIMED, str(claim["request_id"]), platform, community_id, data)


def drop_closed(
    drop_id: int, platform: str, community_id: str, closed_at: datetime, reason: str
) -> Event:
    """`drop.closed`: `reason` is how it ended (closed by an admin, sold out, its window
    ended; see `bot.webhooks.drop_ends`)."""
    data = {
        "drop_id": drop_id,
        "platform": platform,
        "community_id": community_id,
        "closed_at": aware_utc(closed_at).isoformat().replace("+00:00", "Z"),
        "reason": reason,
    }
    return Event(DROP_CLOSED, str(drop_id), platform, community_id, data)


def withdrawal_confirmed(withdrawal_id: int, to_address: str, request: MintRequest) -> Event:
    data = {
        "withdrawal_id": withdrawal_id,
        "platform": request.platform,
        "community_id": request.community_id,
        "request_id": request.id,
        "token_id": decimal_token_id(request.token_id),
        "edition": request.edition,
        "contract": request.contract,
        "to_address": to_address,
    }
    return Event(
        WITHDRAWAL_CONFIRMED, str(withdrawal_id), request.platform, request.community_id, data
    )
