"""Signed webhooks without a chain: signatures the reference library accepts, delivery from
the outbox to a receiver on 127.0.0.1 that verifies them (retries with back-off, the timeout,
disabling and the alert after persistent failure), the outbox row riding in its state
change's transaction, and the targets webhooks may not go to."""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import AsyncIterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from bot.errors import RequestRejected
from bot.ports import RunningPlatforms
from bot.webhooks.delivery import WebhookSender
from bot.webhooks.endpoints import WebhookEndpoints
from bot.webhooks.outbox import MINT_CONFIRMED, mints_ended
from bot.webhooks.settings import WebhookSettings
from bot.webhooks.signing import new_secret, signed_headers
from bot.webhooks.targets import GuardedResolver, TargetRefused
from bot.webhooks.vault import SecretBox
from db.engine import create_db_engine, session_factory
from db.models import MintRequest, Phase, WebhookDelivery, WebhookEndpoint
from tests.platform_stub import RecordingPlatform
from tests.webhook_receiver import receiving

BOX = SecretBox(b"the test's store key")
FAST = WebhookSettings(
    allow_loopback=True, timeout_s=0.5, retry_base_s=0.02, retry_max_s=0.1, poll_s=0.02
)


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_db_engine(database_url)
    yield session_factory(engine)
    await engine.dispose()


async def mint_row(sessions: async_sessionmaker[AsyncSession], n: int, phase: Phase) -> int:
    async with sessions.begin() as session:
        row = MintRequest(
            platform="test",
            chat_id="chat",
            message_id=str(n),
            fingerprint="f" * 64,
            requester_id="u1",
            community_id="guild",
            name=f"Art {n}",
            upload_digest="d" * 64,
            phase=phase,
            token_id=f"0x{n:064x}",
        )
        session.add(row)
        await session.flush()
        return row.id


async def confirm(sessions: async_sessionmaker[AsyncSession], request_id: int) -> None:
    """The state change the batcher makes, with its hook, in one transaction."""
    async with sessions.begin() as session:
        await session.execute(
            update(MintRequest).where(MintRequest.id == request_id).values(phase=Phase.CONFIRMED)
        )
        await mints_ended(session, [request_id], MINT_CONFIRMED)


async def deliveries(sessions: async_sessionmaker[AsyncSession]) -> list[WebhookDelivery]:
    async with sessions() as session:
        return list(await session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)))


async def until(check: Any, timeout: float = 15) -> None:
    import asyncio

    async with asyncio.timeout(timeout):
        while not await check():
            await asyncio.sleep(0.02)


def sender(
    sessions: async_sessionmaker[AsyncSession],
    platforms: RunningPlatforms | None = None,
    **more: Any,
) -> WebhookSender:
    settings = dataclasses.replace(FAST, **more)
    return WebhookSender(sessions, settings, platforms or RunningPlatforms(), BOX, shared=False)


# ----- signatures ------------------------------------------------------------------------------


def test_signatures_verify_with_the_reference_library_and_tampering_does_not() -> None:
    secret = new_secret()
    assert secret.startswith("whsec_") and len(base64.b64decode(secret[6:])) == 32
    body = b'{"id":"evt_mint_confirmed_1","type":"mint.confirmed"}'
    import time

    headers = signed_headers(secret, "evt_mint_confirmed_1", int(time.time()), body)
    assert Webhook(secret).verify(body, headers)["type"] == "mint.confirmed"
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body.replace(b"confirmed", b"failed"), headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(body, headers)
    stale = signed_headers(secret, "evt_mint_confirmed_1", int(time.time()) - 3600, body)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body, stale)


# ----- delivery --------------------------------------------------------------------------------


@pytest.mark.db
async def test_an_event_reaches_community_and_global_endpoints_signed_once_each(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    endpoints = WebhookEndpoints(sessions, BOX, allow_loopback=True)
    global_secret = new_secret()
    async with receiving(global_secret) as everyone:
        added = await endpoints.add("test", "guild", "http://127.0.0.1:1/unused", "admin")
        async with receiving(added.secret) as community:
            async with sessions.begin() as session:  # the admin's URL, moved to the receiver
                await session.execute(
                    update(WebhookEndpoint)
                    .where(WebhookEndpoint.id == added.endpoint.id)
                    .values(url=community.url)
                )
            await endpoints.sync_global((everyone.url,))
            other = await endpoints.add("test", "elsewhere", "http://127.0.0.1:2/x", "admin")
            request_id = await mint_row(sessions, 1, Phase.SENT)
            await confirm(sessions, request_id)
            settings = dataclasses.replace(FAST, secret=_secret(global_secret))
            worker = WebhookSender(sessions, settings, RunningPlatforms(), BOX, shared=False)
            async with worker._client() as client:
                assert await worker.deliver_due(client) == 2
    event_id = f"evt_mint_confirmed_{request_id}"
    for receiver in (everyone, community):
        assert receiver.accepted == {event_id: 1} and receiver.refused == 0
        body = receiver.bodies[event_id]
        assert body["type"] == "mint.confirmed" and body["data"]["request_id"] == request_id
        assert body["data"]["token_id"] == "1"
    assert all(d.endpoint_id != other.endpoint.id for d in await deliveries(sessions))
    assert [d.state for d in await deliveries(sessions)] == ["delivered", "delivered"]


@pytest.mark.db
async def test_a_failing_receiver_gets_retries_with_back_off_until_it_recovers(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    endpoints = WebhookEndpoints(sessions, BOX, allow_loopback=True)
    import asyncio

    added = await endpoints.add("test", "guild", "http://127.0.0.1:9/hook", "admin")
    async with receiving(added.secret, failing=True) as receiver:
        await _point(sessions, added.endpoint.id, receiver.url)
        await confirm(sessions, await mint_row(sessions, 2, Phase.SENT))
        task = asyncio.ensure_future(sender(sessions).run())
        try:
            await receiver.wait_for(lambda: sum(receiver.tries.values()) >= 3)
            (row,) = await deliveries(sessions)
            assert row.state == "pending" and row.attempts >= 2 and row.last_error == "HTTP 500"
            receiver.failing = False
            await receiver.wait_for(lambda: receiver.accepted)
            await until(lambda: _states(sessions, "delivered"))
        finally:
            task.cancel()
    (event_id,) = receiver.tries
    assert receiver.tries[event_id] >= 4 and receiver.accepted[event_id] == 1
    # Back-off doubles from the base (each wait a random 50-100 % of its step), capped.
    worker = sender(sessions)
    assert all(0.01 <= worker.backoff(n) <= 0.02 * 2 ** (n - 1) for n in (1, 2, 3))
    assert all(0.05 <= worker.backoff(n) <= 0.1 for n in (10, 60, 500))


@pytest.mark.db
async def test_a_hanging_receiver_is_cut_at_the_timeout_and_tried_again(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    endpoints = WebhookEndpoints(sessions, BOX, allow_loopback=True)
    added = await endpoints.add("test", "guild", "http://127.0.0.1:9/hook", "admin")
    async with receiving(added.secret, hang_s=30) as receiver:
        await _point(sessions, added.endpoint.id, receiver.url)
        await confirm(sessions, await mint_row(sessions, 3, Phase.SENT))
        worker = sender(sessions, timeout_s=0.2)
        async with worker._client() as client:
            await worker.deliver_due(client)
            (row,) = await deliveries(sessions)
            assert row.state == "pending" and row.last_error == "no answer within 0.2 s"
            receiver.hang_s = 0
            await until(lambda: _due(sessions))
            await worker.deliver_due(client)
    assert [d.state for d in await deliveries(sessions)] == ["delivered"]
    assert sum(receiver.tries.values()) == 2


@pytest.mark.db
async def test_a_hanging_endpoint_holds_up_no_other(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    import asyncio

    endpoints = WebhookEndpoints(sessions, BOX, allow_loopback=True)
    stuck = await endpoints.add("test", "stuck", "http://127.0.0.1:9/a", "admin")
    fine = await endpoints.add("test", "guild", "http://127.0.0.1:9/b", "admin")
    async with (
        receiving(stuck.secret, hang_s=60) as hanging,
        receiving(fine.secret) as answering,
    ):
        await _point(sessions, stuck.endpoint.id, hanging.url)
        await _point(sessions, fine.endpoint.id, answering.url)
        for n in range(10, 13):
            request_id = await mint_row(sessions, n, Phase.SENT)
            async with sessions.begin() as session:
                await session.execute(
                    update(MintRequest)
                    .where(MintRequest.id == request_id)
                    .values(community_id="stuck")
                )
            await confirm(sessions, request_id)
        task = asyncio.ensure_future(sender(sessions, timeout_s=60).run())
        try:
            await hanging.wait_for(lambda: len(hanging.tries) == 3)
            # Events of another endpoint, recorded while those hang, go out meanwhile.
            for n in range(13, 16):
                await confirm(sessions, await mint_row(sessions, n, Phase.SENT))
            await answering.wait_for(lambda: len(answering.accepted) == 3)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    assert not hanging.accepted


@pytest.mark.db
async def test_two_workers_on_one_database_send_each_event_once(
    sessions: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    """Like two processes: each worker has its own engine (connections); the leases decide."""
    import asyncio

    endpoints = WebhookEndpoints(sessions, BOX, allow_loopback=True)
    added = await endpoints.add("test", "guild", "http://127.0.0.1:9/hook", "admin")
    other_engine = create_db_engine(database_url)
    async with receiving(added.secret) as receiver:
        await _point(sessions, added.endpoint.id, receiver.url)
        for n in range(20, 80):
            await confirm(sessions, await mint_row(sessions, n, Phase.SENT))
        shared = "postgresql" in database_url
        workers = [
            WebhookSender(sessions, FAST, RunningPlatforms(), BOX, shared=shared),
            WebhookSender(
                session_factory(other_engine), FAST, RunningPlatforms(), BOX, shared=shared
            ),
        ]
        tasks = [asyncio.ensure_future(w.run()) for w in workers]
        try:
            await receiver.wait_for(lambda: len(receiver.accepted) == 60)
            await until(lambda: _states(sessions, "delivered"))
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await other_engine.dispose()
    assert set(receiver.tries.values()) == {1} and receiver.duplicates == 0


@pytest.mark.db
async def test_persistent_failure_disables_the_endpoint_and_alerts_the_admins(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    import asyncio

    platforms = RunningPlatforms()
    admins = RecordingPlatform("test", _ignore)
    platforms.add(admins)  # type: ignore[arg-type]
    endpoints = WebhookEndpoints(sessions, BOX, allow_loopback=True)
    added = await endpoints.add(
        "test", "guild", "http://127.0.0.1:9/hook?token=abcdefABCDEF123456", "admin"
    )
    async with receiving(added.secret, failing=True) as receiver:
        await _point(sessions, added.endpoint.id, receiver.url + "?token=abcdefABCDEF123456")
        await confirm(sessions, await mint_row(sessions, 4, Phase.SENT))
        await confirm(sessions, await mint_row(sessions, 5, Phase.SENT))
        task = asyncio.ensure_future(sender(sessions, platforms, retry_window_s=0.3).run())
        try:
            await until(lambda: _disabled(sessions))
            await until(lambda: _true(bool(admins.admins_told)))
        finally:
            task.cancel()
        tries = sum(receiver.tries.values())
    (view,) = await endpoints.listed("test", "guild")
    assert view.disabled and view.disabled_reason == "HTTP 500"
    assert {d.state for d in await deliveries(sessions)} == {"failed"}
    (alert,) = admins.admins_told
    assert f"#{added.endpoint.id}" in alert and "disabled" in alert
    assert "abcdefABCDEF123456" not in alert  # the URL's credential is never shown
    assert tries >= 2
    # A disabled endpoint records no new events.
    await confirm(sessions, await mint_row(sessions, 6, Phase.SENT))
    assert len(await deliveries(sessions)) == 2


@pytest.mark.db
async def test_a_state_change_rolled_back_leaves_no_event(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    endpoints = WebhookEndpoints(sessions, BOX, allow_loopback=True)
    await endpoints.add("test", "guild", "http://127.0.0.1:9/hook", "admin")
    request_id = await mint_row(sessions, 7, Phase.SENT)
    with pytest.raises(RuntimeError):
        async with sessions.begin() as session:
            await session.execute(
                update(MintRequest)
                .where(MintRequest.id == request_id)
                .values(phase=Phase.CONFIRMED)
            )
            await mints_ended(session, [request_id], MINT_CONFIRMED)
            assert len(list(await session.scalars(select(WebhookDelivery)))) == 1
            raise RuntimeError("the transaction fails after the hook")
    assert await deliveries(sessions) == []
    await confirm(sessions, request_id)
    await confirm(sessions, request_id)  # the same change reported again adds nothing
    (row,) = await deliveries(sessions)
    assert row.event_id == f"evt_mint_confirmed_{request_id}"


# ----- targets ---------------------------------------------------------------------------------

REFUSED = [
    "http://127.0.0.1:8080/hook",
    "http://localhost/hook",
    "http://[::1]/hook",
    "http://10.1.2.3/hook",
    "http://192.168.0.10/hook",
    "http://172.16.5.4/hook",
    "http://169.254.169.254/latest/meta-data",
    "http://[fd00::1]/hook",
    "http://[::ffff:10.0.0.1]/hook",
    "http://0.0.0.0/hook",
    "http://224.0.0.1/hook",
    "http://100.64.0.1/hook",
    "ftp://example.com/hook",
    "file:///etc/passwd",
    "gopher://example.com",
    "https:///nohost",
    "not a url",
]


@pytest.mark.db
async def test_loopback_and_private_targets_are_refused_without_the_setting(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    strict = WebhookEndpoints(sessions, BOX, allow_loopback=False)
    for url in REFUSED:
        with pytest.raises(RequestRejected):
            await strict.add("test", "guild", url, "admin")
    assert await strict.listed("test", "guild") == []
    loose = WebhookEndpoints(sessions, BOX, allow_loopback=True)
    await loose.add("test", "guild", "http://127.0.0.1:8080/hook", "admin")
    with pytest.raises(RequestRejected):  # the setting allows loopback, nothing else
        await loose.add("test", "guild", "http://10.1.2.3/hook", "admin")


@pytest.mark.db
async def test_a_name_that_resolves_inside_is_refused_at_delivery(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """An endpoint whose name points at loopback by the time of delivery gets nothing: the
    addresses are checked as they are resolved for the connection."""
    secret = new_secret()
    async with receiving(secret) as receiver:
        port = receiver.url.split(":")[2].split("/")[0]
        async with sessions.begin() as session:
            session.add(
                WebhookEndpoint(
                    scope="test:guild",
                    url=f"http://localhost.:{port}/hook",
                    secret=BOX.seal(secret),
                )
            )
        await confirm(sessions, await mint_row(sessions, 8, Phase.SENT))
        worker = sender(sessions, allow_loopback=False)
        async with worker._client() as client:
            await worker.deliver_due(client)
    (row,) = await deliveries(sessions)
    assert row.state == "pending" and "loopback" in (row.last_error or "")
    assert not receiver.tries
    # Whatever the name, the addresses it resolves to decide.
    with pytest.raises(TargetRefused, match="resolves to a loopback address"):
        await GuardedResolver(allow_loopback=False).resolve("localhost", 80)
    assert await GuardedResolver(allow_loopback=True).resolve("localhost", 80)


HOSTILE_URLS = st.one_of(
    st.text(max_size=300),
    st.builds(
        lambda scheme, host, rest: f"{scheme}://{host}{rest}",
        st.sampled_from(["http", "https", "HTTP", "javascript", "", "http:"]),
        st.text(max_size=80),
        st.text(max_size=80),
    ),
    st.sampled_from([*REFUSED, "http://[::1", "http://a:99999/", "http://%00/", "http://\u202e/"]),
)


@pytest.mark.db
@given(urls=st.lists(HOSTILE_URLS, min_size=1, max_size=4))
async def test_any_hostile_url_fails_only_its_own_command(
    sessions: async_sessionmaker[AsyncSession], urls: list[str]
) -> None:
    endpoints = WebhookEndpoints(sessions, BOX, allow_loopback=False)
    for url in urls:
        try:
            added = await endpoints.add("test", "hostile", url, "admin")
        except RequestRejected as refused:
            assert len(str(refused)) < 400
        else:
            await endpoints.remove("test", "hostile", added.endpoint.id)
    # The next admin's good URL still works.
    added = await endpoints.add("test", "hostile", "https://hooks.example.com/in", "admin")
    await endpoints.remove("test", "hostile", added.endpoint.id)


# ----- helpers ---------------------------------------------------------------------------------


def _secret(value: str) -> Any:
    from bot.env_values import Secret

    return Secret(value)


async def _ignore(_result: object) -> None:
    return None


async def _true(value: bool) -> bool:
    return value


async def _point(sessions: async_sessionmaker[AsyncSession], endpoint_id: int, url: str) -> None:
    """Point an endpoint at the receiver (whose port is known only once it listens)."""
    async with sessions.begin() as session:
        await session.execute(
            update(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id).values(url=url)
        )


async def _states(sessions: async_sessionmaker[AsyncSession], state: str) -> bool:
    return all(d.state == state for d in await deliveries(sessions))


async def _due(sessions: async_sessionmaker[AsyncSession]) -> bool:
    from db.models import aware_utc, utcnow

    return all(aware_utc(d.next_at) <= utcnow() for d in await deliveries(sessions))


async def _disabled(sessions: async_sessionmaker[AsyncSession]) -> bool:
    async with sessions() as session:
        return bool(
            await session.scalar(
                select(WebhookEndpoint.id).where(WebhookEndpoint.disabled_at.is_not(None))
            )
        )


# ----- settings --------------------------------------------------------------------------------


def test_webhook_settings_are_checked_and_documented() -> None:
    from pathlib import Path

    from bot.config import load_settings
    from bot.errors import ConfigError

    with pytest.raises(ConfigError, match="WEBHOOK_SECRET: required"):
        load_settings({"WEBHOOK_URLS": "https://hooks.example.com/in"})
    with pytest.raises(ConfigError, match="WEBHOOK_SECRET: must be whsec_"):
        load_settings({"WEBHOOK_URLS": "https://h.example.com/", "WEBHOOK_SECRET": "hunter2"})
    with pytest.raises(ConfigError, match="WEBHOOK_URLS"):
        load_settings({"WEBHOOK_URLS": "ftp://h.example.com/", "WEBHOOK_SECRET": new_secret()})
    secret = new_secret()
    settings = load_settings(
        {
            "WEBHOOK_URLS": "https://h.example.com/in?token=abcdefABCDEF123456",
            "WEBHOOK_SECRET": secret,
        }
    )
    assert secret not in repr(settings) and "abcdefABCDEF123456" not in repr(settings)
    assert any(s.reveal() == secret for s in settings.secrets())  # redacted from logs

    root = Path(__file__).resolve().parents[1]
    import re

    source = (root / "bot" / "webhooks" / "settings.py").read_text()
    read = set(re.findall(r'env(?:, |\.get\(|\.secret\(|\[)"([A-Z][A-Z0-9_]+)"', source))
    documented = set(
        re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", (root / ".env.example").read_text(), re.M)
    )
    assert len(read) == 9 and read - documented == set()
