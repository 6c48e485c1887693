"""The Telegram a test builds and reads: users, groups and private chats, who is an admin, who
left or is restricted, which chats the bot is in, files on Telegram's servers, and every message
in every chat (what users see, after any edits)."""

from __future__ import annotations

import itertools
import time
from typing import Any

from tests.emulators.telegram.protocol import BOT_ID
from tests.emulators.telegram.text import command_entities

# Who messages sent "as the group" by an anonymous administrator come from.
ANONYMOUS_ADMIN = {
    "id": 1087968824,
    "is_bot": True,
    "first_name": "Group",
    "username": "GroupAnonymousBot",
}


class TelegramWorld:
    """Chats, their members and messages, and files."""

    def __init__(self) -> None:
        self.messages: dict[tuple[int, int], dict[str, Any]] = {}
        # file_id -> (path, bytes, size Telegram reports or None)
        self.files: dict[str, tuple[str, bytes, int | None]] = {}
        self.file_kinds: dict[str, str] = {}  # file_id -> photo, document, video, ...
        self.admins: dict[int, set[int]] = {}
        self.left: set[tuple[int, int]] = set()  # (chat, user) no longer members
        # (chat, user) -> restricted, and whether still a member
        self.restricted: dict[tuple[int, int], bool] = {}
        self.without_bot: set[int] = set()  # chats the bot is not in
        self.chats: dict[int, dict[str, Any]] = {}
        # setMyCommands: (scope type, language code or "") -> [{"command", "description"}]
        self.command_menus: dict[tuple[str, str], list[dict[str, str]]] = {}
        self._message_ids: dict[int, itertools.count[int]] = {}
        self._ids = itertools.count(10_000)
        self.bot_user = {"id": BOT_ID, "is_bot": True, "first_name": "mintbot"}
        self.bot_user |= {"username": "mintbot_test_bot", "can_join_groups": True}

    def command_menu(self, language_code: str = "") -> dict[str, str]:
        """The default scope's command menu for `language_code` ("": the default list), as
        command -> description."""
        menu = self.command_menus.get(("default", language_code), [])
        return {c["command"]: c["description"] for c in menu}

    # ----- building it -------------------------------------------------------------------------

    def user(self, first_name: str, language_code: str | None = None) -> dict[str, Any]:
        """A member; `language_code` is their app's language (an IETF tag), which Telegram
        sends in the `User` of their updates when their app says it, and leaves out otherwise."""
        user = {"id": next(self._ids), "is_bot": False, "first_name": first_name}
        return user | ({"language_code": language_code} if language_code else {})

    def group(
        self,
        title: str,
        admins: list[dict[str, Any]] = (),  # type: ignore[assignment]
        *,
        with_bot: bool = True,
    ) -> dict[str, Any]:
        """A supergroup; `with_bot` False: one the bot was never added to."""
        chat = {"id": -next(self._ids), "type": "supergroup", "title": title}
        self.admins[chat["id"]] = {a["id"] for a in admins}
        self.chats[chat["id"]] = chat
        if not with_bot:
            self.without_bot.add(chat["id"])
        return chat

    @staticmethod
    def private(user: dict[str, Any]) -> dict[str, Any]:
        return {"id": user["id"], "type": "private", "first_name": user["first_name"]}

    def add_file(
        self,
        data: bytes,
        *,
        size: int | None = None,
        name: str = "image",
        kind: str = "photo",
        declared: bool = True,
    ) -> dict[str, Any]:
        """A file on Telegram's servers; `size` is what Telegram reports (the length by
        default); `declared` False: Telegram reports no size at all."""
        file_id = f"file-{next(self._ids)}"
        path = f"{kind}s/{file_id}-{name}"
        reported = (len(data) if size is None else size) if declared else None
        self.files[file_id] = (path, data, reported)
        self.file_kinds[file_id] = kind
        entry: dict[str, Any] = {"file_id": file_id, "file_unique_id": f"u{file_id}"}
        if reported is not None:
            entry["file_size"] = reported
        return entry

    def leave(self, chat: dict[str, Any], user: dict[str, Any]) -> None:
        """`user` is no longer a member of `chat` (getChatMember says "left")."""
        self.left.add((chat["id"], user["id"]))

    def restrict(self, chat: dict[str, Any], user: dict[str, Any], *, is_member: bool) -> None:
        """An admin restricted `user` in `chat`; `is_member` False: they have left since, and
        Telegram still answers "restricted" (with is_member false) for them."""
        self.restricted[(chat["id"], user["id"])] = is_member

    def new_message(
        self, chat: dict[str, Any], sender: dict[str, Any] | None, **content: Any
    ) -> dict[str, Any]:
        """A message in `chat`, numbered as Telegram numbers a chat's messages."""
        ids = self._message_ids.setdefault(chat["id"], itertools.count(1))
        self.chats.setdefault(chat["id"], chat)
        message = {"message_id": next(ids), "date": int(time.time()), "chat": chat, **content}
        if sender is not None:
            message["from"] = sender
        self.messages[(chat["id"], message["message_id"])] = message
        return message

    @staticmethod
    def caption(caption: str | None) -> dict[str, Any]:
        if caption is None:
            return {}
        return {"caption": caption, "caption_entities": command_entities(caption)}

    # ----- what users see ----------------------------------------------------------------------

    def replies_to(self, message: dict[str, Any]) -> list[dict[str, Any]]:
        """The bot's messages replying to `message`, as they read now (after any edits)."""
        chat_id, message_id = message["chat"]["id"], message["message_id"]
        return [
            m
            for (chat, _), m in sorted(self.messages.items())
            if chat == chat_id
            and m.get("from", {}).get("id") == BOT_ID
            and (m.get("reply_to_message") or {}).get("message_id") == message_id
        ]

    def in_chat(self, chat: dict[str, Any]) -> list[dict[str, Any]]:
        """The bot's messages in `chat`, oldest first."""
        mine = [
            (message_id, m)
            for (chat_id, message_id), m in self.messages.items()
            if chat_id == chat["id"] and m.get("from", {}).get("id") == BOT_ID
        ]
        return [m for _, m in sorted(mine, key=lambda pair: pair[0])]
