"""A local Telegram Bot API: enough of `/bot<TOKEN>/<method>` and `/file/bot<TOKEN>/<path>` for
the real python-telegram-bot to run a bot against it, with every call recorded.

Tests build chats and users, then act as users: send photos and files of any name and type
with captions, reply with commands, edit captions, send stickers, voice notes and videos, write
as the group (an anonymous admin). Updates reach the bot by long polling (`getUpdates` honours
`offset` and `timeout`, and re-delivers until confirmed) or, after `setWebhook`, by POST to the
bot's webhook. Any method can be made to answer 429 with `retry_after`. HTML in
`parse_mode=HTML` texts is checked as strictly as Telegram does, and so is where the bot may
write: only to users who have started it, only in chats it is in, a photo only from a photo.
Files are streamed in chunks and the bytes served counted (`served`), so a test can see how
much of a file the bot read.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any

import aiohttp
from aiohttp import web

from tests.support import poll_until

TOKEN = "123456:TEST-emulator-token"
BOT_ID = 123456
# Who messages sent "as the group" by an anonymous administrator come from.
ANONYMOUS_ADMIN = {
    "id": 1087968824,
    "is_bot": True,
    "first_name": "Group",
    "username": "GroupAnonymousBot",
}
FILE_CHUNK = 64 * 1024
DOWNLOAD_LIMIT = 20 * 1024 * 1024  # the public Bot API server's getFile cap
# The tags Telegram accepts in HTML parse mode.
HTML_TAGS = {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "a", "code", "pre"}
HTML_TAGS |= {"tg-spoiler", "span", "blockquote", "tg-emoji"}


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    at: float


class _StrictHtml(HTMLParser):
    """Telegram refuses unknown tags and unbalanced ones ("can't parse entities")."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.open: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in HTML_TAGS:
            raise ValueError(f"unsupported start tag {tag!r}")
        self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.open or self.open.pop() != tag:
            raise ValueError(f"unexpected end tag {tag!r}")

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def plain_text(text: str, parse_mode: str | None) -> str:
    """What a user would read: the text with its HTML markup applied (and checked)."""
    if (parse_mode or "").upper() != "HTML":
        return text
    parser = _StrictHtml()
    parser.feed(text)
    parser.close()
    if parser.open:
        raise ValueError(f"unclosed tag {parser.open[-1]!r}")
    return "".join(parser.text)


def _command_entities(text: str) -> list[dict[str, Any]]:
    if not text.startswith("/"):
        return []
    return [{"type": "bot_command", "offset": 0, "length": len(text.split(maxsplit=1)[0])}]


class TelegramServer:
    def __init__(self) -> None:
        self.port = 0
        self.calls: list[Call] = []
        self.messages: dict[tuple[int, int], dict[str, Any]] = {}
        # file_id -> (path, bytes, size Telegram reports or None)
        self.files: dict[str, tuple[str, bytes, int | None]] = {}
        self.file_kinds: dict[str, str] = {}  # file_id -> photo, document, video, ...
        self.admins: dict[int, set[int]] = {}
        self.left: set[tuple[int, int]] = set()  # (chat, user) no longer members
        # (chat, user) -> restricted, and whether still a member
        self.restricted: dict[tuple[int, int], bool] = {}
        self.without_bot: set[int] = set()  # chats the bot is not in
        self.callback_answers: dict[str, dict[str, Any]] = {}
        self.chats: dict[int, dict[str, Any]] = {}
        self.webhook: dict[str, str] | None = None
        self.downloads: list[str] = []  # file paths the bot fetched
        self.served: dict[str, int] = {}  # file path -> bytes sent to the bot
        self._updates: list[dict[str, Any]] = []
        self._confirmed = 0  # every update_id below this was acknowledged by an offset
        self._confirmed_ids: set[int] = set()  # webhook deliveries answered 2xx
        self.webhook_answers: list[int] = []  # the HTTP status of every webhook delivery
        self._new_update = asyncio.Condition()
        self._stopping = False
        self._update_ids = itertools.count(1000)
        self._message_ids: dict[int, itertools.count[int]] = {}
        self._ids = itertools.count(10_000)
        self._throttled: dict[str, list[int]] = {}
        self._refusals: dict[str, list[tuple[int, str]]] = {}
        self.delivered: list[dict[str, Any]] = []  # every update pushed to the bot, in order
        self._runner: web.AppRunner | None = None
        self._pushing: set[asyncio.Task[None]] = set()
        self.bot_user = {"id": BOT_ID, "is_bot": True, "first_name": "mintbot"}
        self.bot_user |= {"username": "mintbot_test_bot", "can_join_groups": True}

    # ----- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._api)
        app.router.add_get("/file/bot{token}/{path:.*}", self._file)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        # Long polls still open (a killed bot's among them) end now, not at their timeout.
        self._stopping = True
        async with self._new_update:
            self._new_update.notify_all()
        for task in self._pushing:
            task.cancel()
        if self._runner is not None:
            await self._runner.cleanup()

    def env(self) -> dict[str, str]:
        base = f"http://127.0.0.1:{self.port}"
        return {
            "TELEGRAM_TOKEN": TOKEN,
            "TELEGRAM_API_BASE_URL": f"{base}/bot",
            "TELEGRAM_FILE_BASE_URL": f"{base}/file/bot",
        }

    # ----- the world ---------------------------------------------------------------------------

    def user(self, first_name: str) -> dict[str, Any]:
        return {"id": next(self._ids), "is_bot": False, "first_name": first_name}

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

    # ----- acting as users ---------------------------------------------------------------------

    def send(
        self, chat: dict[str, Any], sender: dict[str, Any] | None, **content: Any
    ) -> dict[str, Any]:
        """A new message from `sender` in `chat`, delivered to the bot as an update."""
        message = self._new_message(chat, sender, **content)
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
        return self.send(chat, sender, text=text, entities=_command_entities(text), **extra)

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
        return self.send(chat, sender, photo=photo, **self._caption(caption))

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
        return self.send(chat, sender, document=document, **self._caption(caption))

    def send_video(
        self, chat: dict[str, Any], sender: dict[str, Any], data: bytes, caption: str | None = None
    ) -> dict[str, Any]:
        entry = self.add_file(data, name="clip.mp4", kind="video")
        video = {**entry, "width": 64, "height": 64, "duration": 1, "mime_type": "video/mp4"}
        return self.send(chat, sender, video=video, **self._caption(caption))

    def send_as_chat(self, chat: dict[str, Any], text: str) -> dict[str, Any]:
        """An anonymous administrator writes: the message comes from the group itself."""
        return self.send(
            chat, ANONYMOUS_ADMIN, text=text, entities=_command_entities(text), sender_chat=chat
        )

    def edit_caption(self, message: dict[str, Any], caption: str) -> dict[str, Any]:
        edited = {**message, **self._caption(caption), "edit_date": int(time.time())}
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

    def leave(self, chat: dict[str, Any], user: dict[str, Any]) -> None:
        """`user` is no longer a member of `chat` (getChatMember says "left")."""
        self.left.add((chat["id"], user["id"]))

    def restrict(self, chat: dict[str, Any], user: dict[str, Any], *, is_member: bool) -> None:
        """An admin restricted `user` in `chat`; `is_member` False: they have left since, and
        Telegram still answers "restricted" (with is_member false) for them."""
        self.restricted[(chat["id"], user["id"])] = is_member

    def push(self, update: dict[str, Any]) -> dict[str, Any]:
        update = {"update_id": next(self._update_ids), **update}
        self.delivered.append(update)
        self.deliver(update)
        return update

    def deliver(self, update: dict[str, Any]) -> None:
        """Hand `update` to the bot (again, if it was delivered before: Telegram re-delivers
        until the bot acknowledges)."""
        if self.webhook is not None:
            task = asyncio.ensure_future(self._post_to_webhook(update))
            self._pushing.add(task)
            task.add_done_callback(self._pushing.discard)
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

    def throttle(self, method: str, retry_after: int, times: int = 1) -> None:
        """The next `times` calls of `method` answer 429 Too Many Requests."""
        self._throttled.setdefault(method, []).extend([retry_after] * times)

    def refuse(self, method: str, code: int, description: str, times: int = 1) -> None:
        """The next `times` calls of `method` fail with HTTP `code` (a 5xx: Telegram's side
        is having trouble)."""
        self._refusals.setdefault(method, []).extend([(code, description)] * times)

    # ----- what users see ----------------------------------------------------------------------

    def sent(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

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
        return [
            m
            for (chat_id, _), m in sorted(self.messages.items())
            if chat_id == chat["id"] and m.get("from", {}).get("id") == BOT_ID
        ]

    async def wait_for(self, check: Callable[[], object], timeout: float = 30) -> None:
        """Poll `check`; on timeout, fail with the calls the bot made."""

        def explain() -> str:
            calls = "\n".join(f"{c.method} {c.params}"[:300] for c in self.calls[-40:])
            return f"the bot's last calls:\n{calls}"

        await poll_until(check, timeout, explain)

    # ----- the API -----------------------------------------------------------------------------

    def _caption(self, caption: str | None) -> dict[str, Any]:
        if caption is None:
            return {}
        return {"caption": caption, "caption_entities": _command_entities(caption)}

    def _new_message(
        self, chat: dict[str, Any], sender: dict[str, Any] | None, **content: Any
    ) -> dict[str, Any]:
        ids = self._message_ids.setdefault(chat["id"], itertools.count(1))
        self.chats.setdefault(chat["id"], chat)
        message = {"message_id": next(ids), "date": int(time.time()), "chat": chat, **content}
        if sender is not None:
            message["from"] = sender
        self.messages[(chat["id"], message["message_id"])] = message
        return message

    def _wake(self) -> None:
        async def notify() -> None:
            async with self._new_update:
                self._new_update.notify_all()

        task = asyncio.ensure_future(notify())
        self._pushing.add(task)
        task.add_done_callback(self._pushing.discard)

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

    async def _file(self, request: web.Request) -> web.StreamResponse:
        """A file, in chunks: with its length when Telegram reports its size, else chunked.
        `served` counts what left, up to the bot closing the connection."""
        if request.match_info["token"] != TOKEN:
            return web.json_response(
                {"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401
            )
        found = [f for f in self.files.values() if f[0] == request.match_info["path"]]
        if not found:
            return web.json_response(
                {"ok": False, "error_code": 404, "description": "Not Found"}, status=404
            )
        path, data, reported = found[0]
        self.downloads.append(path)
        self.served.setdefault(path, 0)
        # A small send buffer keeps what sits in the kernel, unread by the bot, small.
        connection = request.transport.get_extra_info("socket") if request.transport else None
        if connection is not None:
            connection.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, FILE_CHUNK)
        response = web.StreamResponse()
        if reported is not None:
            response.content_length = len(data)
        await response.prepare(request)
        try:
            for start in range(0, len(data), FILE_CHUNK):
                chunk = data[start : start + FILE_CHUNK]
                await response.write(chunk)
                self.served[path] += len(chunk)
            await response.write_eof()
        except ConnectionError:
            pass  # the bot stopped reading
        return response

    async def _api(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != TOKEN:
            return _error(401, "Unauthorized")
        method = request.match_info["method"]
        params = await _params(request)
        self.calls.append(Call(method, params, time.monotonic()))
        if self._throttled.get(method):
            retry_after = self._throttled[method].pop(0)
            return _error(
                429,
                f"Too Many Requests: retry after {retry_after}",
                parameters={"retry_after": retry_after},
            )
        if self._refusals.get(method):
            code, description = self._refusals[method].pop(0)
            return _error(code, description)
        handler = getattr(self, f"_m_{method}", None)
        if handler is None:
            return _error(404, "Not Found: method not found")
        try:
            result = await handler(params)
        except _ApiError as err:
            return _error(err.code, err.description)
        return web.json_response({"ok": True, "result": result})

    async def _m_getMe(self, params: dict[str, Any]) -> Any:
        return self.bot_user

    async def _m_setMyCommands(self, params: dict[str, Any]) -> Any:
        return True

    async def _m_deleteWebhook(self, params: dict[str, Any]) -> Any:
        self.webhook = None
        return True

    async def _m_setWebhook(self, params: dict[str, Any]) -> Any:
        self.webhook = {"url": params["url"], "secret_token": params.get("secret_token", "")}
        pending, self._updates = self._updates, []
        for update in pending:
            self.deliver(update)
        return True

    async def _m_getUpdates(self, params: dict[str, Any]) -> Any:
        if self.webhook is not None:
            raise _ApiError(409, "Conflict: can't use getUpdates method while webhook is active")
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

    async def _m_sendMessage(self, params: dict[str, Any]) -> Any:
        chat_id = int(params["chat_id"])
        text = str(params["text"])
        self._check_text(text, params.get("parse_mode"))
        chat = self._chat(chat_id)
        reply = params.get("reply_parameters") or {}
        if "reply_to_message_id" in params:
            reply = {"message_id": params["reply_to_message_id"]}
        extra: dict[str, Any] = {}
        if reply:
            replied = self.messages.get((chat_id, int(reply["message_id"])))
            if replied is None and not reply.get("allow_sending_without_reply"):
                raise _ApiError(400, "Bad Request: message to be replied not found")
            if replied is not None:
                extra["reply_to_message"] = replied
        if params.get("reply_markup"):
            extra["reply_markup"] = params["reply_markup"]
        return self._new_message(
            chat, self.bot_user, text=text, parse_mode=params.get("parse_mode"), **extra
        )

    async def _m_editMessageText(self, params: dict[str, Any]) -> Any:
        key = (int(params["chat_id"]), int(params["message_id"]))
        message = self.messages.get(key)
        if message is None:
            raise _ApiError(400, "Bad Request: message to edit not found")
        text = str(params["text"])
        self._check_text(text, params.get("parse_mode"))
        if message.get("text") == text and message.get("reply_markup") == params.get(
            "reply_markup"
        ):
            raise _ApiError(400, "Bad Request: message is not modified")
        message.update(text=text, parse_mode=params.get("parse_mode"), edit_date=int(time.time()))
        message.pop("reply_markup", None)
        if params.get("reply_markup"):
            message["reply_markup"] = params["reply_markup"]
        return message

    async def _m_deleteMessage(self, params: dict[str, Any]) -> Any:
        if self.messages.pop((int(params["chat_id"]), int(params["message_id"])), None) is None:
            raise _ApiError(400, "Bad Request: message to delete not found")
        return True

    async def _m_getFile(self, params: dict[str, Any]) -> Any:
        file_id = str(params["file_id"])
        if file_id not in self.files:
            raise _ApiError(400, "Bad Request: invalid file_id")
        path, _, size = self.files[file_id]
        if size is not None and size > DOWNLOAD_LIMIT:
            raise _ApiError(400, "Bad Request: file is too big")
        file = {"file_id": file_id, "file_unique_id": f"u{file_id}", "file_path": path}
        return file if size is None else {**file, "file_size": size}

    async def _m_getChatAdministrators(self, params: dict[str, Any]) -> Any:
        chat_id = int(params["chat_id"])
        return [self._administrator(user_id) for user_id in sorted(self.admins.get(chat_id, ()))]

    @staticmethod
    def _administrator(user_id: int) -> dict[str, Any]:
        return {
            "status": "administrator",
            "user": {"id": user_id, "is_bot": False, "first_name": "admin"},
            "can_be_edited": False,
            "is_anonymous": False,
            "can_manage_chat": True,
            "can_delete_messages": True,
            "can_manage_video_chats": True,
            "can_restrict_members": True,
            "can_promote_members": False,
            "can_change_info": True,
            "can_invite_users": True,
            "can_post_stories": False,
            "can_edit_stories": False,
            "can_delete_stories": False,
        }

    async def _m_sendChatAction(self, params: dict[str, Any]) -> Any:
        self._chat(int(params["chat_id"]))
        return True

    async def _m_sendPhoto(self, params: dict[str, Any]) -> Any:
        """A photo re-sent by the file_id of a photo, or uploaded."""
        chat = self._chat(int(params["chat_id"]))
        photo = params.get("photo", "")
        if isinstance(photo, bytes):
            file_id = self.add_file(photo)["file_id"]
        else:
            file_id = str(photo)
            if file_id not in self.files:
                raise _ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")
            if self.file_kinds[file_id] != "photo":
                raise _ApiError(400, "Bad Request: type of file mismatch")
        caption = str(params.get("caption", ""))
        if caption:
            self._check_text(caption, params.get("parse_mode"), limit=1024)
        extra: dict[str, Any] = {}
        if params.get("reply_markup"):
            extra["reply_markup"] = params["reply_markup"]
        photo = [{"file_id": file_id, "file_unique_id": f"u{file_id}", "width": 90, "height": 90}]
        return self._new_message(
            chat,
            self.bot_user,
            photo=photo,
            caption=caption,
            parse_mode=params.get("parse_mode"),
            **extra,
        )

    async def _m_editMessageCaption(self, params: dict[str, Any]) -> Any:
        message = self.messages.get((int(params["chat_id"]), int(params["message_id"])))
        if message is None:
            raise _ApiError(400, "Bad Request: message to edit not found")
        caption = str(params.get("caption", ""))
        if caption:
            self._check_text(caption, params.get("parse_mode"), limit=1024)
        if message.get("caption") == caption and message.get("reply_markup") == params.get(
            "reply_markup"
        ):
            raise _ApiError(400, "Bad Request: message is not modified")
        message.update(caption=caption, parse_mode=params.get("parse_mode"))
        message["edit_date"] = int(time.time())
        message.pop("reply_markup", None)
        if params.get("reply_markup"):
            message["reply_markup"] = params["reply_markup"]
        return message

    async def _m_answerCallbackQuery(self, params: dict[str, Any]) -> Any:
        query_id = str(params["callback_query_id"])
        if query_id in self.callback_answers:
            raise _ApiError(400, "Bad Request: query is too old or query ID is invalid")
        self.callback_answers[query_id] = params
        return True

    async def _m_getChatMember(self, params: dict[str, Any]) -> Any:
        chat_id, user_id = int(params["chat_id"]), int(params["user_id"])
        self._chat(chat_id)
        user = {"id": user_id, "is_bot": user_id == BOT_ID, "first_name": "member"}
        if user_id in self.admins.get(chat_id, ()):
            return self._administrator(user_id)
        if (chat_id, user_id) in self.restricted:
            return self._restricted(user, is_member=self.restricted[(chat_id, user_id)])
        status = "left" if (chat_id, user_id) in self.left else "member"
        return {"status": status, "user": user}

    @staticmethod
    def _restricted(user: dict[str, Any], *, is_member: bool) -> dict[str, Any]:
        may = {
            f"can_{right}": False
            for right in [
                "send_messages",
                "send_audios",
                "send_documents",
                "send_photos",
                "send_videos",
                "send_video_notes",
                "send_voice_notes",
                "send_polls",
                "send_other_messages",
                "add_web_page_previews",
                "change_info",
                "invite_users",
                "pin_messages",
                "manage_topics",
                "react_to_messages",
                "edit_tag",
            ]
        }
        return {
            "status": "restricted",
            "user": user,
            "is_member": is_member,
            "until_date": 0,
            **may,
        }

    def _chat(self, chat_id: int) -> dict[str, Any]:
        """The chat the bot acts in, if Telegram lets it."""
        if chat_id in self.without_bot:
            raise _ApiError(403, "Forbidden: bot is not a member of the supergroup chat")
        if chat_id not in self.chats:
            if chat_id > 0:  # a user's private chat exists once they have written to the bot
                raise _ApiError(403, "Forbidden: bot can't initiate conversation with a user")
            raise _ApiError(400, "Bad Request: chat not found")
        return dict(self.chats[chat_id])

    @staticmethod
    def _check_text(text: str, parse_mode: str | None, limit: int = 4096) -> None:
        if not text.strip():
            raise _ApiError(400, "Bad Request: message text is empty")
        try:
            plain = plain_text(text, parse_mode)
        except ValueError as err:
            raise _ApiError(400, f"Bad Request: can't parse entities: {err}") from None
        if len(plain) > limit:
            raise _ApiError(400, "Bad Request: message is too long")


class _ApiError(Exception):
    def __init__(self, code: int, description: str) -> None:
        super().__init__(description)
        self.code, self.description = code, description


def _error(code: int, description: str, **more: Any) -> web.Response:
    body = {"ok": False, "error_code": code, "description": description, **more}
    return web.json_response(body, status=code)


async def _params(request: web.Request) -> dict[str, Any]:
    """python-telegram-bot sends form fields (JSON for nested values) or multipart; accept JSON
    and query strings too, as the Bot API does."""
    raw: dict[str, Any] = dict(request.query)
    if request.content_type == "application/json":
        raw |= await request.json()
    elif request.can_read_body:
        for key, value in (await request.post()).items():
            raw[key] = value if isinstance(value, str) else value.file.read()  # an upload
    params: dict[str, Any] = {}
    for key, value in raw.items():
        if isinstance(value, str) and value[:1] in "{[":
            with contextlib.suppress(ValueError):
                value = json.loads(value)
        params[key] = value
    return params
