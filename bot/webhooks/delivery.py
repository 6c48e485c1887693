"""The delivery worker: posts due outbox rows, signed, and records each outcome.

Several processes may run it on one database: a worker takes due rows by setting their lease
(`taken_until`) in one transaction (read under `FOR UPDATE SKIP LOCKED` on PostgreSQL, leased
by a conditional UPDATE), so each try belongs to one worker, and a dead worker's rows
are due again when its lease runs out. A failed try (an error status, a refused connection,
no answer within WEBHOOK_TIMEOUT_S) waits an exponential back-off with jitter, as long as the
event is younger than WEBHOOK_RETRY_WINDOW_S; past it the endpoint is disabled (its other
pending events with it) and the operators are told. Tries run side by side, at most IN_FLIGHT
per process and PER_ENDPOINT per endpoint, so one slow endpoint delays no other; each event's
tries are bounded by the retry window.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import aiohttp
from sqlalchemy import ColumnElement, or_, select, update
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
from bot.webhooks.vault import SecretBox, SecretUnreadable
from db.group_commit import GroupCommit
from db.models import WebhookDelivery, WebhookEndpoint, aware_utc, utcnow

log = logging.getLogger(__name__)

BATCH = 200  # rows looked at per look
IN_FLIGHT = 256  # tries under way at once, per process
PER_ENDPOINT = 64  # of which for one endpoint: a slow or hanging one holds up no other


@dataclass(frozen=True)
class Due:
    id: int
    endpoint_id: int
    event_id: str
    body: str
    attempts: int
    created_at: datetime
    url: str = field(repr=False)  # may carry credentials
    secret: str | None = field(repr=False)


class WebhookSender:
    """Posts the outbox's due deliveries until cancelled (`run`), or once (`deliver_due`)."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        settings: WebhookSettings,
        platforms: RunningPlatforms,
        box: SecretBox,
        *,
        shared: bool,
    ) -> None:
        self.sessions = sessions
        self.settings = settings
        self.box = box  # opens each endpoint's sealed secret to sign
        self.platforms = platforms
        self.shared = shared  # PostgreSQL: other processes may take rows too
        self.lease = timedelta(seconds=settings.timeout_s * 4 + 30)
        self._tries: set[asyncio.Future[None]] = set()
        self._busy: Counter[int] = Counter()  # tries under way per endpoint
        self._capped = False  # the last look left due rows for want of room
        self._freed = asyncio.Event()  # a try ended
        self._outcomes = GroupCommit[tuple[Due, str | None], bool](
            self._record, limit=BATCH, name="webhook outcomes"
        )

    async def run(self) -> None:
        """Look for due deliveries until cancelled: every WEBHOOK_POLL_S, or as soon as a try
        ends while more is due than there was room for. Each try runs on its own, so a slow
        endpoint delays no other; a failed look is logged and tried again at the next."""
        async with self._client() as client:
            try:
                while True:
                    taken, room = await self._look(client)
                    if self._capped or room == 0:  # more is due: look again once a try ends
                        self._freed.clear()
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(self._freed.wait(), self.settings.poll_s)
                    elif taken < room:
                        await asyncio.sleep(self.settings.poll_s)
            finally:
                for task in self._tries:
                    task.cancel()
                await asyncio.gather(*self._tries, return_exceptions=True)

    def _client(self) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(
            resolver=GuardedResolver(allow_loopback=self.settings.allow_loopback),
            limit=IN_FLIGHT,
        )
        timeout = aiohttp.ClientTimeout(total=self.settings.timeout_s)
        return aiohttp.ClientSession(connector=connector, timeout=timeout, trust_env=False)

    async def deliver_due(self, client: aiohttp.ClientSession) -> int:
        """Take the due rows there is room for, try each once and wait for the outcomes; how
        many were taken."""
        taken, _ = await self._look(client)
        await asyncio.gather(*self._tries)
        return taken

    async def _look(self, client: aiohttp.ClientSession) -> tuple[int, int]:
        """Start a try of each due row there is room for; (rows taken, room there was)."""
        room = IN_FLIGHT - len(self._tries)
        self._capped = False
        if room <= 0:
            return 0, 0
        try:
            due = await self._take(room)
        except Exception:  # a database hiccup must not end delivery for good
            log.warning("webhook delivery look failed", exc_info=True)
            return 0, room
        for row in due:
            self._busy[row.endpoint_id] += 1
            task = asyncio.ensure_future(self._try(client, row))
            self._tries.add(task)
            task.add_done_callback(functools.partial(self._ended, row.endpoint_id))
        return len(due), room

    def _ended(self, endpoint_id: int, task: asyncio.Future[None]) -> None:
        self._tries.discard(task)
        self._freed.set()
        self._busy[endpoint_id] -= 1
        if self._busy[endpoint_id] <= 0:
            del self._busy[endpoint_id]

    async def _take(self, room: int) -> list[Due]:
        """Lease up to `room` due rows, at most PER_ENDPOINT under way per endpoint."""
        now = utcnow()
        full = [e for e, n in self._busy.items() if n >= PER_ENDPOINT]
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
                    _free(now),
                    WebhookEndpoint.disabled_at.is_(None),
                    WebhookEndpoint.id.not_in(full),
                )
                .order_by(WebhookDelivery.next_at)
                .limit(BATCH)
            )
            if self.shared:
                query = query.with_for_update(of=WebhookDelivery, skip_locked=True)
            candidates = [Due(*row) for row in (await session.execute(query)).all()]
            picked = self._fit(candidates, room)
            self._capped = len(picked) < len(candidates)
            if not picked:
                return []
            # Conditional: of workers that read the same rows (SQLite takes no row locks), the
            # first to write leases them and the others find them taken.
            leased = await session.execute(
                update(WebhookDelivery)
                .where(WebhookDelivery.id.in_([r.id for r in picked]), _free(now))
                .values(taken_until=now + self.lease)
                .returning(WebhookDelivery.id)
            )
            mine = set(leased.scalars())
        return [r for r in picked if r.id in mine]

    def _fit(self, candidates: list[Due], room: int) -> list[Due]:
        picked: list[Due] = []
        busy = Counter(self._busy)
        for row in candidates:
            if len(picked) == room:
                break
            if busy[row.endpoint_id] < PER_ENDPOINT:
                busy[row.endpoint_id] += 1
                picked.append(row)
        return picked

    async def _try(self, client: aiohttp.ClientSession, row: Due) -> None:
        error = await self._post(client, row)
        try:
            disabled = await self._outcomes.submit((row, error))
        except Exception:  # unrecorded: the lease runs out and the row is tried again
            log.warning("recording webhook delivery %d failed", row.id, exc_info=True)
            return
        if disabled:
            assert error is not None
            await self._alert(row, row.attempts + 1, error)

    async def _post(self, client: aiohttp.ClientSession, row: Due) -> str | None:
        """One signed POST; None if the endpoint took it (2xx), else why not (no URL in it)."""
        try:
            secret = self._secret(row)
        except SecretUnreadable:
            return "its signing secret does not open with this WEBHOOK_STORE_SECRET"
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
        except Exception as err:  # anything else fails this try alone, within the window
            log.warning("webhook try of %s failed unexpectedly", row.event_id, exc_info=True)
            return f"unexpected {type(err).__name__}"

    def _secret(self, row: Due) -> str | None:
        """A community endpoint's own secret, opened; a global one's is WEBHOOK_SECRET."""
        if row.secret is not None:
            return self.box.open(row.secret)
        return self.settings.secret.reveal() if self.settings.secret else None

    async def _record(self, outcomes: list[tuple[Due, str | None]]) -> list[bool]:
        """Record a group of tries' outcomes in one transaction (a burst of answers costs a
        few commits, not one each); per try, whether it disabled its endpoint."""
        now = utcnow()
        delivered = [row.id for row, error in outcomes if error is None]
        disabled: list[bool] = []
        async with self.sessions.begin() as session:
            if delivered:
                await session.execute(
                    update(WebhookDelivery)
                    .where(WebhookDelivery.id.in_(delivered))
                    .values(
                        state="delivered",
                        attempts=WebhookDelivery.attempts + 1,
                        delivered_at=now,
                        taken_until=None,
                        last_error=None,
                    )
                )
            for row, error in outcomes:
                disabled.append(error is not None and await self._failed(session, row, error, now))
        return disabled

    async def _failed(self, session: AsyncSession, row: Due, error: str, now: datetime) -> bool:
        """The next try's time; past the retry window, the endpoint disabled (True if by this
        try)."""
        attempts = row.attempts + 1
        next_at = now + timedelta(seconds=self.backoff(attempts))
        deadline = aware_utc(row.created_at) + timedelta(seconds=self.settings.retry_window_s)
        await session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id == row.id)
            .values(attempts=attempts, next_at=next_at, taken_until=None, last_error=error[:300])
        )
        return next_at > deadline and await _disable(session, row.endpoint_id, error)

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


def _free(now: datetime) -> ColumnElement[bool]:
    """Not leased, or its lease ran out (its worker died)."""
    return or_(WebhookDelivery.taken_until.is_(None), WebhookDelivery.taken_until < now)


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
