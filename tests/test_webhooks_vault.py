"""Endpoint secrets at rest: the database keeps each one sealed, a copy of it alone signs
nothing, and a worker with another key says so in the delivery's error instead of signing."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.env_values import Secret
from bot.webhooks.endpoints import WebhookEndpoints
from bot.webhooks.vault import KEY_FILE, SecretBox, SecretUnreadable, secret_box
from db.models import Phase, WebhookEndpoint
from tests.test_webhooks import BOX, confirm, deliveries, mint_row, sender, sessions  # noqa: F401

OTHER = SecretBox(b"another bot's store key")


@pytest.mark.db
async def test_the_database_keeps_each_secret_sealed(
    sessions: async_sessionmaker[AsyncSession],  # noqa: F811
) -> None:
    endpoints = WebhookEndpoints(sessions, BOX, allow_loopback=True)
    added = await endpoints.add("test", "guild", "http://127.0.0.1:9/hook", "admin")
    async with sessions() as session:
        stored = await session.scalar(select(WebhookEndpoint.secret))
    assert stored is not None and added.secret[6:] not in stored
    assert BOX.open(stored) == added.secret
    with pytest.raises(SecretUnreadable):
        OTHER.open(stored)
    # A worker whose key does not open it signs nothing: the try fails, in words.
    await confirm(sessions, await mint_row(sessions, 1, Phase.SENT))
    worker = sender(sessions)
    worker.box = OTHER
    async with worker._client() as client:
        assert await worker.deliver_due(client) == 1
    (row,) = await deliveries(sessions)
    assert row.state == "pending" and row.last_error == (
        "its signing secret does not open with this WEBHOOK_STORE_SECRET"
    )


@given(st.text(max_size=200))
def test_any_stored_text_opens_or_is_refused_in_one_way(text: str) -> None:
    try:
        opened = BOX.open(text)
    except SecretUnreadable:
        return
    assert BOX.open(BOX.seal(opened)) == opened


def test_the_key_comes_from_the_setting_or_one_file_made_once(tmp_path: Path) -> None:
    sealed = secret_box(None, tmp_path).seal("whsec_x")
    assert (tmp_path / KEY_FILE).stat().st_mode & 0o077 == 0
    assert secret_box(None, tmp_path).open(sealed) == "whsec_x"  # the same key, kept
    with pytest.raises(SecretUnreadable):
        secret_box(Secret("set by the operator"), tmp_path).open(sealed)
    assert "whsec" not in repr(BOX) and "store key" not in repr(BOX)
