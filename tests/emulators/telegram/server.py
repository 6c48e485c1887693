"""A local Telegram Bot API: enough of `/bot<TOKEN>/<method>` and `/file/bot<TOKEN>/<path>` for
the real python-telegram-bot to run a bot against it, with every call recorded.

Tests build chats and users, then act as users: send photos and files of any name and type
with captions, reply with commands, edit captions, send stickers, voice notes and videos, write
as the group (an anonymous admin), press inline buttons. Updates reach the bot by long polling
or its webhook (updates.py); the Bot API's methods and rules are in bot_api.py, Telegram's
flood limits on message calls in limits.py, files in files.py.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

from tests.emulators.telegram.bot_api import BotApi
from tests.emulators.telegram.documents import DocumentSender
from tests.emulators.telegram.files import FileServer
from tests.emulators.telegram.join_requests import JoinRequests
from tests.emulators.telegram.limits import (
    FloodControl,
    LimitViolation,
    TelegramLimits,
    describe,
)
from tests.emulators.telegram.protocol import TOKEN
from tests.emulators.telegram.recording import TelegramRecording
from tests.emulators.telegram.text import command_entities, plain_text
from tests.emulators.telegram.updates import UpdateFeed
from tests.emulators.telegram.world import ANONYMOUS_ADMIN, TelegramWorld


class TelegramServer(TelegramWorld, TelegramRecording, UpdateFeed):
    """The world tests build, what the bot did in it and the updates it is sent, over HTTP."""

    def __init__(
        self,
        limits: TelegramLimits | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`limits`: the flood limits enforced on message calls (Telegram's by default);
        `clock`: the time calls are recorded and counted at."""
        TelegramWorld.__init__(self)
        TelegramRecording.__init__(self)
        UpdateFeed.__init__(self)
        self.port = 0
        self.created_at = clock()
        self._flood = FloodControl(limits or TelegramLimits())
        self._files = FileServer(self, self)
        self.join_requests = JoinRequests(self, self)
        methods = {**self.update_methods(), **self._files.file_methods()}
        methods |= DocumentSender(self).document_methods()
        methods |= self.join_requests.join_methods()
        self._bot_api = BotApi(self, self, methods, self._flood, clock)
        self._runner: web.AppRunner | None = None

    # ----- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._bot_api.call)
        app.router.add_get("/file/bot{token}/{path:.*}", self._files.download)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        await self.close_feed()
        if self._runner is not None:
            await self._runner.cleanup()

    def env(self) -> dict[str, str]:
        base = f"http://127.0.0.1:{self.port}"
        return {
            "TELEGRAM_TOKEN": TOKEN,
            "TELEGRAM_API_BASE_URL": f"{base}/bot",
            "TELEGRAM_FILE_BASE_URL": f"{base}/file/bot",
        }

    @property
    def limits(self) -> TelegramLimits:
        return self._flood.limits

    @property
    def limit_violations(self) -> list[LimitViolation]:
        """The message calls refused for being over a flood limit, in order (the 429s
        `throttle` injects are not among them)."""
        return self._flood.violations

    def limit_report(self) -> str:
        """The refused calls, one a line, timed from this server's creation."""
        return describe(self.limit_violations, self.created_at)

    def throttle(self, method: str, retry_after: int, times: int = 1) -> None:
        """The next `times` calls of `method` answer 429 Too Many Requests (not counted as
        flood-limit violations)."""
        self._bot_api.throttle(method, retry_after, times)

    def refuse(self, method: str, code: int, description: str, times: int = 1) -> None:
        """The next `times` calls of `method` fail with HTTP `code`."""
        self._bot_api.refuse(method, code, description, times)

    # ----- acting as users ---------------------------------------------------------------------

    def send(
        self, chat: dict[str, Any], sender: dict[str, Any] | None, **content: Any
    ) -> dict[str, Any]:
        """A new message from `sender` in `chat`, delivered to the bot as an update."""
        message = self.new_message(chat, sender, **content)
        key = "channel_post" if chat["type"] == "channel" else "message"
        self.push({key: message})
        return message

    def send_text(
        self,
        chat: dict[str, Any],
        sender: dict[str, Any],
        text: str,
        reply_to: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        extra: dict[str, Any] = {"reply_to_message": reply_to} if reply_to else {}
        return self.send(chat, sender, text=text, entities=command_entities(text), **extra)

    def said(self, chat: dict[str, Any]) -> list[str]:
        """The bot's messages in `chat` as a member reads them (plain text), oldest first."""
        return [plain_text(m.get("text") or "", m.get("parse_mode")) for m in self.in_chat(chat)]

    async def told(self, chat: dict[str, Any], user: dict[str, Any], text: str) -> str:
        """`user` sends `text` in `chat`; the bot's next message there, as they read it."""
        before = len(self.said(chat))
        self.send_text(chat, user, text)
        await self.wait_for(lambda: len(self.said(chat)) > before)
        return self.said(chat)[before]

    def send_photo(
        self,
        chat: dict[str, Any],
        sender: dict[str, Any] | None,
        sizes: list[bytes],
        caption: str | None = None,
        *,
        size: int | None = None,
    ) -> dict[str, Any]:
        """A photo as Telegram sends it: one entry per size, smallest first; `sizes` are the
        bytes of each (the last is the original)."""
        photo = []
        for i, data in enumerate(sizes):
            entry = self.add_file(data, size=size if i == len(sizes) - 1 else None)
            photo.append({**entry, "width": 90 * (i + 1), "height": 90 * (i + 1)})
        return self.send(chat, sender, photo=photo, **self.caption(caption))

    def send_document(
        self,
        chat: dict[str, Any],
        sender: dict[str, Any],
        data: bytes,
        mime_type: str,
        caption: str | None = None,
        *,
        size: int | None = None,
        file_name: str = "art",
        declared: bool = True,
    ) -> dict[str, Any]:
        """A file "sent as a file", with the name and MIME type the sender's app gave it."""
        entry = self.add_file(data, size=size, name=file_name, kind="document", declared=declared)
        document = {**entry, "file_name": file_name, "mime_type": mime_type}
        return self.send(chat, sender, document=document, **self.caption(caption))

    def send_video(
        self, chat: dict[str, Any], sender: dict[str, Any], data: bytes, caption: str | None = None
    ) -> dict[str, Any]:
        entry = self.add_file(data, name="clip.mp4", kind="video")
        video = {**entry, "width": 64, "height": 64, "duration": 1, "mime_type": "video/mp4"}
        return self.send(chat, sender, video=video, **self.caption(caption))

    def send_as_chat(self, chat: dict[str, Any], text: str) -> dict[str, Any]:
        """An anonymous administrator writes: the message comes from the group itself."""
        return self.send(
            chat, ANONYMOUS_ADMIN, text=text, entities=command_entities(text), sender_chat=chat
        )

    def edit_caption(self, message: dict[str, Any], caption: str) -> dict[str, Any]:
        edited = {**message, **self.caption(caption), "edit_date": int(time.time())}
        self.messages[(message["chat"]["id"], message["message_id"])] = edited
        self.push({"edited_message": edited})
        return edited

    def press(self, user: dict[str, Any], message: dict[str, Any], data: str) -> dict[str, Any]:
        """`user` presses the inline button carrying `data` under the bot's `message`; the
        callback query's ID keys its answer in `callback_answers`."""
        query = {
            "id": f"cq-{next(self._ids)}",
            "from": user,
            "message": self.messages.get((message["chat"]["id"], message["message_id"]), message),
            "chat_instance": f"ci{message['chat']['id']}",
            "data": data,
        }
        self.push({"callback_query": query})
        return query
