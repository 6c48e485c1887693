"""Every webhook event from the real core on anvil: a mint confirmed and one failed, a
withdrawal confirmed, a drop claimed and closed, each posted once (by its stable ID) to the
global endpoint of WEBHOOK_URLS and verified by the receiver."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from bot.config import load_settings
from bot.minting.types import short_token_id
from bot.ports import Claimant
from bot.webhooks.drop_ends import report_ended_windows
from bot.webhooks.signing import new_secret
from db.models import Drop, utcnow
from tests.support import answered, png, running, submission
from tests.test_isolation import ZERO_ADDRESS, queue_old_row
from tests.test_withdrawals import USER, link_verified
from tests.webhook_receiver import receiving

pytestmark = pytest.mark.db


async def test_each_state_change_posts_its_event_once(bot_env: dict[str, str]) -> None:
    secret = new_secret()
    async with receiving(secret) as receiver:
        env = {
            **bot_env,
            "WEBHOOK_URLS": receiver.url,
            "WEBHOOK_SECRET": secret,
            "WEBHOOK_ALLOW_LOOPBACK": "1",
            "WEBHOOK_POLL_S": "0.05",
        }
        async with running(load_settings(env)) as (runtime, inbox):
            minted = await runtime.service.submit(submission("1", community_id="guild"))
            result = await answered(runtime, inbox, minted.key)
            assert result.minted and result.token_id is not None
            await queue_old_row(runtime, "old-1", ZERO_ADDRESS)
            failed = await answered(runtime, inbox, "test:chat:old-1")

            await link_verified(runtime)
            await runtime.withdrawals.withdraw(
                "test:chat:w1", *USER, short_token_id(result.token_id)
            )
            (withdrawn,) = await runtime.withdrawals.wait("test:chat:w1", timeout=30)

            drop = await runtime.drops.create_drop(
                platform="test",
                community_id="guild",
                created_by="admin",
                name="Harbour",
                image=png(31),
                supply=10,
            )
            claim = await runtime.drops.claim(
                drop.id, Claimant("test", "u2", is_member=True), "Bea"
            )
            await runtime.drops.close(drop.id)
            await runtime.drops.close(drop.id)  # closing a closed drop changes nothing
            # The other two ends: the last edition claimed, and the window over (a look at the
            # drops finds it; closing it afterwards tells nothing new).
            sold = await runtime.drops.create_drop(
                platform="test", community_id="guild", created_by="admin", name="One",
                image=png(32), supply=1,
            )  # fmt: skip
            await runtime.drops.claim(sold.id, Claimant("test", "u3", is_member=True), "Cy")
            ends = await runtime.drops.create_drop(
                platform="test", community_id="guild", created_by="admin", name="Tide",
                image=png(33), ends_at=utcnow() + timedelta(hours=1),
            )  # fmt: skip
            async with runtime.sessions.begin() as session:
                over = update(Drop).where(Drop.id == ends.id).values(ends_at=utcnow())
                await session.execute(over)
            assert await report_ended_windows(runtime.sessions) == 1
            assert await report_ended_windows(runtime.sessions) == 0
            await runtime.drops.close(ends.id)

            expected = {
                f"evt_mint_confirmed_{minted.request_id}": "mint.confirmed",
                f"evt_mint_failed_{failed.request_id}": "mint.failed",
                f"evt_drop_claimed_{claim.request_id}": "drop.claimed",
                f"evt_drop_closed_{drop.id}": "drop.closed",
                f"evt_drop_closed_{sold.id}": "drop.closed",
                f"evt_drop_closed_{ends.id}": "drop.closed",
            }
            await receiver.wait_for(lambda: set(expected) <= set(receiver.accepted), 30)
            await receiver.wait_for(
                lambda: any(t == "withdrawal.confirmed" for t in _types(receiver)), 30
            )
    assert receiver.refused == 0 and receiver.duplicates == 0
    for event_id, kind in expected.items():
        assert receiver.bodies[event_id]["type"] == kind
    confirmed = receiver.bodies[f"evt_mint_confirmed_{minted.request_id}"]["data"]
    assert confirmed["community_id"] == "guild" and confirmed["token_id"] == str(result.token_id)
    assert (
        "TransferToZeroAddress"
        in receiver.bodies[f"evt_mint_failed_{failed.request_id}"]["data"]["reason"]
    )
    (withdrawal,) = [b for b in receiver.bodies.values() if b["type"] == "withdrawal.confirmed"]
    assert withdrawal["data"]["to_address"] == withdrawn.to_address
    assert withdrawal["data"]["community_id"] == "guild"
    claimed = receiver.bodies[f"evt_drop_claimed_{claim.request_id}"]["data"]
    assert claimed["user_id"] == "u2" and claimed["drop_id"] == drop.id
    reasons = {
        body["data"]["drop_id"]: body["data"]["reason"]
        for body in receiver.bodies.values()
        if body["type"] == "drop.closed"
    }
    assert reasons == {drop.id: "closed", sold.id: "sold_out", ends.id: "ended"}


def _types(receiver: object) -> list[str]:
    return [b["type"] for b in receiver.bodies.values()]
