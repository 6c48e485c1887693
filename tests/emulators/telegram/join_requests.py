"""Requests to join a chat through an invite link that asks for approval: `createChatInviteLink`
(with `creates_join_request`), the `chat_join_request` update a user's request sends the bot,
and `approveChatJoinRequest` / `declineChatJoinRequest`, which answer a request once (another
answer is refused as Telegram refuses it: HIDE_REQUESTER_MISSING). While a request waits, the
bot may write to its user in private (`user_chat_id`)."""

from __future__ import annotations

import itertools
import time
from typing import Any

from tests.emulators.telegram.protocol import ApiError, Method
from tests.emulators.telegram.updates import UpdateFeed
from tests.emulators.telegram.world import TelegramWorld


class JoinRequests:
    """Invite links and join requests, and what became of each request."""

    def __init__(self, world: TelegramWorld, feed: UpdateFeed) -> None:
        self._world = world
        self._feed = feed
        self._links = itertools.count(1)
        self.invite_links: list[dict[str, Any]] = []
        self.waiting: set[tuple[int, int]] = set()  # (chat, user)
        self.answers: list[tuple[int, int, str]] = []  # (chat, user, "approved"/"declined")

    def join_methods(self) -> dict[str, Method]:
        return {
            "createChatInviteLink": self._create_link,
            "approveChatJoinRequest": self._approve,
            "declineChatJoinRequest": self._decline,
        }

    def request_to_join(self, chat: dict[str, Any], user: dict[str, Any]) -> dict[str, Any]:
        """`user` opens an approval link of `chat`: the bot is sent a chat_join_request."""
        self.waiting.add((chat["id"], user["id"]))
        self._world.left.add((chat["id"], user["id"]))  # not a member until approved
        self._world.chats.setdefault(user["id"], TelegramWorld.private(user))
        link = self.invite_links[-1] if self.invite_links else None
        request = {
            "chat": chat,
            "from": user,
            "user_chat_id": user["id"],
            "date": int(time.time()),
            **({"invite_link": link} if link else {}),
        }
        return self._feed.push({"chat_join_request": request})

    def answer_of(self, chat: dict[str, Any], user: dict[str, Any]) -> str | None:
        found = [a for c, u, a in self.answers if (c, u) == (chat["id"], user["id"])]
        return found[-1] if found else None

    async def _create_link(self, params: dict[str, Any]) -> Any:
        chat_id = int(params["chat_id"])
        if chat_id not in self._world.chats:
            raise ApiError(400, "Bad Request: chat not found")
        link = {
            "invite_link": f"https://t.me/+holders{next(self._links)}",
            "creator": self._world.bot_user,
            "creates_join_request": bool(params.get("creates_join_request")),
            "is_primary": False,
            "is_revoked": False,
            **({"name": params["name"]} if params.get("name") else {}),
        }
        self.invite_links.append(link)
        return link

    async def _approve(self, params: dict[str, Any]) -> Any:
        return self._answer(params, "approved")

    async def _decline(self, params: dict[str, Any]) -> Any:
        return self._answer(params, "declined")

    def _answer(self, params: dict[str, Any], answer: str) -> bool:
        key = (int(params["chat_id"]), int(params["user_id"]))
        if key not in self.waiting:
            raise ApiError(400, "Bad Request: HIDE_REQUESTER_MISSING")
        self.waiting.discard(key)
        self.answers.append((*key, answer))
        if answer == "approved":
            self._world.left.discard(key)
        return True
