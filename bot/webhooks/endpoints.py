"""A community's webhook endpoints, as its admins manage them (`webhook add|remove|test`), and
the global ones from WEBHOOK_URLS. Each community endpoint gets its own secret, returned once
by `add` for the admin to copy; it is kept only for signing and never shown again."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.errors import RequestRejected
from bot.i18n import N_, _, ngettext
from bot.webhooks.outbox import WEBHOOK_TEST, Event, record, scope_of
from bot.webhooks.signing import new_secret
from bot.webhooks.targets import check_host, check_url, described, host_of
from bot.webhooks.vault import SecretBox
from db.models import GLOBAL_SCOPE, WebhookDelivery, WebhookEndpoint, utcnow

log = logging.getLogger(__name__)

MAX_PER_COMMUNITY = 5
EVENTS = "mint.confirmed, mint.failed, drop.claimed, drop.closed, withdrawal.confirmed"


@dataclass(frozen=True)
class EndpointView:
    id: int
    shown_url: str  # without credentials
    disabled: bool
    disabled_reason: str | None

    def line(self) -> str:
        """In the current locale; the reason a delivery failed stays as recorded (English)."""
        if self.disabled:
            state = _("disabled ({reason})").format(reason=self.disabled_reason)
        else:
            state = _("enabled")
        return f"#{self.id} {self.shown_url}: {state}"


@dataclass(frozen=True)
class Added:
    endpoint: EndpointView
    secret: str  # shown to the admin once


class WebhookEndpoints:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], box: SecretBox, *, allow_loopback: bool
    ) -> None:
        self.sessions = sessions
        self.box = box  # seals each endpoint's secret before it is stored
        self.allow_loopback = allow_loopback

    async def add(self, platform: str, community_id: str, url: str, created_by: str) -> Added:
        """Add an endpoint for the community's events, with a new secret. Raises
        RequestRejected for a URL webhooks may not go to, a URL added already, or too many."""
        url = check_url(url)
        check_host(host_of(url), allow_loopback=self.allow_loopback)
        scope = scope_of(platform, community_id)
        secret = new_secret()
        try:
            async with self.sessions.begin() as session:
                count = await session.scalar(
                    select(func.count())
                    .select_from(WebhookEndpoint)
                    .where(WebhookEndpoint.scope == scope)
                )
                if (count or 0) >= MAX_PER_COMMUNITY:
                    raise RequestRejected(
                        N_("A community has at most {most} webhook endpoints: remove one first."),
                        most=MAX_PER_COMMUNITY,
                    )
                endpoint = WebhookEndpoint(
                    scope=scope, url=url, secret=self.box.seal(secret), created_by=created_by
                )
                session.add(endpoint)
                await session.flush()
                view = _view(endpoint)
        except IntegrityError:
            raise RequestRejected(
                N_("That URL is added already: remove it first to get a new secret.")
            ) from None
        return Added(view, secret)

    async def remove(self, platform: str, community_id: str, endpoint_id: int) -> EndpointView:
        """Remove one of the community's endpoints, with its undelivered events."""
        async with self.sessions.begin() as session:
            endpoint = await session.scalar(
                select(WebhookEndpoint).where(
                    WebhookEndpoint.id == endpoint_id,
                    WebhookEndpoint.scope == scope_of(platform, community_id),
                )
            )
            if endpoint is None:
                raise RequestRejected(
                    N_("This community has no webhook endpoint #{number}."), number=endpoint_id
                )
            view = _view(endpoint)
            await _delete(session, [endpoint.id])
        return view

    async def listed(self, platform: str, community_id: str) -> list[EndpointView]:
        async with self.sessions() as session:
            found = await session.scalars(
                select(WebhookEndpoint)
                .where(WebhookEndpoint.scope == scope_of(platform, community_id))
                .order_by(WebhookEndpoint.id)
            )
            return [_view(e) for e in found]

    async def test(self, platform: str, community_id: str, asked_by: str) -> int:
        """Queue a `webhook.test` event for each enabled endpoint of the community; how many."""
        now = utcnow()
        event = Event(
            WEBHOOK_TEST,
            f"{platform}_{community_id}_{int(now.timestamp())}_{secrets.token_hex(4)}",
            platform,
            community_id,
            {"platform": platform, "community_id": community_id, "asked_by": asked_by},
        )
        async with self.sessions.begin() as session:
            queued = await record(session, [event], only_scope=True)
        if not queued:
            raise RequestRejected(N_("This community has no webhook endpoint that is on."))
        return queued

    async def sync_global(self, urls: tuple[str, ...]) -> None:
        """Make the global endpoints those of WEBHOOK_URLS: add new ones, enable listed ones
        (a restart after fixing one brings it back), delete the others."""
        try:
            async with self.sessions.begin() as session:
                await self._sync_global(session, urls)
        except IntegrityError:  # another process added the same URL meanwhile: it is there
            log.info("another process added a WEBHOOK_URLS endpoint first")

    async def _sync_global(self, session: AsyncSession, urls: tuple[str, ...]) -> None:
        known = {
            e.url: e
            for e in await session.scalars(
                select(WebhookEndpoint).where(WebhookEndpoint.scope == GLOBAL_SCOPE)
            )
        }
        for url in urls:
            if url in known:
                known[url].disabled_at = known[url].disabled_reason = None
            else:
                session.add(WebhookEndpoint(scope=GLOBAL_SCOPE, url=url, secret=None))
        gone = [e.id for url, e in known.items() if url not in urls]
        await _delete(session, gone)


async def _delete(session: AsyncSession, endpoint_ids: list[int]) -> None:
    # Deliveries first: SQLite enforces no ON DELETE CASCADE unless told to.
    if endpoint_ids:
        await session.execute(
            delete(WebhookDelivery).where(WebhookDelivery.endpoint_id.in_(endpoint_ids))
        )
        await session.execute(delete(WebhookEndpoint).where(WebhookEndpoint.id.in_(endpoint_ids)))


def _view(endpoint: WebhookEndpoint) -> EndpointView:
    return EndpointView(
        endpoint.id,
        described(endpoint.url),
        endpoint.disabled_at is not None,
        endpoint.disabled_reason,
    )


def added_lines(added: Added) -> tuple[str, str, str]:
    """What an admin is told when an endpoint is added: the line naming it, the secret (for
    the platform to set in code), and how to use it. Shown once, to that admin only, in their
    language (event and header names stay as they are sent)."""
    return (
        _(
            "Webhook #{number} added: {url} receives this community's events ({events}). "
            "Its signing secret, shown only this once:"
        ).format(number=added.endpoint.id, url=added.endpoint.shown_url, events=EVENTS),
        added.secret,
        _(
            "Check each request's {header} with it (Standard Webhooks). "
            "Lost it? Remove the webhook and add it again."
        ).format(header="webhook-signature"),
    )


def removed_line(gone: EndpointView) -> str:
    """What an admin is told when an endpoint is removed."""
    return _("Webhook #{number} removed: {url} receives no more events.").format(
        number=gone.id, url=gone.shown_url
    )


def queued_line(queued: int) -> str:
    """What an admin is told when `webhook.test` events are queued. The English forms are one
    (as admins have always read it); the catalogues give each language its own."""
    return ngettext(
        "A {event} event is on its way to {count} webhook(s).",
        "A {event} event is on its way to {count} webhook(s).",
        queued,
    ).format(event=WEBHOOK_TEST, count=queued)
