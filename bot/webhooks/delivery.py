"""The delivery worker: posts due outbox rows, signed, and records each outcome.

Several processes may run it on one database: a worker takes a batch of due rows by setting
their lease (`taken_until`) in one transaction (under `FOR UPDATE SKIP LOCKED` on PostgreSQL;
SQLite has one writer at a time), so each try belongs to one worker, and a dead worker's rows
are due again when its lease runs out. A failed try (an error status, a refused connection,
no answer within WEBHOOK_TIMEOUT_S) waits an exponential back-off with jitter, as long as the
event is younger than WEBHOOK_RETRY_WINDOW_S; past it the endpoint is disabled (its other
pending events with it) and the operators are told. Every loop here is bounded by a batch
size, a semaphore or the retry window.
"""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

import aiohttp
from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.ports import RunningPlatforms
from bot.redact import redact_urls
from bot.webhooks.settings import WebhookSettings
from bot.webhooks.signing import signed_headers
from bot.webhooks.targets import (
    GuardedResolver,
    TargetRefused,
    check_host,
    described,
    host_of,
)
from db.models import WebhookDelivery, WebhookEndpoint, aware_utc, utcnow

log = logging.getLogger(__name__)

BATCH = 200  # rows taken per look
CONCURRENCY = 64  # tries in flight at once, per process


@dataclass(frozen=True)
class Due:
    id: int
    endpoint_id: int
    event_id: str
    body: str
    attempts: int
    created_at: datetime
    url: str
    secret: str | None


class WebhookSender:
    """Posts the outbox's due deliveries until cancelled (`run`), or once (`deliver_due`)."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        settings: WebhookSettings,
        platforms: RunningPlatforms,
        *,
        shared: bool,
    ) -> None:
        self.sessions = sessions
        self.settings = settings
        self.platforms = platforms
        self.shared = shared  # PostgreSQL: other processes may take rows too
        self.lease = timedelta(seconds=settings.timeout_s * 4 + 30)
        self._limit = asyncio.Semaphore(CONCURRENCY)

    async def run(self) -> None:
        """Look for due deliveries every WEBHOOK_POLL_S until cancelled; a failed look is
        logged and tried again at the next."""
        async with self._client() as client:
            while True:
                try:
                    taken = await self.deliver_due(client)
                except Exception:  # a database hiccup must not end delivery for good
                    log.warning("webhook delivery look failed", exc_info=True)
                    taken = 0
                if taken < BATCH:
                    await asyncio.sleep(self.settings.poll_s)

    def _client(self) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(
            resolver=GuardedResolver(allow_loopback=self.settings.allow_loopback),
            limit=CONCURRENCY,
        )
        timeout = aiohttp.ClientTimeout(total=self.settings.timeout_s)
        return aiohttp.ClientSession(connector=connector, timeout=timeout, trust_env=False)

    async def deliver_due(self, client: aiohttp.ClientSession) -> int:
        """Take up to BATCH due rows and try each once; how many were taken."""
        due = await self._take()
        await asyncio.gather(*(self._try(client, row) for row in due))
        return len(due)

    async def _take(self) -> list[Due]:
        now = utcnow()
        async with self.sessions.begin() as session:
            query = (
                select(
                    WebhookDelivery.id,
                    WebhookDelivery.endpoint_id,
                    WebhookDelivery.event_id,
                    WebhookDelivery.body,
                    WebhookDelivery.attempts,
                    WebhookDelivery.created_at,
                    WebhookEndpoint.url,
                    WebhookEndpoint.secret,
                )
                .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
                .where(
                    WebhookDelivery.state == "pending",
                    WebhookDelivery.next_at <= now,
                    or_(WebhookDelivery.taken_until.is_(None), WebhookDelivery.taken_until < now),
                    WebhookEndpoint.disabled_at.is_(None),
                )
                .order_by(WebhookDelivery.next_at)
                .limit(BATCH)
            )
            if self.shared:
                query = query.with_for_update(of=WebhookDelivery, skip_locked=True)
            rows = [Due(*row) for row in (await session.execute(query)).all()]
            if rows:
                await session.execute(
                    update(WebhookDelivery)
                    .where(WebhookDelivery.id.in_([r.id for r in rows]))
                    .values(taken_until=now + self.lease)
                )
        return rows

    async def _try(self, client: aiohttp.ClientSession, row: Due) -> None:
        async with self._limit:
            error = await self._post(client, row)
        if error is None:
            await self._delivered(row)
        else:
            await self._failed(row, error)

    async def _post(self, client: aiohttp.ClientSession, row: Due) -> str | None:
        """One signed POST; None if the endpoint took it (2xx), else why not (no URL in it)."""
        secret = row.secret or (self.settings.secret.reveal() if self.settings.secret else None)
        if secret is None:
            return "no signing secret (WEBHOOK_SECRET is not set)"
        body = row.body.encode()
        headers = signed_headers(secret, row.event_id, int(utcnow().timestamp()), body)
        try:
            check_host(host_of(row.url), allow_loopback=self.settings.allow_loopback)
            async with client.post(
                row.url, data=body, headers=headers, allow_redirects=False
            ) as response:
                await response.content.read(1024)  # the answer's start, and no more
                if 200 <= response.status < 300:
                    return None
                return f"HTTP {response.status}"
        except TargetRefused as err:
            return str(err)
        except TimeoutError:
            return f"no answer within {self.settings.timeout_s:g} s"
        except aiohttp.ClientError as err:
            return redact_urls(f"{type(err).__name__}: {err}")[:200]

    async def _delivered(self, row: Due) -> None:
        async with self.sessions.begin() as session:
            await session.execute(
                update(WebhookDelivery)
                .where(WebhookDelivery.id == row.id)
                .values(
                    state="delivered",
                    attempts=row.attempts + 1,
                    delivered_at=utcnow(),
                    taken_until=None,
                    last_error=None,
                )
            )

    async def _failed(self, row: Due, error: str) -> None:
        now = utcnow()
        attempts = row.attempts + 1
        next_at = now + timedelta(seconds=self.backoff(attempts))
        deadline = aware_utc(row.created_at) + timedelta(seconds=self.settings.retry_window_s)
        async with self.sessions.begin() as session:
            await session.execute(
                update(WebhookDelivery)
                .where(WebhookDelivery.id == row.id)
                .values(
                    attempts=attempts, next_at=next_at, taken_until=None, last_error=error[:300]
                )
            )
            if next_at <= deadline:
                return
            disabled = await _disable(session, row.endpoint_id, error)
        if disabled:
            await self._alert(row, attempts, error)

    def backoff(self, attempts: int) -> float:
        """The wait after the `attempts`th failed try: doubling from WEBHOOK_RETRY_BASE_S up
        to WEBHOOK_RETRY_MAX_S, each a random 50-100 % of that (so endpoints that failed
        together are not all tried again at once)."""
        step = min(
            self.settings.retry_max_s, self.settings.retry_base_s * 2 ** min(attempts - 1, 40)
        )
        jitter: float = random.uniform(0.5, 1.0)  # noqa: S311 (spreading load, not a secret)
        return float(step) * jitter

    async def _alert(self, row: Due, attempts: int, error: str) -> None:
        text = (
            f"⚠️ Webhook endpoint #{row.endpoint_id} ({described(row.url)}) is disabled: "
            f"event {row.event_id} failed {attempts} times over "
            f"{self.settings.retry_window_s / 3600:g} h (last: {error}). "
            "Its admins can add it again once it answers."
        )
        log.warning("%s", text)
        for platform in list(self.platforms):
            try:
                await platform.tell_admins(text)
            except Exception:  # one platform's failure must not keep the alert from the others
                log.warning("telling %s's admins failed", platform.name, exc_info=True)


async def _disable(session: AsyncSession, endpoint_id: int, error: str) -> bool:
    """Disable the endpoint and give up its pending events; False if it already was."""
    changed = await session.execute(
        update(WebhookEndpoint)
        .where(WebhookEndpoint.id == endpoint_id, WebhookEndpoint.disabled_at.is_(None))
        .values(disabled_at=utcnow(), disabled_reason=error[:300])
    )
    await session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.endpoint_id == endpoint_id, WebhookDelivery.state == "pending")
        .values(state="failed", taken_until=None)
    )
    return bool(getattr(changed, "rowcount", 0))
