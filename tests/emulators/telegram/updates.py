"""How updates reach the bot: long polling (`getUpdates` honours `offset` and `timeout`, and
re-delivers until confirmed) or, after `setWebhook`, a POST to the bot's webhook retried until
it answers 2xx; and which updates the bot has confirmed."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Coroutine
from typing import Any

import aiohttp

from tests.emulators.telegram.protocol import ApiError, Method


class UpdateFeed:
    """The updates waiting for the bot, and how each was delivered and confirmed."""

    def __init__(self) -> None:
        self.webhook: dict[str, str] | None = None
        self.webhook_answers: list[int] = []  # the HTTP status of every webhook delivery
        self.delivered: list[dict[str, Any]] = []  # every update pushed to the bot, in order
        self._updates: list[dict[str, Any]] = []
        self._confirmed = 0  # every update_id below this was acknowledged by an offset
        self._confirmed_ids: set[int] = set()  # webhook deliveries answered 2xx
        self._new_update = asyncio.Condition()
        self._stopping = False
        self._update_ids = itertools.count(1000)
        self._pushing: set[asyncio.Task[None]] = set()

    def update_methods(self) -> dict[str, Method]:
        return {
            "getUpdates": self._get_updates,
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
        }

    def push(self, update: dict[str, Any]) -> dict[str, Any]:
        update = {"update_id": next(self._update_ids), **update}
        self.delivered.append(update)
        self.deliver(update)
        return update

    def deliver(self, update: dict[str, Any]) -> None:
        """Hand `update` to the bot (again, if it was delivered before: Telegram re-delivers
        until the bot acknowledges)."""
        if self.webhook is not None:
            self._spawn(self._post_to_webhook(update))
            return
        self._updates.append(update)
        self._wake()

    def confirmed(self, update: dict[str, Any]) -> bool:
        """Whether the bot acknowledged `update` (a later getUpdates offset, or a 2xx answer to
        its webhook delivery): Telegram would not deliver it again."""
        update_id = update["update_id"]
        return update_id < self._confirmed or update_id in self._confirmed_ids

    def unconfirmed(self) -> list[dict[str, Any]]:
        """Updates held for the bot until a getUpdates offset confirms them."""
        return list(self._updates)

    async def close_feed(self) -> None:
        """Long polls still open (a killed bot's among them) end now, not at their timeout;
        webhook deliveries stop."""
        self._stopping = True
        async with self._new_update:
            self._new_update.notify_all()
        for task in self._pushing:
            task.cancel()

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(work)
        self._pushing.add(task)
        task.add_done_callback(self._pushing.discard)

    def _wake(self) -> None:
        async def notify() -> None:
            async with self._new_update:
                self._new_update.notify_all()

        self._spawn(notify())

    async def _post_to_webhook(self, update: dict[str, Any]) -> None:
        assert self.webhook is not None
        headers = {}
        if self.webhook.get("secret_token"):
            headers["X-Telegram-Bot-Api-Secret-Token"] = self.webhook["secret_token"]
        # Telegram retries until the webhook answers 2xx, waiting longer each time (here up
        # to a second, for about two minutes: long enough for a bot to restart).
        wait = 0.05
        async with aiohttp.ClientSession() as session:
            for _ in range(150):
                with contextlib.suppress(aiohttp.ClientError):
                    async with session.post(self.webhook["url"], json=update, headers=headers) as r:
                        self.webhook_answers.append(r.status)
                        if r.status < 300:
                            self._confirmed_ids.add(update["update_id"])
                            return
                await asyncio.sleep(wait)
                wait = min(wait * 2, 1.0)

    async def _delete_webhook(self, params: dict[str, Any]) -> Any:
        self.webhook = None
        return True

    async def _set_webhook(self, params: dict[str, Any]) -> Any:
        self.webhook = {"url": params["url"], "secret_token": params.get("secret_token", "")}
        pending, self._updates = self._updates, []
        for update in pending:
            self.deliver(update)
        return True

    async def _get_updates(self, params: dict[str, Any]) -> Any:
        if self.webhook is not None:
            raise ApiError(409, "Conflict: can't use getUpdates method while webhook is active")
        offset = int(params.get("offset", 0))
        if offset:
            self._confirmed = max(self._confirmed, offset)
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        timeout = float(params.get("timeout", 0))
        limit = int(params.get("limit", 100))
        async with self._new_update:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self._new_update.wait_for(lambda: bool(self._updates) or self._stopping),
                    timeout,
                )
        return self._updates[:limit]
